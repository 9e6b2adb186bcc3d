-- The classifier's labels on evidence, beyond the primary dimension 002 added: every
-- dimension a snippet speaks to with its score, and the job that labelled it.
ALTER TABLE evidence_snippets
    ADD COLUMN outcome_labels    jsonb,
    ADD COLUMN classifier_job_id text;
-- The classifier pages through a tenant's unclassified snippets by ID.
CREATE INDEX evidence_snippets_unclassified_id ON evidence_snippets (tenant_id, snippet_id) WHERE classified_at IS NULL;
