-- Temporal payloads are encrypted with one data key per tenant (temporal/codec). A data key
-- is random and stored only wrapped by the IMPACTFLOW_SECRET_KEY key ring; its ID is in each
-- payload's metadata, so a tenant may have several keys (rotation) and old histories keep
-- decoding. tenant_id '' is the platform's own key, for payloads outside any tenant. No
-- foreign key to tenants: a tenant's deletion destroys its keys and must leave the rows as
-- the record that it did.
CREATE TABLE IF NOT EXISTS tenant_data_keys (
    key_id       text PRIMARY KEY,
    tenant_id    text NOT NULL,
    -- wrapped is the data key sealed by the key ring key wrapped_by; NULL once destroyed,
    -- which is what makes the tenant's payloads unreadable (crypto-shredding).
    wrapped      bytea,
    wrapped_by   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz,
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);

CREATE INDEX IF NOT EXISTS tenant_data_keys_current ON tenant_data_keys (tenant_id, created_at DESC)
    WHERE destroyed_at IS NULL;
