-- Retention: how many days each class of a tenant's data is kept. A class without a row
-- keeps the platform default (internal/retention); the daily privacy-retention schedule
-- deletes what is older.

CREATE TABLE tenant_retention (
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    class      text NOT NULL CHECK (class IN ('events', 'evidence', 'report_texts', 'notification_messages',
                                              'delivery_payloads', 'staged_uploads', 'exports')),
    days       integer NOT NULL CHECK (days BETWEEN 30 AND 2555),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, class)
);

-- The purge of each class reads a tenant's rows by age: evidence is the one class whose
-- table has no index for that (the others: impact_events_tenant_time,
-- report_lineage_tenant_time, notifications_tenant_created, deliveries_tenant_created,
-- import_uploads_tenant).
CREATE INDEX evidence_snippets_tenant_time ON evidence_snippets (tenant_id, occurred_at);

-- When retention removed a report's texts: the lineage (costs, model, counts) stays for the
-- cost summary, and the report says why it has no sections.
ALTER TABLE report_lineage ADD COLUMN texts_purged_at timestamptz;
