-- Tenants, their API keys, programs and participants.

CREATE TABLE tenants (
    id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name           text NOT NULL,
    industry       text NOT NULL,
    region         text NOT NULL,
    size_band      text NOT NULL,
    timezone       text NOT NULL DEFAULT 'UTC',
    default_locale text NOT NULL DEFAULT 'en' CHECK (default_locale IN ('en', 'es', 'fr')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Only a SHA-256 of each key is stored; the prefix lets people tell keys apart.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    text NOT NULL REFERENCES tenants (id),
    name         text NOT NULL,
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    role         text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at DESC);

CREATE TABLE programs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    code        text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, code)
);

-- Participants are pseudonymous in events; their names live here so that the report
-- redactor can find them in free text.
CREATE TABLE participants (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    id         text NOT NULL,
    full_name  text NOT NULL DEFAULT '',
    email      text NOT NULL DEFAULT '',
    phone      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE impact_events (
    tenant_id      text NOT NULL REFERENCES tenants (id),
    event_id       text NOT NULL,
    program_id     bigint NOT NULL REFERENCES programs (id),
    participant_id text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('signup', 'session_started', 'session_completed',
                                                 'volunteer_hours', 'outcome_measured', 'donation')),
    occurred_at    timestamptz NOT NULL,
    value          numeric(18, 4) NOT NULL,
    attributes     jsonb NOT NULL DEFAULT '{}',
    import_job_id  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
-- Reports and deliveries read a tenant's events by period (a program filter is applied on
-- the way). Heavier slicing (by program, cohort, funnel) is ClickHouse's job, so Postgres
-- keeps one time index: each index is paid for on every imported row.
CREATE INDEX impact_events_tenant_time ON impact_events (tenant_id, occurred_at);
-- The ClickHouse sync reads everything changed since its last watermark.
CREATE INDEX impact_events_updated ON impact_events (updated_at, tenant_id, event_id);

CREATE TABLE evidence_snippets (
    tenant_id      text NOT NULL REFERENCES tenants (id),
    snippet_id     text NOT NULL,
    program_id     bigint NOT NULL REFERENCES programs (id),
    participant_id text NOT NULL DEFAULT '',
    text           text NOT NULL,
    source         text NOT NULL CHECK (source IN ('survey', 'interview', 'case_note', 'email', 'other')),
    occurred_at    timestamptz NOT NULL,
    import_job_id  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, snippet_id)
);
CREATE INDEX evidence_snippets_program_time ON evidence_snippets (tenant_id, program_id, occurred_at);
CREATE INDEX evidence_snippets_updated ON evidence_snippets (updated_at, tenant_id, snippet_id);

-- An upload is staged here, never in a workflow payload (Temporal caps payloads at 2 MB),
-- as chunks of NDJSON rows. Each chunk records its outcome in the same transaction that
-- writes its rows, so a retried or reset import skips what is done: that is the checkpoint.
CREATE TABLE import_uploads (
    job_id       text PRIMARY KEY,
    tenant_id    text NOT NULL REFERENCES tenants (id),
    target       text NOT NULL CHECK (target IN ('events', 'evidence')),
    request_hash bytea NOT NULL,
    rows         integer NOT NULL DEFAULT 0,
    bytes        bigint NOT NULL DEFAULT 0,
    chunks       integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX import_uploads_tenant ON import_uploads (tenant_id, created_at DESC);

CREATE TABLE import_chunks (
    job_id     text NOT NULL REFERENCES import_uploads (job_id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    lines      integer[] NOT NULL,
    data       bytea NOT NULL,
    inserted   integer,
    updated    integer,
    unchanged  integer,
    rejected   integer,
    rejections jsonb,
    done_at    timestamptz,
    PRIMARY KEY (job_id, seq)
);
