-- Analytics: deletes of impact events must reach ClickHouse, whose sync reads changes by
-- (updated_at, tenant_id, event_id). A deleted row leaves a tombstone that the sync reads
-- in the same order; re-deleting a re-imported event refreshes its tombstone.

CREATE TABLE impact_event_tombstones (
    tenant_id   text NOT NULL,
    event_id    text NOT NULL,
    occurred_at timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX impact_event_tombstones_updated ON impact_event_tombstones (updated_at, tenant_id, event_id);

CREATE FUNCTION impact_events_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO impact_event_tombstones (tenant_id, event_id, occurred_at, updated_at)
    VALUES (OLD.tenant_id, OLD.event_id, OLD.occurred_at, now())
    ON CONFLICT (tenant_id, event_id) DO UPDATE
        SET occurred_at = EXCLUDED.occurred_at, updated_at = EXCLUDED.updated_at;
    RETURN OLD;
END;
$$;

CREATE TRIGGER impact_events_tombstone AFTER DELETE ON impact_events
    FOR EACH ROW EXECUTE FUNCTION impact_events_tombstone();
