package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// PeriodFigures are a tenant's impact figures over a period, for a report.
type PeriodFigures struct {
	Participants     int64   `json:"participants"`
	Signups          int64   `json:"signups"`
	SessionsStarted  int64   `json:"sessions_started"`
	SessionsComplete int64   `json:"sessions_completed"`
	VolunteerHours   float64 `json:"volunteer_hours"`
	OutcomesMeasured int64   `json:"outcomes_measured"`
	OutcomeAverage   float64 `json:"outcome_average"`
	Donations        float64 `json:"donations"`
	Events           int64   `json:"events"`
}

// ReportFigures sums the tenant's impact events in [from, to) for the programs (all when
// none are given).
func (s *Store) ReportFigures(ctx context.Context, tenantID string, from, to time.Time, programs []string) (PeriodFigures, error) {
	var f PeriodFigures
	err := s.pool.QueryRow(ctx, `
		SELECT count(DISTINCT e.participant_id),
		       count(*) FILTER (WHERE e.kind = 'signup'),
		       count(*) FILTER (WHERE e.kind = 'session_started'),
		       count(*) FILTER (WHERE e.kind = 'session_completed'),
		       coalesce(sum(e.value) FILTER (WHERE e.kind = 'volunteer_hours'), 0)::float8,
		       count(*) FILTER (WHERE e.kind = 'outcome_measured'),
		       coalesce(avg(e.value) FILTER (WHERE e.kind = 'outcome_measured'), 0)::float8,
		       coalesce(sum(e.value) FILTER (WHERE e.kind = 'donation'), 0)::float8,
		       count(*)
		FROM impact_events e JOIN programs p ON p.id = e.program_id
		WHERE e.tenant_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
		  AND (cardinality($4::text[]) = 0 OR p.code = ANY($4))`,
		tenantID, from, to, programs).
		Scan(&f.Participants, &f.Signups, &f.SessionsStarted, &f.SessionsComplete, &f.VolunteerHours,
			&f.OutcomesMeasured, &f.OutcomeAverage, &f.Donations, &f.Events)
	return f, err
}

// EvidenceRef is a snippet chosen for a report, without its text (which may hold personal
// data and so must not travel through workflow histories).
type EvidenceRef struct {
	SnippetID     string `json:"snippet_id"`
	Source        string `json:"source"`
	ParticipantID string `json:"participant_id"`
}

// ReportEvidence picks up to limit snippets of the period, taking sources in turn (a survey,
// an interview, a case note, ...) so that one kind of evidence does not crowd out the rest,
// newest first within each source.
func (s *Store) ReportEvidence(ctx context.Context, tenantID string, from, to time.Time, programs []string, limit int) ([]EvidenceRef, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT snippet_id, source, participant_id FROM (
			SELECT es.snippet_id, es.source, es.participant_id,
			       row_number() OVER (PARTITION BY es.source ORDER BY es.occurred_at DESC, es.snippet_id) AS rn
			FROM evidence_snippets es JOIN programs p ON p.id = es.program_id
			WHERE es.tenant_id = $1 AND es.occurred_at >= $2 AND es.occurred_at < $3
			  AND (cardinality($4::text[]) = 0 OR p.code = ANY($4))
		) ranked
		ORDER BY rn, source, snippet_id
		LIMIT $5`, tenantID, from, to, programs, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (EvidenceRef, error) {
		var e EvidenceRef
		err := r.Scan(&e.SnippetID, &e.Source, &e.ParticipantID)
		return e, err
	})
}

// EvidenceText is a snippet's text, for the redactor.
type EvidenceText struct {
	SnippetID string
	Source    string
	Text      string
}

// EvidenceTexts loads the snippets in the order of ids; missing ones are left out.
func (s *Store) EvidenceTexts(ctx context.Context, tenantID string, ids []string) ([]EvidenceText, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT es.snippet_id, es.source, es.text
		FROM unnest($2::text[]) WITH ORDINALITY AS want(id, ord)
		JOIN evidence_snippets es ON es.tenant_id = $1 AND es.snippet_id = want.id
		ORDER BY want.ord`, tenantID, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (EvidenceText, error) {
		var e EvidenceText
		err := r.Scan(&e.SnippetID, &e.Source, &e.Text)
		return e, err
	})
}

// AISettings are a tenant's overrides of the platform's AI defaults; nil means default.
type AISettings struct {
	BudgetLimitMicros *int64   `json:"budget_limit_micros"`
	RestoreNames      *bool    `json:"restore_names"`
	RedactionNames    []string `json:"redaction_names"`
}

// TenantAISettings returns the tenant's AI settings (all defaults when it has none) and time zone.
func (s *Store) TenantAISettings(ctx context.Context, tenantID string) (AISettings, string, error) {
	var a AISettings
	var tz string
	err := s.pool.QueryRow(ctx, `
		SELECT t.timezone, st.budget_limit_micros, st.restore_names, coalesce(st.redaction_names, '{}')
		FROM tenants t LEFT JOIN tenant_ai_settings st ON st.tenant_id = t.id
		WHERE t.id = $1`, tenantID).Scan(&tz, &a.BudgetLimitMicros, &a.RestoreNames, &a.RedactionNames)
	return a, tz, notFound(err)
}

// SetTenantAISettings stores the tenant's AI settings.
func (s *Store) SetTenantAISettings(ctx context.Context, tenantID string, a AISettings) error {
	names := a.RedactionNames
	if names == nil {
		names = []string{}
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO tenant_ai_settings (tenant_id, budget_limit_micros, restore_names, redaction_names)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id) DO UPDATE SET budget_limit_micros = EXCLUDED.budget_limit_micros,
			restore_names = EXCLUDED.restore_names, redaction_names = EXCLUDED.redaction_names, updated_at = now()`,
		tenantID, a.BudgetLimitMicros, a.RestoreNames, names)
	return err
}

// RedactionNames returns the tenant's names list: extra names its reports' redactor treats
// as people. ErrNotFound when the tenant does not exist.
func (s *Store) RedactionNames(ctx context.Context, tenantID string) ([]string, error) {
	var names []string
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(st.redaction_names, '{}')
		FROM tenants t LEFT JOIN tenant_ai_settings st ON st.tenant_id = t.id
		WHERE t.id = $1`, tenantID).Scan(&names)
	return names, notFound(err)
}

// SetRedactionNames replaces the tenant's names list, leaving its other AI settings as
// they are. Reports read the list when they redact, so the next one uses it.
func (s *Store) SetRedactionNames(ctx context.Context, tenantID string, names []string) error {
	if names == nil {
		names = []string{}
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO tenant_ai_settings (tenant_id, redaction_names) VALUES ($1, $2)
		ON CONFLICT (tenant_id) DO UPDATE SET redaction_names = EXCLUDED.redaction_names, updated_at = now()`,
		tenantID, names)
	return err
}

// AISpend is one settled LLM call, mirrored from the budget workflow for reporting.
type AISpend struct {
	ReservationID string    `json:"reservation_id"`
	TenantID      string    `json:"tenant_id"`
	JobID         string    `json:"job_id"`
	Purpose       string    `json:"purpose"`
	Model         string    `json:"model"`
	TokensIn      int       `json:"tokens_in"`
	TokensOut     int       `json:"tokens_out"`
	CostMicros    int64     `json:"cost_micros"`
	PeriodStart   time.Time `json:"period_start"`
}

// RecordAISpend mirrors a settled call; recording it twice (a retried activity) is one row.
func (s *Store) RecordAISpend(ctx context.Context, a AISpend) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO ai_budget_ledger (reservation_id, tenant_id, job_id, purpose, model, tokens_in, tokens_out, cost_micros, period_start)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (reservation_id) DO NOTHING`,
		a.ReservationID, a.TenantID, a.JobID, a.Purpose, a.Model, a.TokensIn, a.TokensOut, a.CostMicros, a.PeriodStart)
	return err
}

// AISpent is the tenant's mirrored spend in the period starting at periodStart.
func (s *Store) AISpent(ctx context.Context, tenantID string, periodStart time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce(sum(cost_micros), 0)::bigint FROM ai_budget_ledger WHERE tenant_id = $1 AND period_start = $2`,
		tenantID, periodStart).Scan(&n)
	return n, err
}

// RecordBudgetAlert stores an alert; it reports false when this period's alert for the
// threshold was already recorded.
func (s *Store) RecordBudgetAlert(ctx context.Context, tenantID string, periodStart time.Time, threshold int, spent, limit int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO ai_budget_alerts (tenant_id, period_start, threshold, spent_micros, limit_micros)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, tenantID, periodStart, threshold, spent, limit)
	return tag.RowsAffected() == 1, err
}

// SpendLine is spend grouped by one key (a model or a day).
type SpendLine struct {
	Key        string `json:"key"`
	Calls      int64  `json:"calls"`
	TokensIn   int64  `json:"tokens_in"`
	TokensOut  int64  `json:"tokens_out"`
	CostMicros int64  `json:"cost_micros"`
}

// SpendSummary is a period's mirrored spend per model and per day (in the time zone).
type SpendSummary struct {
	PerModel []SpendLine `json:"per_model"`
	PerDay   []SpendLine `json:"per_day"`
}

// AISpendSummary groups the tenant's mirrored spend of the period starting at periodStart.
func (s *Store) AISpendSummary(ctx context.Context, tenantID string, periodStart time.Time, timezone string) (SpendSummary, error) {
	sum := SpendSummary{PerModel: []SpendLine{}, PerDay: []SpendLine{}}
	for _, q := range []struct {
		key string
		out *[]SpendLine
	}{{"model", &sum.PerModel}, {"to_char(occurred_at AT TIME ZONE $3, 'YYYY-MM-DD')", &sum.PerDay}} {
		rows, err := s.pool.Query(ctx, `
			SELECT `+q.key+` AS k, count(*), sum(tokens_in), sum(tokens_out), sum(cost_micros)
			FROM ai_budget_ledger WHERE tenant_id = $1 AND period_start = $2 AND $3::text IS NOT NULL
			GROUP BY k ORDER BY k`, tenantID, periodStart, timezone)
		if err != nil {
			return SpendSummary{}, err
		}
		lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SpendLine, error) {
			var l SpendLine
			err := r.Scan(&l.Key, &l.Calls, &l.TokensIn, &l.TokensOut, &l.CostMicros)
			return l, err
		})
		if err != nil {
			return SpendSummary{}, err
		}
		if lines != nil {
			*q.out = lines
		}
	}
	return sum, nil
}

// Citation is one paragraph's reference to a snippet, with the span it quotes.
type Citation struct {
	SnippetID string `json:"snippet_id"`
	Quote     string `json:"quote"`
}

// ReportParagraph is a paragraph of a stored report.
type ReportParagraph struct {
	Text      string     `json:"text"`
	Citations []Citation `json:"citations"`
}

// ReportSection is a stored section.
type ReportSection struct {
	Section       string            `json:"section"`
	Status        string            `json:"status"`
	Paragraphs    []ReportParagraph `json:"paragraphs"`
	Model         string            `json:"model"`
	PromptVersion string            `json:"prompt_version"`
	Attempts      int               `json:"attempts"`
	TokensIn      int               `json:"tokens_in"`
	TokensOut     int               `json:"tokens_out"`
	CostMicros    int64             `json:"cost_micros"`
	DurationMS    int64             `json:"duration_ms"`
	Coverage      float64           `json:"coverage"`
	Problems      []string          `json:"problems"`
}

// Lineage is how a report was made.
type Lineage struct {
	Model         string          `json:"model"`
	Offline       bool            `json:"offline"`
	PromptVersion string          `json:"prompt_version"`
	TokensIn      int             `json:"tokens_in"`
	TokensOut     int             `json:"tokens_out"`
	CostMicros    int64           `json:"cost_micros"`
	DurationMS    int64           `json:"duration_ms"`
	Coverage      float64         `json:"coverage"`
	NamesRestored bool            `json:"names_restored"`
	Redactions    map[string]int  `json:"redactions"`
	Metrics       json.RawMessage `json:"metrics"`
	WorkflowID    string          `json:"workflow_id"`
	RunID         string          `json:"run_id"`
}

// Report is a generated report with its sections and lineage.
type Report struct {
	ID         string          `json:"id"`
	TenantID   string          `json:"tenant_id"`
	Status     string          `json:"status"`
	Locale     string          `json:"locale"`
	PeriodFrom string          `json:"period_from"`
	PeriodTo   string          `json:"period_to"`
	Programs   []string        `json:"programs"`
	Sections   []ReportSection `json:"sections"`
	Lineage    Lineage         `json:"lineage"`
	CreatedAt  time.Time       `json:"created_at"`
	// TextsPurgedAt is when retention deleted the report's sections; the lineage stays.
	TextsPurgedAt *time.Time `json:"texts_purged_at,omitempty"`
}

// SaveReport writes the report, its sections and citations in one transaction. A report
// that is already stored is left as it is and SaveReport reports false: the first complete
// write wins, so a retried or reset workflow never duplicates or half-overwrites it.
func (s *Store) SaveReport(ctx context.Context, r Report) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	red, _ := json.Marshal(r.Lineage.Redactions)
	metrics := r.Lineage.Metrics
	if len(metrics) == 0 {
		metrics = json.RawMessage("[]")
	}
	programs := r.Programs
	if programs == nil {
		programs = []string{}
	}
	l := r.Lineage
	tag, err := tx.Exec(ctx, `
		INSERT INTO report_lineage (report_id, tenant_id, status, locale, period_from, period_to, program_codes,
			model, offline, prompt_version, tokens_in, tokens_out, cost_micros, duration_ms, coverage,
			names_restored, redactions, metrics, workflow_id, run_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT (report_id) DO NOTHING`,
		r.ID, r.TenantID, r.Status, r.Locale, r.PeriodFrom, r.PeriodTo, programs, l.Model, l.Offline, l.PromptVersion,
		l.TokensIn, l.TokensOut, l.CostMicros, l.DurationMS, l.Coverage, l.NamesRestored, red, metrics, l.WorkflowID, l.RunID)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	// Sections and citations go in one round trip, not one per row.
	b := &pgx.Batch{}
	for i, sec := range r.Sections {
		paras, _ := json.Marshal(sec.Paragraphs)
		problems := sec.Problems
		if problems == nil {
			problems = []string{}
		}
		b.Queue(`
			INSERT INTO report_sections (report_id, section, position, status, paragraphs, model, prompt_version,
				attempts, tokens_in, tokens_out, cost_micros, duration_ms, coverage, problems)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			r.ID, sec.Section, i, sec.Status, paras, sec.Model, sec.PromptVersion, sec.Attempts,
			sec.TokensIn, sec.TokensOut, sec.CostMicros, sec.DurationMS, sec.Coverage, problems)
		for pi, p := range sec.Paragraphs {
			for _, c := range p.Citations {
				b.Queue(`
					INSERT INTO report_citations (report_id, section, paragraph, tenant_id, snippet_id, quote)
					VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
					r.ID, sec.Section, pi, r.TenantID, c.SnippetID, c.Quote)
			}
		}
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// Report returns one of the tenant's reports.
func (s *Store) Report(ctx context.Context, tenantID, id string) (Report, error) {
	r := Report{ID: id, TenantID: tenantID, Sections: []ReportSection{}}
	var red []byte
	var from, to time.Time
	l := &r.Lineage
	err := s.pool.QueryRow(ctx, `
		SELECT status, locale, period_from, period_to, program_codes, model, offline, prompt_version, tokens_in,
			tokens_out, cost_micros, duration_ms, coverage, names_restored, redactions, metrics, workflow_id, run_id, created_at,
			texts_purged_at
		FROM report_lineage WHERE tenant_id = $1 AND report_id = $2`, tenantID, id).
		Scan(&r.Status, &r.Locale, &from, &to, &r.Programs, &l.Model, &l.Offline, &l.PromptVersion, &l.TokensIn,
			&l.TokensOut, &l.CostMicros, &l.DurationMS, &l.Coverage, &l.NamesRestored, &red, &l.Metrics,
			&l.WorkflowID, &l.RunID, &r.CreatedAt, &r.TextsPurgedAt)
	if err != nil {
		return Report{}, notFound(err)
	}
	r.PeriodFrom, r.PeriodTo = from.Format(time.DateOnly), to.Format(time.DateOnly)
	_ = json.Unmarshal(red, &l.Redactions)
	rows, err := s.pool.Query(ctx, `
		SELECT section, status, paragraphs, model, prompt_version, attempts, tokens_in, tokens_out, cost_micros,
			duration_ms, coverage, problems
		FROM report_sections WHERE report_id = $1 ORDER BY position`, id)
	if err != nil {
		return Report{}, err
	}
	r.Sections, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReportSection, error) {
		var sec ReportSection
		var paras []byte
		err := row.Scan(&sec.Section, &sec.Status, &paras, &sec.Model, &sec.PromptVersion, &sec.Attempts, &sec.TokensIn,
			&sec.TokensOut, &sec.CostMicros, &sec.DurationMS, &sec.Coverage, &sec.Problems)
		if err == nil {
			err = json.Unmarshal(paras, &sec.Paragraphs)
		}
		return sec, err
	})
	return r, err
}
