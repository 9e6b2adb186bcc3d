package api

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/impactflow/impactflow/activities/notifications"
	"github.com/impactflow/impactflow/internal/events"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/notify/quota"
	"github.com/impactflow/impactflow/internal/notify/templates"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// Notifications is what the notification routes need beyond the common dependencies.
type Notifications struct {
	Quota *quota.Quota
	// SendGridWebhookKey verifies SendGrid's signed event webhook; nil refuses every call.
	SendGridWebhookKey *ecdsa.PublicKey
	// TwilioAuthToken verifies Twilio's status callbacks; empty refuses every call.
	TwilioAuthToken string
	// PublicURL is the API's base URL as Twilio calls it (Twilio signs the full URL).
	PublicURL string
}

const maxRecipients = 100

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

var channels = []string{"email", "sms", "push"}

// sendRequest is the body of POST /v1/notifications/send and /schedule.
type sendRequest struct {
	Channel    string         `json:"channel"`
	To         []string       `json:"to"`
	Template   string         `json:"template"`
	Data       map[string]any `json:"data"`
	Locale     string         `json:"locale"`
	Subject    string         `json:"subject"`
	Body       string         `json:"body"`
	SendAt     *time.Time     `json:"send_at"`
	Recurrence *recurrence    `json:"recurrence"`
}

// validate checks the request and renders it once, so that a template error is a 400 now
// rather than a failed notification later.
func (r *sendRequest) validate(defaultLocale string) error {
	if !slices.Contains(channels, r.Channel) {
		return badRequest("channel", "channel must be one of email, sms, push")
	}
	if err := checkRecipients(r.Channel, r.To, "to"); err != nil {
		return err
	}
	if r.Locale == "" {
		r.Locale = defaultLocale
	}
	if !slices.Contains(templates.Locales, r.Locale) {
		return badRequest("locale", "locale must be one of %s", strings.Join(templates.Locales, ", "))
	}
	if r.Template != "" {
		if r.Subject != "" || r.Body != "" {
			return badRequest("template", "give a template and its data, or a subject and body, not both")
		}
		if !slices.Contains(templates.Names, r.Template) {
			return badRequest("template", "template must be one of %s", strings.Join(templates.Names, ", "))
		}
		// text/template's own error ("map has no entry for key") is Go talk: name what is missing.
		vars := templates.Variables(r.Template)
		var missing []string
		for _, v := range vars {
			if _, ok := r.Data[v]; !ok {
				missing = append(missing, v)
			}
		}
		message := ""
		if len(missing) > 0 {
			message = fmt.Sprintf("data is missing %s, which the %s template uses", strings.Join(missing, ", "), r.Template)
		} else if _, err := templates.Render(r.Template, r.Locale, r.Data); err != nil {
			message = fmt.Sprintf("data does not fit the %s template", r.Template)
		}
		if message != "" {
			return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: message,
				Details: map[string]any{"field": "data", "variables": vars}}
		}
		return nil
	}
	if r.Data != nil {
		return badRequest("data", "data is only used with a template")
	}
	if strings.TrimSpace(r.Body) == "" {
		return badRequest("body", "body is required without a template")
	}
	if r.Channel == "email" && strings.TrimSpace(r.Subject) == "" {
		return badRequest("subject", "subject is required for an email without a template")
	}
	return nil
}

// checkRecipients checks each address for the channel; field names the list in errors.
func checkRecipients(channel string, to []string, field string) error {
	if len(to) == 0 || len(to) > maxRecipients {
		return badRequest(field, "%s must list 1-%d recipients", field, maxRecipients)
	}
	seen := map[string]bool{}
	for i, addr := range to {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch channel {
		case "email":
			if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
				return badRequest(f, "%s is not an email address", f)
			}
		case "sms":
			if !e164.MatchString(addr) {
				return badRequest(f, "%s must be an E.164 phone number such as +14155550100", f)
			}
		case "push":
			if addr == "" || len(addr) > 4096 {
				return badRequest(f, "%s must be a device registration token", f)
			}
		}
		if seen[addr] {
			return badRequest(f, "%s repeats a recipient", f)
		}
		seen[addr] = true
	}
	return nil
}

func (r *sendRequest) input(tenant, id string) workflows.NotificationInput {
	return workflows.NotificationInput{TenantID: tenant, NotificationID: id, Channel: r.Channel, Recipients: r.To,
		Template: r.Template, Locale: r.Locale, Data: r.Data, Subject: r.Subject, Body: r.Body, SendAt: r.SendAt,
		Version: workflows.NotificationVersionFolded}
}

func (s *Server) notifySend(c *gin.Context) {
	var req sendRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.SendAt != nil || req.Recurrence != nil {
		s.fail(c, badRequest("send_at", "send_at and recurrence belong to POST /v1/notifications/schedule"))
		return
	}
	s.startNotification(c, req)
}

func (s *Server) notifySchedule(c *gin.Context) {
	var req sendRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	switch {
	case req.SendAt != nil && req.Recurrence != nil:
		s.fail(c, badRequest("recurrence", "give send_at or recurrence, not both"))
	case req.Recurrence != nil:
		s.createSchedule(c, req)
	case req.SendAt == nil:
		s.fail(c, badRequest("send_at", "send_at or recurrence is required"))
	case req.SendAt.After(time.Now().Add(366 * 24 * time.Hour)):
		s.fail(c, badRequest("send_at", "send_at must be within a year"))
	default:
		s.startNotification(c, req)
	}
}

// startNotification records the notification and starts its workflow. A send due now
// takes its quota here (429 when spent); the workflow's own check at send time finds the
// same message keys counted and does not count them twice.
func (s *Server) startNotification(c *gin.Context, req sendRequest) {
	ctx := c.Request.Context()
	tenantID := mustPrincipal(c).TenantID
	// The tenant and its limit on the channel in one query (the channel is checked next).
	tenant, limit, ok, err := s.store.TenantQuota(ctx, tenantID, req.Channel)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		limit = quota.DefaultLimits[req.Channel]
	}
	if err := req.validate(tenant.DefaultLocale); err != nil {
		s.fail(c, err)
		return
	}
	id, err := jobID(c, jobs.KindNotification, tenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	dueNow := req.SendAt == nil || !req.SendAt.After(time.Now())
	var release func()
	if dueNow {
		if release, err = s.reserveQuota(c, tenant, req.Channel, limit, id, len(req.To)); err != nil {
			s.fail(c, err)
			return
		}
	}
	job, err := s.jobs.Start(ctx, tenantID, id, jobs.StartOptions{
		TaskQueue: temporal.TaskQueueNotifications, Workflow: workflows.NotificationWorkflow, Input: req.input(tenantID, id),
	})
	if err != nil {
		// Not started: give the reservation back. A workflow started by an earlier attempt
		// takes its messages' quota again at send time, so nothing is counted twice or missed.
		if release != nil {
			release()
		}
		s.fail(c, err)
		return
	}
	// Recorded here so that GET /v1/notifications/:id answers at once; the workflow records
	// the same row itself (idempotently) in case this write fails, so it is not an error here.
	status := workflows.NotificationSending
	if !dueNow {
		status = workflows.NotificationScheduled
	}
	_, _ = s.store.CreateNotification(ctx, store.Notification{ID: id, TenantID: tenantID, Channel: req.Channel,
		Template: req.Template, Locale: req.Locale, Recipients: req.To, Subject: req.Subject, Status: status, SendAt: req.SendAt})
	accepted(c, job)
}

// reserveQuota takes quota for the notification's messages; release gives it back.
func (s *Server) reserveQuota(c *gin.Context, tenant store.Tenant, channel string, limit int64, id string, n int) (release func(), err error) {
	ctx := c.Request.Context()
	if s.notify.Quota == nil {
		return nil, errNotificationsOff
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = store.MessageKey(id, i)
	}
	w := quota.Window{TenantID: tenant.ID, Channel: channel, Location: notifications.Location(tenant.Timezone), Now: time.Now()}
	d, err := s.notify.Quota.Take(ctx, w, limit, keys...)
	if err != nil {
		return nil, quotaUnavailable(err)
	}
	if !d.Allowed {
		retry := max(1, int(time.Until(d.ResetAt).Seconds()+0.5))
		c.Header("Retry-After", strconv.Itoa(retry))
		return nil, &apiError{Status: http.StatusTooManyRequests, Code: "quota_exceeded",
			Message: fmt.Sprintf("the daily %s quota of %d is spent (%d used); it resets at %s", channel, d.Limit, d.Used, d.ResetAt.Format(time.RFC3339)),
			Details: map[string]any{"channel": channel, "limit": d.Limit, "used": d.Used, "remaining": d.Remaining, "reset_at": d.ResetAt}}
	}
	return func() { _ = s.notify.Quota.Release(context.WithoutCancel(ctx), w, keys...) }, nil
}

// errNotificationsOff answers when the process was built without notification quotas.
var errNotificationsOff = &apiError{Status: http.StatusServiceUnavailable, Code: "dependency_unavailable",
	Message: "notifications are not configured in this process", Details: map[string]string{"dependency": "redis"}}

func quotaUnavailable(err error) error {
	return &apiError{Status: http.StatusServiceUnavailable, Code: "dependency_unavailable",
		Message: "Redis (quotas) is unavailable; nothing was sent, try again", Details: map[string]string{"dependency": "redis", "cause": errors.Unwrap(err).Error()}}
}

func (s *Server) notifyCancel(c *gin.Context) {
	ctx := c.Request.Context()
	tenantID := mustPrincipal(c).TenantID
	id := c.Param("id")
	if isScheduleID(id) {
		s.deleteSchedule(c, tenantID, id)
		return
	}
	n, err := s.store.Notification(ctx, tenantID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	switch n.Status {
	case workflows.NotificationSent, workflows.NotificationPartiallySent, workflows.NotificationFailed:
		s.fail(c, &apiError{Status: http.StatusConflict, Code: "conflict", Message: "the notification was already " + n.Status})
		return
	}
	if err := s.temporal.CancelWorkflow(ctx, id, ""); err != nil && !isTemporalNotFound(err) {
		s.fail(c, err)
		return
	}
	// The workflow records "canceled" once it has stopped; until then the stored status stands.
	c.JSON(http.StatusAccepted, n)
}

func (s *Server) notifyGet(c *gin.Context) {
	n, err := s.store.Notification(c.Request.Context(), mustPrincipal(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, n)
}

type notificationPage struct {
	Notifications []store.Notification `json:"notifications"`
	NextPageToken string               `json:"next_page_token,omitempty"`
}

func (s *Server) notifyHistory(c *gin.Context) {
	f := store.NotificationFilter{Channel: c.Query("channel"), Status: c.Query("status"), Template: c.Query("template"),
		Recipient: c.Query("recipient")}
	if f.Channel != "" && !slices.Contains(channels, f.Channel) {
		s.fail(c, badRequest("channel", "channel must be one of email, sms, push"))
		return
	}
	for _, p := range []struct {
		name string
		into *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := c.Query(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				s.fail(c, badRequest(p.name, "%s must be an RFC 3339 time", p.name))
				return
			}
			*p.into = t
		}
	}
	var err error
	if f.Limit, err = pageSize(c); err != nil {
		s.fail(c, err)
		return
	}
	if tok := c.Query("page_token"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		at, id, ok := strings.Cut(string(raw), "|")
		t, terr := time.Parse(time.RFC3339Nano, at)
		if err != nil || !ok || terr != nil || id == "" {
			s.fail(c, badRequest("page_token", "page_token is not a token this API issued"))
			return
		}
		f.AfterCreated, f.AfterID = t, id
	}
	list, err := s.store.ListNotifications(c.Request.Context(), mustPrincipal(c).TenantID, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	page := notificationPage{Notifications: list}
	if page.Notifications == nil {
		page.Notifications = []store.Notification{}
	}
	if len(list) == f.Limit {
		last := list[len(list)-1]
		page.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.Format(time.RFC3339Nano) + "|" + last.ID))
	}
	c.JSON(http.StatusOK, page)
}

type channelQuota struct {
	Channel   string    `json:"channel"`
	Limit     int64     `json:"limit"`
	Used      int64     `json:"used"`
	Remaining int64     `json:"remaining"`
	ResetAt   time.Time `json:"reset_at"`
}

func (s *Server) notifyQuota(c *gin.Context) {
	ctx := c.Request.Context()
	if s.notify.Quota == nil {
		s.fail(c, errNotificationsOff)
		return
	}
	tenant, err := s.store.Tenant(ctx, mustPrincipal(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]channelQuota, 0, len(channels))
	for _, ch := range channels {
		limit, err := notifications.Limit(ctx, s.store, tenant.ID, ch)
		if err != nil {
			s.fail(c, err)
			return
		}
		d, err := s.notify.Quota.Usage(ctx, quota.Window{TenantID: tenant.ID, Channel: ch, Location: notifications.Location(tenant.Timezone), Now: time.Now()}, limit)
		if err != nil {
			s.fail(c, quotaUnavailable(err))
			return
		}
		out = append(out, channelQuota{Channel: ch, Limit: d.Limit, Used: d.Used, Remaining: d.Remaining, ResetAt: d.ResetAt})
	}
	c.JSON(http.StatusOK, gin.H{"timezone": tenant.Timezone, "channels": out})
}

type setQuotaRequest struct {
	DailyLimit *int64 `json:"daily_limit"`
}

func (s *Server) notifySetQuota(c *gin.Context) {
	ch := c.Param("channel")
	if !slices.Contains(channels, ch) {
		s.fail(c, badRequest("channel", "channel must be one of email, sms, push"))
		return
	}
	var req setQuotaRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.DailyLimit == nil || *req.DailyLimit < 0 || *req.DailyLimit > 10_000_000 {
		s.fail(c, badRequest("daily_limit", "daily_limit must be between 0 and 10000000"))
		return
	}
	if err := s.store.SetQuotaLimit(c.Request.Context(), mustPrincipal(c).TenantID, ch, *req.DailyLimit); err != nil {
		s.fail(c, err)
		return
	}
	s.notifyQuota(c)
}

func (s *Server) notifyPreview(c *gin.Context) {
	name := c.Param("name")
	if !slices.Contains(templates.Names, name) {
		s.fail(c, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no template " + name})
		return
	}
	locale := c.DefaultQuery("locale", "en")
	if !slices.Contains(templates.Locales, locale) {
		s.fail(c, badRequest("locale", "locale must be one of %s", strings.Join(templates.Locales, ", ")))
		return
	}
	data, _ := templates.Sample(name)
	r, err := templates.Render(name, locale, data)
	if err != nil {
		s.fail(c, err)
		return
	}
	if c.Query("format") == "html" {
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(r.HTML))
		return
	}
	c.JSON(http.StatusOK, gin.H{"template": name, "locale": locale, "variables": templates.Variables(name), "sample_data": data,
		"subject": r.Subject, "html": r.HTML, "text": r.Text})
}

// eventRequest is the body of POST /v1/events.
type eventRequest struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	OccurredAt *time.Time     `json:"occurred_at"`
	Data       map[string]any `json:"data"`
}

func (s *Server) postEvent(c *gin.Context) {
	var req eventRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if !slices.Contains(events.Types, req.Type) {
		s.fail(c, badRequest("type", "type must be one of %s", strings.Join(events.Types, ", ")))
		return
	}
	if len(req.ID) > maxIdempotencyKey || (req.ID != "" && !printable(req.ID)) {
		s.fail(c, badRequest("id", "id must be 1-%d printable ASCII characters", maxIdempotencyKey))
		return
	}
	tenant := mustPrincipal(c).TenantID
	key := req.ID
	if key == "" {
		key = c.GetHeader("Idempotency-Key")
	}
	if key == "" {
		key = jobs.NewID("event")
	}
	ev := events.Event{ID: events.IDFor(tenant, req.Type, key), TenantID: tenant, Type: req.Type, OccurredAt: time.Now().UTC(), Data: req.Data}
	if req.OccurredAt != nil {
		ev.OccurredAt = req.OccurredAt.UTC()
	}
	if err := (events.Emitter{Client: s.temporal}).Emit(c.Request.Context(), ev); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"event_id": ev.ID, "type": ev.Type, "workflow_id": events.WorkflowID(ev)})
}

type ruleRequest struct {
	EventType  string   `json:"event_type"`
	Channel    string   `json:"channel"`
	Template   string   `json:"template"`
	Locale     string   `json:"locale"`
	Recipients []string `json:"recipients"`
	Enabled    *bool    `json:"enabled"`
}

func (s *Server) createRule(c *gin.Context) {
	var req ruleRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if !slices.Contains(events.Types, req.EventType) {
		s.fail(c, badRequest("event_type", "event_type must be one of %s", strings.Join(events.Types, ", ")))
		return
	}
	if !slices.Contains(templates.Names, req.Template) {
		s.fail(c, badRequest("template", "template must be one of %s", strings.Join(templates.Names, ", ")))
		return
	}
	if req.Locale != "" && !slices.Contains(templates.Locales, req.Locale) {
		s.fail(c, badRequest("locale", "locale must be one of %s", strings.Join(templates.Locales, ", ")))
		return
	}
	if !slices.Contains(channels, req.Channel) {
		s.fail(c, badRequest("channel", "channel must be one of email, sms, push"))
		return
	}
	if err := checkRecipients(req.Channel, req.Recipients, "recipients"); err != nil {
		s.fail(c, err)
		return
	}
	enabled := req.Enabled == nil || *req.Enabled
	r, err := s.store.CreateRule(c.Request.Context(), store.NotificationRule{TenantID: mustPrincipal(c).TenantID, EventType: req.EventType,
		Channel: req.Channel, Template: req.Template, Locale: req.Locale, Recipients: req.Recipients, Enabled: enabled})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, r)
}

func (s *Server) listRules(c *gin.Context) {
	rules, err := s.store.Rules(c.Request.Context(), mustPrincipal(c).TenantID, "")
	if err != nil {
		s.fail(c, err)
		return
	}
	if rules == nil {
		rules = []store.NotificationRule{}
	}
	c.JSON(http.StatusOK, gin.H{"rules": rules})
}

func (s *Server) deleteRule(c *gin.Context) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		s.fail(c, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such resource"})
		return
	}
	if err := s.store.DeleteRule(c.Request.Context(), mustPrincipal(c).TenantID, id); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func isTemporalNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
