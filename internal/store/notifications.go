package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Notification is one request to send a message to one or more recipients on one channel.
type Notification struct {
	ID             string                `json:"id"`
	TenantID       string                `json:"tenant_id"`
	Channel        string                `json:"channel"`
	Template       string                `json:"template,omitempty"`
	Locale         string                `json:"locale"`
	Recipients     []string              `json:"recipients"`
	Subject        string                `json:"subject,omitempty"`
	Status         string                `json:"status"`
	SendAt         *time.Time            `json:"send_at,omitempty"`
	ScheduleID     string                `json:"schedule_id,omitempty"`
	TriggerEventID string                `json:"trigger_event_id,omitempty"`
	Error          string                `json:"error,omitempty"`
	CreatedAt      time.Time             `json:"created_at"`
	UpdatedAt      time.Time             `json:"updated_at"`
	SentAt         *time.Time            `json:"sent_at,omitempty"`
	Messages       []NotificationMessage `json:"messages,omitempty"`
	Events         []DeliveryEvent       `json:"events,omitempty"`
	Outbox         []OutboxMessage       `json:"outbox,omitempty"`
}

// NotificationMessage is the message to one recipient of a notification.
type NotificationMessage struct {
	Key               string     `json:"message_key"`
	NotificationID    string     `json:"-"`
	TenantID          string     `json:"-"`
	Recipient         string     `json:"recipient"`
	Status            string     `json:"status"`
	Provider          string     `json:"provider,omitempty"`
	ProviderMessageID string     `json:"provider_message_id,omitempty"`
	Error             string     `json:"error,omitempty"`
	SentAt            *time.Time `json:"sent_at,omitempty"`
}

// DeliveryEvent is what a provider's webhook said about a message.
type DeliveryEvent struct {
	NotificationID  string    `json:"-"`
	TenantID        string    `json:"-"`
	MessageKey      string    `json:"message_key"`
	Provider        string    `json:"provider"`
	ProviderEventID string    `json:"provider_event_id"`
	Event           string    `json:"event"`
	Recipient       string    `json:"recipient,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	OccurredAt      time.Time `json:"occurred_at"`
}

// OutboxMessage is an email stored instead of sent.
type OutboxMessage struct {
	MessageKey     string    `json:"message_key"`
	NotificationID string    `json:"-"`
	TenantID       string    `json:"-"`
	Channel        string    `json:"channel"`
	Recipient      string    `json:"recipient"`
	Subject        string    `json:"subject"`
	HTML           string    `json:"html"`
	Text           string    `json:"text"`
	CreatedAt      time.Time `json:"created_at"`
}

// MessageKey is the stable key of a notification's message to its i-th recipient.
func MessageKey(notificationID string, i int) string { return fmt.Sprintf("%s/%d", notificationID, i) }

const notificationColumns = `id, tenant_id, channel, template, locale, recipients, subject, status, send_at,
	coalesce(schedule_id, ''), coalesce(trigger_event_id, ''), error, created_at, updated_at, sent_at`

func scanNotification(row pgx.Row) (Notification, error) {
	var n Notification
	err := row.Scan(&n.ID, &n.TenantID, &n.Channel, &n.Template, &n.Locale, &n.Recipients, &n.Subject, &n.Status, &n.SendAt,
		&n.ScheduleID, &n.TriggerEventID, &n.Error, &n.CreatedAt, &n.UpdatedAt, &n.SentAt)
	return n, err
}

// CreateNotification records a notification and its pending messages, once, in one
// statement (one round trip): creating an ID that exists changes nothing and returns
// created false. The same ID in another tenant is a conflict.
func (s *Store) CreateNotification(ctx context.Context, n Notification) (created bool, err error) {
	var owner string
	err = s.pool.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO notifications (id, tenant_id, channel, template, locale, recipients, subject, status, send_at, schedule_id, trigger_event_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, nullif($10, ''), nullif($11, ''))
			ON CONFLICT (id) DO NOTHING
			RETURNING id, tenant_id),
		msgs AS (
			INSERT INTO notification_messages (message_key, notification_id, tenant_id, recipient)
			SELECT ins.id || '/' || (r.ord - 1), ins.id, ins.tenant_id, r.recipient
			FROM ins, unnest($6::text[]) WITH ORDINALITY AS r (recipient, ord))
		SELECT tenant_id, true FROM ins
		UNION ALL
		SELECT tenant_id, false FROM notifications WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ins)`,
		n.ID, n.TenantID, n.Channel, n.Template, n.Locale, n.Recipients, n.Subject, n.Status, n.SendAt, n.ScheduleID, n.TriggerEventID).
		Scan(&owner, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another transaction created it while this statement waited on the conflict; the
		// row committed after this statement's snapshot, so a new statement sees it.
		err = s.pool.QueryRow(ctx, `SELECT tenant_id FROM notifications WHERE id = $1`, n.ID).Scan(&owner)
	}
	if err != nil {
		return false, err
	}
	if owner != n.TenantID {
		return false, fmt.Errorf("%w: notification %s belongs to another tenant", ErrConflict, n.ID)
	}
	return created, nil
}

// TenantQuota is the tenant and its own daily limit on channel (ok false when it has
// none), in one query.
func (s *Store) TenantQuota(ctx context.Context, tenantID, channel string) (t Tenant, limit int64, ok bool, err error) {
	var l *int64
	err = s.pool.QueryRow(ctx, `
		SELECT t.id, t.name, t.industry, t.region, t.size_band, t.timezone, t.default_locale, t.created_at, q.daily_limit
		FROM tenants t LEFT JOIN notification_quotas q ON q.tenant_id = t.id AND q.channel = $2
		WHERE t.id = $1`, tenantID, channel).
		Scan(&t.ID, &t.Name, &t.Industry, &t.Region, &t.SizeBand, &t.Timezone, &t.DefaultLocale, &t.CreatedAt, &l)
	if err != nil {
		return Tenant{}, 0, false, notFound(err)
	}
	if l != nil {
		return t, *l, true, nil
	}
	return t, 0, false, nil
}

// MessageToSend is a message's recorded outcome and, when its address is suppressed for
// the tenant and channel, why.
type MessageToSend struct {
	NotificationMessage
	SuppressedReason string
	Suppressed       bool
}

// MessageForSend reads a message and its address's suppression in one query.
func (s *Store) MessageForSend(ctx context.Context, key, tenantID, channel, address string) (MessageToSend, error) {
	var m MessageToSend
	var reason *string
	err := s.pool.QueryRow(ctx, `
		SELECT m.message_key, m.notification_id, m.tenant_id, m.recipient, m.status, m.provider, m.provider_message_id, m.error, m.sent_at,
			(SELECT reason FROM notification_suppressions WHERE tenant_id = $2 AND channel = $3 AND address = $4)
		FROM notification_messages m WHERE m.message_key = $1`, key, tenantID, channel, address).
		Scan(&m.Key, &m.NotificationID, &m.TenantID, &m.Recipient, &m.Status, &m.Provider, &m.ProviderMessageID, &m.Error, &m.SentAt, &reason)
	if reason != nil {
		m.Suppressed, m.SuppressedReason = true, *reason
	}
	return m, notFound(err)
}

// SetNotificationStatus moves a notification to status; a closed notification (sent,
// partially_sent, failed, canceled) is not reopened.
func (s *Store) SetNotificationStatus(ctx context.Context, id, status, reason string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE notifications SET status = $2, error = $3, updated_at = now(),
			sent_at = CASE WHEN $2 IN ('sent', 'partially_sent') THEN coalesce(sent_at, now()) ELSE sent_at END
		WHERE id = $1 AND (status NOT IN ('sent', 'partially_sent', 'failed', 'canceled') OR status = $2)`, id, status, reason)
	return err
}

// Message returns one message by its key.
func (s *Store) Message(ctx context.Context, key string) (NotificationMessage, error) {
	var m NotificationMessage
	err := s.pool.QueryRow(ctx, `
		SELECT message_key, notification_id, tenant_id, recipient, status, provider, provider_message_id, error, sent_at
		FROM notification_messages WHERE message_key = $1`, key).
		Scan(&m.Key, &m.NotificationID, &m.TenantID, &m.Recipient, &m.Status, &m.Provider, &m.ProviderMessageID, &m.Error, &m.SentAt)
	return m, notFound(err)
}

// RecordMessage stores the outcome of a send to one recipient.
func (s *Store) RecordMessage(ctx context.Context, m NotificationMessage) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE notification_messages SET status = $2, provider = $3, provider_message_id = $4, error = $5,
			sent_at = CASE WHEN $2 = 'sent' THEN coalesce(sent_at, now()) ELSE sent_at END, updated_at = now()
		WHERE message_key = $1`, m.Key, m.Status, m.Provider, m.ProviderMessageID, m.Error)
	return err
}

// PutOutbox stores an email instead of sending it, once per message key.
func (s *Store) PutOutbox(ctx context.Context, m OutboxMessage) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO notification_outbox (message_key, notification_id, tenant_id, channel, recipient, subject, html, text)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (message_key) DO NOTHING`,
		m.MessageKey, m.NotificationID, m.TenantID, m.Channel, m.Recipient, m.Subject, m.HTML, m.Text)
	return err
}

// Notification returns the tenant's notification with its messages, delivery events and
// outbox copies.
func (s *Store) Notification(ctx context.Context, tenantID, id string) (Notification, error) {
	n, err := scanNotification(s.pool.QueryRow(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	if err != nil {
		return Notification{}, notFound(err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT message_key, recipient, status, provider, provider_message_id, error, sent_at
		FROM notification_messages WHERE notification_id = $1 ORDER BY message_key`, id)
	if err != nil {
		return Notification{}, err
	}
	n.Messages, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (NotificationMessage, error) {
		var m NotificationMessage
		return m, r.Scan(&m.Key, &m.Recipient, &m.Status, &m.Provider, &m.ProviderMessageID, &m.Error, &m.SentAt)
	})
	if err != nil {
		return Notification{}, err
	}
	rows, err = s.pool.Query(ctx, `
		SELECT message_key, provider, provider_event_id, event, recipient, reason, occurred_at
		FROM notification_events WHERE notification_id = $1 ORDER BY occurred_at, id`, id)
	if err != nil {
		return Notification{}, err
	}
	n.Events, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveryEvent, error) {
		var e DeliveryEvent
		return e, r.Scan(&e.MessageKey, &e.Provider, &e.ProviderEventID, &e.Event, &e.Recipient, &e.Reason, &e.OccurredAt)
	})
	if err != nil {
		return Notification{}, err
	}
	rows, err = s.pool.Query(ctx, `
		SELECT message_key, channel, recipient, subject, html, text, created_at
		FROM notification_outbox WHERE notification_id = $1 ORDER BY message_key`, id)
	if err != nil {
		return Notification{}, err
	}
	n.Outbox, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutboxMessage, error) {
		var o OutboxMessage
		return o, r.Scan(&o.MessageKey, &o.Channel, &o.Recipient, &o.Subject, &o.HTML, &o.Text, &o.CreatedAt)
	})
	return n, err
}

// NotificationFilter narrows a history listing; zero fields do not filter.
type NotificationFilter struct {
	Channel, Status, Template, Recipient string
	Since, Until                         time.Time
	// After is the cursor: the (created_at, id) of the last row of the previous page.
	AfterCreated time.Time
	AfterID      string
	Limit        int
}

// ListNotifications returns the tenant's notifications, newest first.
func (s *Store) ListNotifications(ctx context.Context, tenantID string, f NotificationFilter) ([]Notification, error) {
	if f.Limit <= 0 {
		f.Limit = 20
	}
	var since, until, after *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	if f.AfterID != "" {
		after = &f.AfterCreated
	}
	rows, err := s.pool.Query(ctx, `SELECT `+notificationColumns+` FROM notifications n
		WHERE tenant_id = $1
		  AND ($2 = '' OR channel = $2) AND ($3 = '' OR status = $3) AND ($4 = '' OR template = $4)
		  AND ($5 = '' OR $5 = ANY (recipients))
		  AND ($6::timestamptz IS NULL OR created_at >= $6) AND ($7::timestamptz IS NULL OR created_at < $7)
		  AND ($8::timestamptz IS NULL OR (created_at, id) < ($8, $9))
		ORDER BY created_at DESC, id DESC LIMIT $10`,
		tenantID, f.Channel, f.Status, f.Template, f.Recipient, since, until, after, f.AfterID, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) { return scanNotification(r) })
}

// Suppressed returns which of addresses the tenant must not send to on channel.
func (s *Store) Suppressed(ctx context.Context, tenantID, channel string, addresses []string) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT address, reason FROM notification_suppressions
		WHERE tenant_id = $1 AND channel = $2 AND address = ANY ($3)`, tenantID, channel, addresses)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var a, r string
		if err := rows.Scan(&a, &r); err != nil {
			return nil, err
		}
		out[a] = r
	}
	return out, rows.Err()
}

// ApplyDeliveryEvent records a provider's event about a message, once per provider event
// ID, moves the message to the event's status, and suppresses the address when the event
// says to. applied is false for an event already recorded or about no message of ours.
func (s *Store) ApplyDeliveryEvent(ctx context.Context, e DeliveryEvent, messageStatus string, suppress bool) (applied bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	var m NotificationMessage
	err = tx.QueryRow(ctx, `SELECT message_key, notification_id, tenant_id, recipient FROM notification_messages WHERE message_key = $1`, e.MessageKey).
		Scan(&m.Key, &m.NotificationID, &m.TenantID, &m.Recipient)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if e.Recipient == "" {
		e.Recipient = m.Recipient
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO notification_events (tenant_id, notification_id, message_key, provider, provider_event_id, event, recipient, reason, occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (provider, provider_event_id) DO NOTHING`,
		m.TenantID, m.NotificationID, m.Key, e.Provider, e.ProviderEventID, e.Event, e.Recipient, e.Reason, e.OccurredAt)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	if messageStatus != "" {
		if _, err := tx.Exec(ctx, `UPDATE notification_messages SET status = $2, updated_at = now() WHERE message_key = $1`, m.Key, messageStatus); err != nil {
			return false, err
		}
		if _, err := tx.Exec(ctx, `UPDATE notifications SET updated_at = now() WHERE id = $1`, m.NotificationID); err != nil {
			return false, err
		}
	}
	if suppress {
		var channel string
		if err := tx.QueryRow(ctx, `SELECT channel FROM notifications WHERE id = $1`, m.NotificationID).Scan(&channel); err != nil {
			return false, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO notification_suppressions (tenant_id, channel, address, reason) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, m.TenantID, channel, m.Recipient, e.Event); err != nil {
			return false, err
		}
	}
	return true, tx.Commit(ctx)
}

// MessageKeyByProviderID finds our message from the provider's message ID.
func (s *Store) MessageKeyByProviderID(ctx context.Context, provider, providerMessageID string) (string, error) {
	var key string
	err := s.pool.QueryRow(ctx, `SELECT message_key FROM notification_messages WHERE provider = $1 AND provider_message_id = $2`,
		provider, providerMessageID).Scan(&key)
	return key, notFound(err)
}

// QuotaLimit is the tenant's own daily limit on channel; ok is false when it has none.
func (s *Store) QuotaLimit(ctx context.Context, tenantID, channel string) (limit int64, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT daily_limit FROM notification_quotas WHERE tenant_id = $1 AND channel = $2`, tenantID, channel).Scan(&limit)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return limit, err == nil, err
}

// SetQuotaLimit sets the tenant's daily limit on channel.
func (s *Store) SetQuotaLimit(ctx context.Context, tenantID, channel string, limit int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO notification_quotas (tenant_id, channel, daily_limit) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, channel) DO UPDATE SET daily_limit = EXCLUDED.daily_limit`, tenantID, channel, limit)
	return err
}

// NotificationRule says which notification an event type starts for a tenant.
type NotificationRule struct {
	ID         uuid.UUID `json:"id"`
	TenantID   string    `json:"-"`
	EventType  string    `json:"event_type"`
	Channel    string    `json:"channel"`
	Template   string    `json:"template"`
	Locale     string    `json:"locale,omitempty"`
	Recipients []string  `json:"recipients"`
	Enabled    bool      `json:"enabled"`
	CreatedAt  time.Time `json:"created_at"`
}

// CreateRule adds a rule.
func (s *Store) CreateRule(ctx context.Context, r NotificationRule) (NotificationRule, error) {
	r.ID = uuid.New()
	err := s.pool.QueryRow(ctx, `INSERT INTO notification_rules (id, tenant_id, event_type, channel, template, locale, recipients, enabled)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created_at`,
		r.ID, r.TenantID, r.EventType, r.Channel, r.Template, r.Locale, r.Recipients, r.Enabled).Scan(&r.CreatedAt)
	return r, err
}

// Rules lists the tenant's rules; a non-empty eventType keeps the enabled rules for it.
func (s *Store) Rules(ctx context.Context, tenantID, eventType string) ([]NotificationRule, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, tenant_id, event_type, channel, template, locale, recipients, enabled, created_at
		FROM notification_rules WHERE tenant_id = $1 AND ($2 = '' OR (event_type = $2 AND enabled))
		ORDER BY created_at, id`, tenantID, eventType)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (NotificationRule, error) {
		var x NotificationRule
		return x, r.Scan(&x.ID, &x.TenantID, &x.EventType, &x.Channel, &x.Template, &x.Locale, &x.Recipients, &x.Enabled, &x.CreatedAt)
	})
}

// DeleteRule removes one of the tenant's rules.
func (s *Store) DeleteRule(ctx context.Context, tenantID string, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notification_rules WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// NotificationSchedule is a recurring notification's record; Temporal holds its timing.
type NotificationSchedule struct {
	ID        string          `json:"id"`
	TenantID  string          `json:"-"`
	Spec      json.RawMessage `json:"spec"`
	Request   json.RawMessage `json:"request"`
	CreatedAt time.Time       `json:"created_at"`
}

// CreateSchedule records a schedule once; an existing ID returns the stored one.
func (s *Store) CreateSchedule(ctx context.Context, sc NotificationSchedule) (NotificationSchedule, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO notification_schedules (id, tenant_id, spec, request) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO NOTHING`, sc.ID, sc.TenantID, sc.Spec, sc.Request); err != nil {
		return NotificationSchedule{}, err
	}
	return s.Schedule(ctx, sc.TenantID, sc.ID)
}

// Schedule returns one of the tenant's live schedules.
func (s *Store) Schedule(ctx context.Context, tenantID, id string) (NotificationSchedule, error) {
	var sc NotificationSchedule
	err := s.pool.QueryRow(ctx, `SELECT id, tenant_id, spec, request, created_at FROM notification_schedules
		WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL`, id, tenantID).Scan(&sc.ID, &sc.TenantID, &sc.Spec, &sc.Request, &sc.CreatedAt)
	return sc, notFound(err)
}

// Schedules lists the tenant's live schedules, newest first.
func (s *Store) Schedules(ctx context.Context, tenantID string) ([]NotificationSchedule, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, tenant_id, spec, request, created_at FROM notification_schedules
		WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (NotificationSchedule, error) {
		var sc NotificationSchedule
		return sc, r.Scan(&sc.ID, &sc.TenantID, &sc.Spec, &sc.Request, &sc.CreatedAt)
	})
}

// DeleteSchedule marks the schedule deleted.
func (s *Store) DeleteSchedule(ctx context.Context, tenantID, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE notification_schedules SET deleted_at = now() WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL`, id, tenantID)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}
