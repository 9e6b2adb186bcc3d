-- Data-subject requests (GDPR Art. 15/17/20): exports of one participant's records and
-- the record that a participant was erased.

-- An export is the participant's records as one JSON document, kept outside the
-- workflow's payloads and downloadable until expires_at. It is personal data itself:
-- erasing the participant deletes it.
CREATE TABLE privacy_exports (
    id             text PRIMARY KEY, -- the job and workflow ID (privacy_export-<uuid>)
    tenant_id      text NOT NULL REFERENCES tenants (id),
    participant_id text NOT NULL,
    document       jsonb NOT NULL,
    bytes          bigint NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX privacy_exports_participant ON privacy_exports (tenant_id, participant_id);
CREATE INDEX privacy_exports_expiry ON privacy_exports (expires_at);

-- One row per erase job. The participant is kept only as a SHA-256 of tenant and ID: enough
-- to say that a second request finds nothing left ("already erased") and to prove the
-- erasure happened, without the identifier in clear once every other row of it is gone.
-- The reason is the admin's words, stored here rather than in the job's history, which
-- should hold counts and table names only.
CREATE TABLE privacy_erasures (
    job_id           text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    participant_hash bytea NOT NULL,
    reason           text NOT NULL,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    erased_at        timestamptz,
    counts           jsonb
);
CREATE INDEX privacy_erasures_participant ON privacy_erasures (tenant_id, participant_hash);
