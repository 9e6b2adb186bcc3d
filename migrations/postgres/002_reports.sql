-- AI report generation: lineage, sections, citations, the AI budget ledger mirror,
-- per-tenant budget settings, and classifier columns on evidence.

-- Per-tenant AI settings. A tenant without a row gets the platform defaults
-- (AI_BUDGET_DEFAULT_USD, names restored unless REDACTION_AGGRESSIVE).
CREATE TABLE tenant_ai_settings (
    tenant_id            text PRIMARY KEY REFERENCES tenants (id),
    budget_limit_micros  bigint CHECK (budget_limit_micros >= 0),
    restore_names        boolean,
    redaction_names      text[] NOT NULL DEFAULT '{}',
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One row per report (keyed by the job ID, stable across resets and retries), written once
-- with everything needed to audit how it was made.
CREATE TABLE report_lineage (
    report_id        text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    status           text NOT NULL CHECK (status IN ('completed', 'citations_failed', 'budget_exhausted')),
    locale           text NOT NULL CHECK (locale IN ('en', 'es', 'fr')),
    period_from      date NOT NULL,
    period_to        date NOT NULL,
    program_codes    text[] NOT NULL DEFAULT '{}',
    model            text NOT NULL,
    offline          boolean NOT NULL,
    prompt_version   text NOT NULL,
    tokens_in        integer NOT NULL DEFAULT 0,
    tokens_out       integer NOT NULL DEFAULT 0,
    cost_micros      bigint NOT NULL DEFAULT 0,
    duration_ms      bigint NOT NULL DEFAULT 0,
    coverage         double precision NOT NULL DEFAULT 0,
    names_restored   boolean NOT NULL DEFAULT false,
    redactions       jsonb NOT NULL DEFAULT '{}',
    metrics          jsonb NOT NULL DEFAULT '[]',
    workflow_id      text NOT NULL,
    run_id           text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_lineage_tenant_time ON report_lineage (tenant_id, created_at DESC);
CREATE INDEX report_lineage_model ON report_lineage (tenant_id, model, created_at DESC);
CREATE INDEX report_lineage_prompt ON report_lineage (prompt_version, created_at DESC);

CREATE TABLE report_sections (
    report_id      text NOT NULL REFERENCES report_lineage (report_id) ON DELETE CASCADE,
    section        text NOT NULL,
    position       integer NOT NULL,
    status         text NOT NULL CHECK (status IN ('written', 'citations_failed', 'skipped')),
    paragraphs     jsonb NOT NULL DEFAULT '[]',
    model          text NOT NULL,
    prompt_version text NOT NULL,
    attempts       integer NOT NULL DEFAULT 1,
    tokens_in      integer NOT NULL DEFAULT 0,
    tokens_out     integer NOT NULL DEFAULT 0,
    cost_micros    bigint NOT NULL DEFAULT 0,
    duration_ms    bigint NOT NULL DEFAULT 0,
    coverage       double precision NOT NULL DEFAULT 0,
    problems       text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (report_id, section)
);

-- Which evidence each paragraph cites, with the quoted span (redacted as the model saw it).
CREATE TABLE report_citations (
    report_id   text NOT NULL,
    section     text NOT NULL,
    paragraph   integer NOT NULL,
    tenant_id   text NOT NULL,
    snippet_id  text NOT NULL,
    quote       text NOT NULL,
    PRIMARY KEY (report_id, section, paragraph, snippet_id),
    FOREIGN KEY (report_id, section) REFERENCES report_sections (report_id, section) ON DELETE CASCADE
);
-- Audit: which reports cite this piece of evidence.
CREATE INDEX report_citations_snippet ON report_citations (tenant_id, snippet_id);

-- Mirror of the budget workflow's settled calls, for reporting (per model, per day). The
-- budget workflow is the authority on what may be spent; this table is what was spent.
CREATE TABLE ai_budget_ledger (
    reservation_id text PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    job_id         text NOT NULL,
    purpose        text NOT NULL,
    model          text NOT NULL,
    tokens_in      integer NOT NULL,
    tokens_out     integer NOT NULL,
    cost_micros    bigint NOT NULL,
    period_start   timestamptz NOT NULL,
    occurred_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ai_budget_ledger_period ON ai_budget_ledger (tenant_id, period_start, occurred_at);

-- Alerts fired, once per tenant, period and threshold.
CREATE TABLE ai_budget_alerts (
    tenant_id    text NOT NULL REFERENCES tenants (id),
    period_start timestamptz NOT NULL,
    threshold    integer NOT NULL,
    spent_micros bigint NOT NULL,
    limit_micros bigint NOT NULL,
    fired_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, period_start, threshold)
);

-- The classifier's labels on evidence (POST /v1/evidence/classify).
ALTER TABLE evidence_snippets
    ADD COLUMN outcome_dimension text CHECK (outcome_dimension IN ('confidence', 'belonging', 'language', 'job_readiness', 'wellbeing')),
    ADD COLUMN outcome_score     double precision CHECK (outcome_score BETWEEN 0 AND 1),
    ADD COLUMN classified_at     timestamptz,
    ADD COLUMN classifier_model  text;
CREATE INDEX evidence_snippets_unclassified ON evidence_snippets (tenant_id, occurred_at) WHERE classified_at IS NULL;
