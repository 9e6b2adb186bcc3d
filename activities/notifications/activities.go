// Package notifications holds the activities of NotificationWorkflow and
// EventTriggerWorkflow: thin adapters from Temporal to internal/notify (templates, quotas,
// providers) and internal/store (notification records). They map provider refusals to
// non-retryable errors and keep every write idempotent by the message key.
package notifications

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/events"
	"github.com/impactflow/impactflow/internal/notify/providers"
	"github.com/impactflow/impactflow/internal/notify/quota"
	"github.com/impactflow/impactflow/internal/notify/templates"
	"github.com/impactflow/impactflow/internal/store"
)

// Error types the workflow does not retry.
const (
	ErrTypeTemplate         = "TemplateError"
	ErrTypeProviderRejected = "ProviderRejected"
	ErrTypeOverDailyLimit   = "OverDailyLimit"
)

// Message statuses a send ends in.
const (
	StatusSent       = "sent"
	StatusSuppressed = "suppressed"
	StatusFailed     = "failed"
)

// Activities sends notifications.
type Activities struct {
	Store   *store.Store
	Quota   *quota.Quota
	Senders providers.Channels
}

// Limit is the tenant's daily limit on channel: its own, else the default.
func Limit(ctx context.Context, st *store.Store, tenantID, channel string) (int64, error) {
	limit, ok, err := st.QuotaLimit(ctx, tenantID, channel)
	if err != nil {
		return 0, fmt.Errorf("load quota limit: %w", err)
	}
	if !ok {
		limit = quota.DefaultLimits[channel]
	}
	return limit, nil
}

// locations caches time zones by name: time.LoadLocation reads and parses the zone file on
// every call, and every quota check (API and send) needs the tenant's.
var locations sync.Map // name → *time.Location

// Location is the tenant's time zone (UTC when it names none we know).
func Location(tz string) *time.Location {
	if loc, ok := locations.Load(tz); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	locations.Store(tz, loc)
	return loc
}

// Begin records the notification and its pending messages, once.
func (a *Activities) Begin(ctx context.Context, n store.Notification) error {
	if _, err := a.Store.CreateNotification(ctx, n); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return temporal.NewNonRetryableApplicationError(err.Error(), "Conflict", nil)
		}
		return fmt.Errorf("record notification: %w", err)
	}
	return nil
}

// StatusInput moves a notification to a status.
type StatusInput struct {
	NotificationID string `json:"notification_id"`
	Status         string `json:"status"`
	Error          string `json:"error,omitempty"`
}

// SetStatus records the notification's status.
func (a *Activities) SetStatus(ctx context.Context, in StatusInput) error {
	if err := a.Store.SetNotificationStatus(ctx, in.NotificationID, in.Status, in.Error); err != nil {
		return fmt.Errorf("set notification status: %w", err)
	}
	return nil
}

// RenderInput names a template and its data, or carries a caller's own subject and body.
type RenderInput struct {
	Template string         `json:"template,omitempty"`
	Locale   string         `json:"locale"`
	Data     map[string]any `json:"data,omitempty"`
	Subject  string         `json:"subject,omitempty"`
	Body     string         `json:"body,omitempty"`
}

// Render renders the message; a missing variable or unknown template is permanent.
func (a *Activities) Render(_ context.Context, in RenderInput) (templates.Rendered, error) {
	if in.Template == "" {
		r, err := templates.RenderPlain(in.Subject, in.Body)
		if err != nil {
			return templates.Rendered{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeTemplate, nil)
		}
		return r, nil
	}
	r, err := templates.Render(in.Template, in.Locale, in.Data)
	if err != nil {
		return templates.Rendered{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeTemplate, nil)
	}
	return r, nil
}

// QuotaInput asks for quota for a notification's messages.
type QuotaInput struct {
	TenantID    string   `json:"tenant_id"`
	Channel     string   `json:"channel"`
	MessageKeys []string `json:"message_keys"`
}

// TakeQuota counts the messages against today's quota in the tenant's time zone. Redis
// being down fails the activity, retryably: the send waits, it never skips the check.
// One Postgres query (tenant and limit) and one Redis script call.
func (a *Activities) TakeQuota(ctx context.Context, in QuotaInput) (quota.Decision, error) {
	t, limit, ok, err := a.Store.TenantQuota(ctx, in.TenantID, in.Channel)
	if err != nil {
		return quota.Decision{}, fmt.Errorf("load tenant and quota: %w", err)
	}
	if !ok {
		limit = quota.DefaultLimits[in.Channel]
	}
	if int64(len(in.MessageKeys)) > limit {
		return quota.Decision{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%d recipients exceed the daily %s limit of %d", len(in.MessageKeys), in.Channel, limit), ErrTypeOverDailyLimit, nil)
	}
	w := quota.Window{TenantID: in.TenantID, Channel: in.Channel, Location: Location(t.Timezone), Now: time.Now()}
	return a.Quota.Take(ctx, w, limit, in.MessageKeys...)
}

// PrepareInput is the work before a send, done by one local activity: record the
// notification (when Record is set: a send due at once), render, take quota.
type PrepareInput struct {
	Record *store.Notification `json:"record,omitempty"`
	Render RenderInput         `json:"render"`
	Quota  QuotaInput          `json:"quota"`
}

// Prepared is the rendered message and the quota decision.
type Prepared struct {
	Rendered templates.Rendered `json:"rendered"`
	Quota    quota.Decision     `json:"quota"`
}

// Prepare records, renders and takes quota in one activity: one history marker and, for a
// send due now, two Postgres statements and one Redis call in all. Each step is idempotent
// (the record by notification ID, the quota by message key), so a retry repeats none of
// their effects. A template error or a notification over the whole daily limit is
// permanent; the workflow tells them apart by the error type.
func (a *Activities) Prepare(ctx context.Context, in PrepareInput) (Prepared, error) {
	if in.Record != nil {
		if err := a.Begin(ctx, *in.Record); err != nil {
			return Prepared{}, err
		}
	}
	r, err := a.Render(ctx, in.Render)
	if err != nil {
		return Prepared{}, err
	}
	d, err := a.TakeQuota(ctx, in.Quota)
	if err != nil {
		return Prepared{}, err
	}
	return Prepared{Rendered: r, Quota: d}, nil
}

// SendInput is one message to one recipient.
type SendInput struct {
	Message providers.Message `json:"message"`
}

// SendResult is how the send ended.
type SendResult struct {
	Status            string `json:"status"`
	Provider          string `json:"provider,omitempty"`
	ProviderMessageID string `json:"provider_message_id,omitempty"`
	Error             string `json:"error,omitempty"`
}

// Send sends one message unless it was already sent (a retried or reset workflow finds the
// recorded result instead of sending again) or the address is suppressed. A provider's
// refusal is recorded and permanent; anything else is retried by the RetryPolicy.
func (a *Activities) Send(ctx context.Context, in SendInput) (SendResult, error) {
	m := in.Message
	rec, err := a.Store.MessageForSend(ctx, m.Key, m.TenantID, m.Channel, m.To)
	if err != nil {
		return SendResult{}, fmt.Errorf("load message %s: %w", m.Key, err)
	}
	if rec.Status != "pending" && rec.Status != StatusFailed {
		// Sent before, or a webhook already moved it on (delivered, bounced...).
		return SendResult{Status: StatusSent, Provider: rec.Provider, ProviderMessageID: rec.ProviderMessageID}, nil
	}
	if rec.Suppressed {
		res := SendResult{Status: StatusSuppressed, Error: "address suppressed: " + rec.SuppressedReason}
		return res, a.record(ctx, m.Key, res)
	}
	out, err := a.Senders.Send(ctx, m)
	if err != nil {
		if providers.IsRetryable(err) {
			return SendResult{}, err
		}
		res := SendResult{Status: StatusFailed, Error: err.Error()}
		if rerr := a.record(ctx, m.Key, res); rerr != nil {
			return SendResult{}, rerr
		}
		return SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeProviderRejected, nil)
	}
	res := SendResult{Status: StatusSent, Provider: out.Provider, ProviderMessageID: out.MessageID}
	return res, a.record(ctx, m.Key, res)
}

func (a *Activities) record(ctx context.Context, key string, res SendResult) error {
	err := a.Store.RecordMessage(ctx, store.NotificationMessage{Key: key, Status: res.Status, Provider: res.Provider,
		ProviderMessageID: res.ProviderMessageID, Error: res.Error})
	if err != nil {
		return fmt.Errorf("record message %s: %w", key, err)
	}
	return nil
}

// Trigger is one notification an event starts.
type Trigger struct {
	RuleID     string         `json:"rule_id"`
	Channel    string         `json:"channel"`
	Template   string         `json:"template"`
	Locale     string         `json:"locale"`
	Recipients []string       `json:"recipients"`
	Data       map[string]any `json:"data"`
}

// MatchRules returns the notifications the tenant's rules start for the event. The
// template data is the event's data plus the tenant's name.
func (a *Activities) MatchRules(ctx context.Context, ev events.Event) ([]Trigger, error) {
	t, err := a.Store.Tenant(ctx, ev.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError("unknown tenant "+ev.TenantID, "UnknownTenant", nil)
	}
	if err != nil {
		return nil, fmt.Errorf("load tenant: %w", err)
	}
	rules, err := a.Store.Rules(ctx, ev.TenantID, ev.Type)
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	out := make([]Trigger, 0, len(rules))
	for _, r := range rules {
		data := map[string]any{"tenant_name": t.Name}
		for k, v := range ev.Data {
			data[k] = v
		}
		locale := r.Locale
		if locale == "" {
			locale = t.DefaultLocale
		}
		out = append(out, Trigger{RuleID: r.ID.String(), Channel: r.Channel, Template: r.Template, Locale: locale,
			Recipients: r.Recipients, Data: data})
	}
	return out, nil
}

// Outbox adapts the store to the outbox provider.
type Outbox struct{ Store *store.Store }

// PutOutbox stores the message.
func (o Outbox) PutOutbox(ctx context.Context, m providers.Message) error {
	return o.Store.PutOutbox(ctx, store.OutboxMessage{MessageKey: m.Key, NotificationID: m.NotificationID, TenantID: m.TenantID,
		Channel: m.Channel, Recipient: m.To, Subject: m.Subject, HTML: m.HTML, Text: m.Text})
}
