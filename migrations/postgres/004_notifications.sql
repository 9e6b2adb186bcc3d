-- Notifications: what was asked, each message to each recipient, the provider's delivery
-- events, the outbox (email stored instead of sent), suppressed addresses, per-tenant
-- quotas and the event-trigger rules. Timing, retries and audit history live in Temporal.

CREATE TABLE notifications (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    channel          text NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
    template         text NOT NULL DEFAULT '',
    locale           text NOT NULL DEFAULT 'en',
    recipients       text[] NOT NULL,
    subject          text NOT NULL DEFAULT '',
    status           text NOT NULL CHECK (status IN ('scheduled', 'sending', 'deferred', 'sent',
                                                     'partially_sent', 'failed', 'canceled')),
    send_at          timestamptz,
    schedule_id      text,
    trigger_event_id text,
    error            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz
);
CREATE INDEX notifications_tenant_created ON notifications (tenant_id, created_at DESC, id DESC);

-- One row per recipient. message_key is stable across retries and resets.
CREATE TABLE notification_messages (
    message_key         text PRIMARY KEY,
    notification_id     text NOT NULL REFERENCES notifications (id),
    tenant_id           text NOT NULL,
    recipient           text NOT NULL,
    status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'suppressed', 'failed',
                                    'delivered', 'bounced', 'dropped', 'spamreport', 'unsubscribed', 'undelivered')),
    provider            text NOT NULL DEFAULT '',
    provider_message_id text NOT NULL DEFAULT '',
    error               text NOT NULL DEFAULT '',
    sent_at             timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_messages_notification ON notification_messages (notification_id);
CREATE INDEX notification_messages_provider_id ON notification_messages (provider_message_id) WHERE provider_message_id <> '';
CREATE INDEX notification_messages_recipient ON notification_messages (tenant_id, recipient);

-- Delivery events from the providers' signed webhooks; provider_event_id makes a redelivered
-- webhook a no-op.
CREATE TABLE notification_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         text NOT NULL,
    notification_id   text NOT NULL REFERENCES notifications (id),
    message_key       text NOT NULL,
    provider          text NOT NULL,
    provider_event_id text NOT NULL,
    event             text NOT NULL,
    recipient         text NOT NULL DEFAULT '',
    reason            text NOT NULL DEFAULT '',
    occurred_at       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_event_id)
);
CREATE INDEX notification_events_notification ON notification_events (notification_id, occurred_at);

-- Email that was stored instead of sent (no SENDGRID_API_KEY).
CREATE TABLE notification_outbox (
    message_key     text PRIMARY KEY,
    notification_id text NOT NULL,
    tenant_id       text NOT NULL,
    channel         text NOT NULL,
    recipient       text NOT NULL,
    subject         text NOT NULL,
    html            text NOT NULL,
    text            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_outbox_notification ON notification_outbox (notification_id);

-- Addresses a tenant must not send to again (bounced, unsubscribed, reported spam).
CREATE TABLE notification_suppressions (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    channel    text NOT NULL,
    address    text NOT NULL,
    reason     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, channel, address)
);

-- A tenant's own daily limit per channel; without a row the default applies.
CREATE TABLE notification_quotas (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    channel     text NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
    daily_limit bigint NOT NULL CHECK (daily_limit >= 0),
    PRIMARY KEY (tenant_id, channel)
);

-- Which notification an event starts, per tenant.
CREATE TABLE notification_rules (
    id         uuid PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    event_type text NOT NULL,
    channel    text NOT NULL CHECK (channel IN ('email', 'sms', 'push')),
    template   text NOT NULL,
    locale     text NOT NULL DEFAULT '',
    recipients text[] NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_rules_event ON notification_rules (tenant_id, event_type) WHERE enabled;

-- Recurring notifications: the Temporal Schedule is the source of truth for timing and
-- state; this row scopes it to its tenant and keeps what it sends.
CREATE TABLE notification_schedules (
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id),
    spec       jsonb NOT NULL,
    request    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX notification_schedules_tenant ON notification_schedules (tenant_id, created_at DESC) WHERE deleted_at IS NULL;
