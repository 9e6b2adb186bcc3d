-- Partner deliveries: the domain record of each delivery, and each tenant's partner
-- credentials, sealed with AES-GCM (internal/secrets). The attempts of a delivery are not
-- here: they are in its workflow's event history.

CREATE TABLE partner_credentials (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    partner    text NOT NULL CHECK (partner IN ('benevity', 'goodera', 'workday')),
    key_id     text NOT NULL,  -- which IMPACTFLOW_SECRET_KEY sealed it, for rotation
    sealed     bytea NOT NULL, -- nonce || AES-256-GCM(credentials JSON), bound to tenant/partner
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, partner)
);

CREATE TABLE deliveries (
    id               text PRIMARY KEY, -- the job and workflow ID (delivery-<uuid>), also the partner's idempotency key
    tenant_id        text NOT NULL REFERENCES tenants (id),
    partner          text NOT NULL CHECK (partner IN ('benevity', 'goodera', 'workday')),
    period_start     date NOT NULL,
    period_end       date NOT NULL CHECK (period_end >= period_start),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'in_progress', 'delivered', 'failed')),
    payload          bytea,
    content_type     text,
    payload_hash     text,
    receipt_id       text,
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    last_http_status integer,
    run_id           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
-- The delivery log pages newest first by (created_at, id), optionally by status or partner;
-- stats aggregate a window of created_at. The INCLUDE columns let stats read the index alone.
CREATE INDEX deliveries_tenant_created ON deliveries (tenant_id, created_at DESC, id DESC)
    INCLUDE (partner, status, attempts, finished_at);
CREATE INDEX deliveries_tenant_status ON deliveries (tenant_id, status, created_at DESC, id DESC);
CREATE INDEX deliveries_tenant_partner ON deliveries (tenant_id, partner, created_at DESC, id DESC);
