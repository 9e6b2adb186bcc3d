// Package reports holds the activities of ReportWorkflow and of the per-tenant budget
// workflow: thin adapters from Temporal to internal/store (figures, evidence, lineage),
// internal/redact, internal/llm and internal/budget. Personal data stays inside these
// activities: what they return to the workflow (and so to its history) is redacted.
package reports

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/budget"
	"github.com/impactflow/impactflow/internal/events"
	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/metrics"
	"github.com/impactflow/impactflow/internal/redact"
	"github.com/impactflow/impactflow/internal/store"
	itemporal "github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/temporal/codec"
)

// Error types the workflow's retry policies and results refer to.
const (
	// ErrTypeNoEvidence: the period has no evidence to cite; a report cannot be written.
	ErrTypeNoEvidence = "NoEvidence"
	// ErrTypeProviderRejected: the provider refused the request (400: prompt too long,
	// unknown model...); asking again cannot help.
	ErrTypeProviderRejected = "ProviderRejected"
	// ErrTypeProviderUnavailable: rate limited or failing (429, 5xx); retried with backoff,
	// after the provider's Retry-After when it sent one.
	ErrTypeProviderUnavailable = "ProviderUnavailable"
	// ErrTypeBadConfig: a tenant setting cannot be used (an unknown time zone).
	ErrTypeBadConfig = "BadConfig"
	// ErrTypeBudgetHeld: the budget has room, but other calls hold it right now; the
	// RetryPolicy asks again once some have settled.
	ErrTypeBudgetHeld = "BudgetHeld"
)

// heldRetryDelay is how soon a reservation refused because others hold the budget is
// tried again: about the time one LLM call takes to settle.
const heldRetryDelay = 500 * time.Millisecond

// Activities holds what report generation needs.
type Activities struct {
	Store  *store.Store
	Client client.Client
	Writer llm.Writer
	Prices llm.Prices
	// Metrics receives the ai_* metrics; nil records nothing.
	Metrics *metrics.AI
	// DefaultLimitMicros is the monthly budget of tenants without their own (budget.DefaultLimitMicros when 0).
	DefaultLimitMicros int64
	// Names are extra names the redactor treats as people (REDACTION_NAMES).
	Names []string
	// Aggressive keeps names redacted in the final text unless a tenant asks otherwise, and
	// has the redactor also take capitalised words that no list knows (REDACTION_AGGRESSIVE).
	Aggressive bool
	Logger     *slog.Logger

	budgetMu     sync.Mutex
	budgetQueues map[string]*budgetQueue

	// redactors share a Redactor, and what it found, among reports with the same names.
	redactors redact.Cache
}

// Budget calls (reserve, settle, release) reach a tenant's budget workflow in batches.
// Temporal admits at most 10 in-flight updates per workflow (history.maxInFlightUpdates)
// and the workflow answers them a workflow task at a time, so one update per call capped
// a burst of 100 reports at a few dozen calls a second, with reports queueing seconds for
// their reservation and again for their settle. Calls made while this worker's updates
// to the tenant are in flight wait and go together in the next one.
const (
	// budgetUpdatesInFlight bounds this worker's concurrent updates to one tenant's
	// budget workflow, under Temporal's 10; the rest of a burst waits here, in order.
	budgetUpdatesInFlight = 4
	// budgetBatchMax bounds one update's calls, and so its size in the history.
	budgetBatchMax = 100
	// budgetUpdateTimeout bounds one batch update; its calls' activities retry after it.
	budgetUpdateTimeout = 30 * time.Second
)

// budgetQueue is a tenant's calls waiting for an update, and the updates in flight.
type budgetQueue struct {
	pending  []*budgetCall
	inFlight int
}

// budgetCall is one activity's call, answered on done.
type budgetCall struct {
	ctx   context.Context
	item  budget.BatchItem
	limit int64
	tz    string
	done  chan budgetAnswer
}

type budgetAnswer struct {
	item   budget.BatchItemResult
	status budget.Status
	err    error
}

// callBudget queues one call to the tenant's budget workflow and waits for its answer.
// An error the call failed with on its own (a bad time zone, a bad reservation) is
// non-retryable.
func (a *Activities) callBudget(ctx context.Context, tenantID string, limit int64, tz string, item budget.BatchItem) (budget.BatchItemResult, budget.Status, error) {
	c := &budgetCall{ctx: ctx, item: item, limit: limit, tz: tz, done: make(chan budgetAnswer, 1)}
	a.budgetMu.Lock()
	if a.budgetQueues == nil {
		a.budgetQueues = map[string]*budgetQueue{}
	}
	q, ok := a.budgetQueues[tenantID]
	if !ok {
		q = &budgetQueue{}
		a.budgetQueues[tenantID] = q
	}
	q.pending = append(q.pending, c)
	send := q.inFlight < budgetUpdatesInFlight
	if send {
		q.inFlight++
	}
	a.budgetMu.Unlock()
	if send {
		go a.sendBudgetBatches(tenantID, q)
	}
	select {
	case ans := <-c.done:
		if ans.err != nil {
			return budget.BatchItemResult{}, budget.Status{}, ans.err
		}
		if ans.item.Error != "" {
			return budget.BatchItemResult{}, budget.Status{}, temporal.NewNonRetryableApplicationError(ans.item.Error, ans.item.ErrorType, nil)
		}
		return ans.item, ans.status, nil
	case <-ctx.Done():
		return budget.BatchItemResult{}, budget.Status{}, fmt.Errorf("budget: %w", ctx.Err())
	}
}

// sendBudgetBatches sends the tenant's waiting calls, a batch at a time, until none wait.
func (a *Activities) sendBudgetBatches(tenantID string, q *budgetQueue) {
	for {
		a.budgetMu.Lock()
		var batch []*budgetCall
		for len(q.pending) > 0 && len(batch) < budgetBatchMax {
			c := q.pending[0]
			q.pending = q.pending[1:]
			// A call whose activity gave up (timed out, canceled) is not sent: its retry,
			// if any, is a call of its own.
			if c.ctx.Err() == nil {
				batch = append(batch, c)
			}
		}
		if len(batch) == 0 {
			q.inFlight--
			a.budgetMu.Unlock()
			return
		}
		a.budgetMu.Unlock()
		a.sendBudgetBatch(tenantID, batch)
	}
}

func (a *Activities) sendBudgetBatch(tenantID string, batch []*budgetCall) {
	ctx, cancel := context.WithTimeout(context.Background(), budgetUpdateTimeout)
	defer cancel()
	req := budget.BatchRequest{Items: make([]budget.BatchItem, len(batch))}
	for i, c := range batch {
		req.Items[i] = c.item
	}
	// The latest call's settings start the workflow if it is not running.
	last := batch[len(batch)-1]
	res, err := a.updateBudget(ctx, tenantID, last.limit, last.tz, req)
	if err == nil && len(res.Items) != len(batch) {
		err = fmt.Errorf("budget batch: %d answers for %d calls", len(res.Items), len(batch))
	}
	for i, c := range batch {
		if err != nil {
			c.done <- budgetAnswer{err: err}
			continue
		}
		c.done <- budgetAnswer{item: res.Items[i], status: res.Status}
	}
}

func (a *Activities) log() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// GatherInput names a report's period and scope.
type GatherInput struct {
	TenantID    string   `json:"tenant_id"`
	From        string   `json:"from"` // YYYY-MM-DD, inclusive
	To          string   `json:"to"`   // YYYY-MM-DD, inclusive
	Programs    []string `json:"programs"`
	Locale      string   `json:"locale"`
	MaxSnippets int      `json:"max_snippets"`
}

// GatherResult is the period's figures and the evidence chosen, by ID only: the texts may
// hold personal data and are loaded again, and redacted, by Redact.
type GatherResult struct {
	Metrics  []llm.Metric        `json:"metrics"`
	Evidence []store.EvidenceRef `json:"evidence"`
}

// Gather reads the tenant's figures for the period and picks the evidence.
func (a *Activities) Gather(ctx context.Context, in GatherInput) (GatherResult, error) {
	from, to, err := period(in.From, in.To)
	if err != nil {
		return GatherResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadConfig, err)
	}
	f, err := a.Store.ReportFigures(ctx, in.TenantID, from, to, in.Programs)
	if err != nil {
		return GatherResult{}, fmt.Errorf("report figures: %w", err)
	}
	ev, err := a.Store.ReportEvidence(ctx, in.TenantID, from, to, in.Programs, in.MaxSnippets)
	if err != nil {
		return GatherResult{}, fmt.Errorf("report evidence: %w", err)
	}
	if len(ev) == 0 {
		return GatherResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("no evidence snippets between %s and %s: a report must cite evidence", in.From, in.To), ErrTypeNoEvidence, nil)
	}
	return GatherResult{Metrics: metricsOf(f, in.Locale), Evidence: ev}, nil
}

func period(fromS, toS string) (from, to time.Time, err error) {
	if from, err = time.Parse(time.DateOnly, fromS); err != nil {
		return from, to, fmt.Errorf("from: %w", err)
	}
	if to, err = time.Parse(time.DateOnly, toS); err != nil {
		return from, to, fmt.Errorf("to: %w", err)
	}
	return from, to.AddDate(0, 0, 1), nil
}

var metricLabels = map[string]map[string]string{
	"en": {"participants": "Participants", "signups": "Sign-ups", "sessions_completed": "Sessions completed",
		"volunteer_hours": "Volunteer hours", "outcome_average": "Average outcome score", "donations": "Donations"},
	"es": {"participants": "Participantes", "signups": "Inscripciones", "sessions_completed": "Sesiones completadas",
		"volunteer_hours": "Horas de voluntariado", "outcome_average": "Puntuación media de resultados", "donations": "Donaciones"},
	"fr": {"participants": "Participants", "signups": "Inscriptions", "sessions_completed": "Séances terminées",
		"volunteer_hours": "Heures de bénévolat", "outcome_average": "Score moyen de résultats", "donations": "Dons"},
}

func metricsOf(f store.PeriodFigures, locale string) []llm.Metric {
	labels, ok := metricLabels[locale]
	if !ok {
		labels = metricLabels["en"]
	}
	round := func(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
	out := []llm.Metric{
		{Key: "participants", Label: labels["participants"], Value: float64(f.Participants)},
		{Key: "signups", Label: labels["signups"], Value: float64(f.Signups)},
		{Key: "sessions_completed", Label: labels["sessions_completed"], Value: float64(f.SessionsComplete)},
		{Key: "volunteer_hours", Label: labels["volunteer_hours"], Value: round(f.VolunteerHours)},
	}
	if f.OutcomesMeasured > 0 {
		out = append(out, llm.Metric{Key: "outcome_average", Label: labels["outcome_average"], Value: round(f.OutcomeAverage)})
	}
	if f.Donations > 0 {
		out = append(out, llm.Metric{Key: "donations", Label: labels["donations"], Value: round(f.Donations)})
	}
	return out
}

// RedactInput is the evidence and figures to redact.
type RedactInput struct {
	TenantID string              `json:"tenant_id"`
	Evidence []store.EvidenceRef `json:"evidence"`
	Metrics  []llm.Metric        `json:"metrics"`
}

// RedactResult is the evidence and figures with personal data replaced by placeholders.
// The mapping back never leaves this activity; Fingerprint lets PersistReport check that
// it rebuilds the same mapping from the same texts.
type RedactResult struct {
	Snippets    []llm.Snippet  `json:"snippets"`
	Metrics     []llm.Metric   `json:"metrics"`
	Counts      map[string]int `json:"counts"`
	Fingerprint string         `json:"fingerprint"`
}

// Redact loads the snippets' texts and redacts them and the metric labels.
func (a *Activities) Redact(ctx context.Context, in RedactInput) (RedactResult, error) {
	sess, snippets, fp, err := a.redactEvidence(ctx, in.TenantID, in.Evidence)
	if err != nil {
		return RedactResult{}, err
	}
	metrics := make([]llm.Metric, len(in.Metrics))
	for i, m := range in.Metrics {
		m.Label = sess.Redact(m.Label)
		metrics[i] = m
	}
	counts := map[string]int{}
	for k, n := range sess.Counts() {
		counts[string(k)] = n
	}
	return RedactResult{Snippets: snippets, Metrics: metrics, Counts: counts, Fingerprint: fp}, nil
}

// redactEvidence loads and redacts the snippets in order, with one session, so that the
// same input always yields the same placeholders.
func (a *Activities) redactEvidence(ctx context.Context, tenantID string, refs []store.EvidenceRef) (*redact.Session, []llm.Snippet, string, error) {
	settings, _, err := a.Store.TenantAISettings(ctx, tenantID)
	if err != nil {
		return nil, nil, "", fmt.Errorf("tenant AI settings: %w", err)
	}
	return a.redactEvidenceWith(ctx, tenantID, settings, refs)
}

// redactEvidenceWith is redactEvidence for a caller that has read the tenant's settings.
func (a *Activities) redactEvidenceWith(ctx context.Context, tenantID string, settings store.AISettings, refs []store.EvidenceRef) (*redact.Session, []llm.Snippet, string, error) {
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.SnippetID
	}
	texts, err := a.Store.EvidenceTexts(ctx, tenantID, ids)
	if err != nil {
		return nil, nil, "", fmt.Errorf("load evidence: %w", err)
	}
	// Every participant record of the tenant, not only the snippets' own: evidence about
	// one participant often names another (a friend, a mentor, a sibling).
	names, err := a.Store.ParticipantNames(ctx, tenantID)
	if err != nil {
		return nil, nil, "", fmt.Errorf("load participant names: %w", err)
	}
	names = append(append(names, a.Names...), settings.RedactionNames...)
	sess := a.redactors.ForOptions(redact.Options{Aggressive: a.Aggressive}, names...).NewSession()
	h := sha256.New()
	snippets := make([]llm.Snippet, 0, len(texts))
	for _, t := range texts {
		s := llm.Snippet{ID: t.SnippetID, Source: t.Source, Text: sess.Redact(t.Text)}
		h.Write([]byte(s.ID + "\x00" + s.Text + "\x00"))
		snippets = append(snippets, s)
	}
	return sess, snippets, hex.EncodeToString(h.Sum(nil)), nil
}

// ReserveInput asks the tenant's budget for one call's estimated cost.
type ReserveInput struct {
	TenantID      string `json:"tenant_id"`
	ReservationID string `json:"reservation_id"`
	JobID         string `json:"job_id"`
	Model         string `json:"model"`
	TokensIn      int    `json:"tokens_in"`  // estimated, per call
	TokensOut     int    `json:"tokens_out"` // the call's max tokens
	// Calls is how many calls the reservation covers (0 means 1).
	Calls int `json:"calls,omitempty"`
}

// Reserve holds the call's estimated cost in the tenant's budget workflow, starting that
// workflow when it is not running (Update-With-Start). An exhausted budget is a result,
// not an error: the report stops before the call and says why. A budget that other calls
// hold for now is a retryable error, so the activity's RetryPolicy waits for them.
func (a *Activities) Reserve(ctx context.Context, in ReserveInput) (budget.ReserveResult, error) {
	limit, tz, err := a.budgetSettings(ctx, in.TenantID)
	if err != nil {
		return budget.ReserveResult{}, err
	}
	req := budget.ReserveRequest{
		ID: in.ReservationID, JobID: in.JobID, Model: in.Model,
		Micros:      a.Prices.CostMicros(in.Model, in.TokensIn, in.TokensOut) * int64(max(in.Calls, 1)),
		LimitMicros: limit, Timezone: tz,
	}
	out, st, err := a.callBudget(ctx, in.TenantID, limit, tz, budget.BatchItem{Reserve: &req})
	if err != nil {
		return budget.ReserveResult{}, err
	}
	if out.Reserve == nil {
		return budget.ReserveResult{}, errors.New("budget reserve: no answer")
	}
	res := *out.Reserve
	res.Status = st
	if a.Metrics != nil {
		a.Metrics.Budget(in.TenantID, res.Status.LimitMicros, res.Status.RemainingMicros)
		if res.Decision == budget.Exhausted {
			a.Metrics.Rejected(in.TenantID, in.Model)
		}
	}
	if res.Decision == budget.Held {
		return budget.ReserveResult{}, temporal.NewApplicationErrorWithOptions(
			"the AI budget is held by other calls in flight; asking again once they settle", ErrTypeBudgetHeld,
			temporal.ApplicationErrorOptions{NextRetryDelay: heldRetryDelay})
	}
	return res, nil
}

// SettleInput is what one call cost.
type SettleInput struct {
	TenantID      string `json:"tenant_id"`
	ReservationID string `json:"reservation_id"`
	JobID         string `json:"job_id"`
	Purpose       string `json:"purpose"` // e.g. "report:summary"
	Model         string `json:"model"`
	TokensIn      int    `json:"tokens_in"`
	TokensOut     int    `json:"tokens_out"`
	CostMicros    int64  `json:"cost_micros"`
}

// Settle replaces the reservation with the actual cost and mirrors the spend in Postgres.
func (a *Activities) Settle(ctx context.Context, in SettleInput) (budget.SettleResult, error) {
	limit, tz, err := a.budgetSettings(ctx, in.TenantID)
	if err != nil {
		return budget.SettleResult{}, err
	}
	out, st, err := a.callBudget(ctx, in.TenantID, limit, tz, budget.BatchItem{
		Settle: &budget.SettleRequest{ID: in.ReservationID, ActualMicros: in.CostMicros}})
	if err != nil {
		return budget.SettleResult{}, err
	}
	if out.Settle == nil {
		return budget.SettleResult{}, errors.New("budget settle: no answer")
	}
	res := *out.Settle
	res.Status = st
	if err := a.Store.RecordAISpend(ctx, store.AISpend{
		ReservationID: in.ReservationID, TenantID: in.TenantID, JobID: in.JobID, Purpose: in.Purpose, Model: in.Model,
		TokensIn: in.TokensIn, TokensOut: in.TokensOut, CostMicros: in.CostMicros, PeriodStart: res.Status.PeriodStart,
	}); err != nil {
		return budget.SettleResult{}, fmt.Errorf("mirror AI spend: %w", err)
	}
	if a.Metrics != nil {
		a.Metrics.Budget(in.TenantID, res.Status.LimitMicros, res.Status.RemainingMicros)
	}
	return res, nil
}

// ReleaseInput drops a reservation whose call was not made.
type ReleaseInput struct {
	TenantID      string `json:"tenant_id"`
	ReservationID string `json:"reservation_id"`
}

// Release gives a reservation back to the budget.
func (a *Activities) Release(ctx context.Context, in ReleaseInput) (budget.Status, error) {
	limit, tz, err := a.budgetSettings(ctx, in.TenantID)
	if err != nil {
		return budget.Status{}, err
	}
	_, st, err := a.callBudget(ctx, in.TenantID, limit, tz, budget.BatchItem{Release: &budget.ReleaseRequest{ID: in.ReservationID}})
	return st, err
}

// BudgetSettings returns the tenant's monthly limit and time zone.
func (a *Activities) budgetSettings(ctx context.Context, tenantID string) (int64, string, error) {
	s, tz, err := a.Store.TenantAISettings(ctx, tenantID)
	if err != nil {
		return 0, "", fmt.Errorf("tenant AI settings: %w", err)
	}
	limit := a.DefaultLimitMicros
	if limit == 0 {
		limit = budget.DefaultLimitMicros
	}
	if s.BudgetLimitMicros != nil {
		limit = *s.BudgetLimitMicros
	}
	if tz == "" {
		tz = "UTC"
	}
	return limit, tz, nil
}

// updateBudget sends one batch update to the tenant's budget workflow, starting it if needed.
func (a *Activities) updateBudget(ctx context.Context, tenantID string, limit int64, tz string, req budget.BatchRequest) (budget.BatchResult, error) {
	const name = budget.UpdateBatch
	var out budget.BatchResult
	ctx = codec.WithTenant(ctx, tenantID) // the budget workflow is the tenant's
	update := client.UpdateWorkflowOptions{
		WorkflowID:   budget.WorkflowID(tenantID),
		UpdateID:     "batch/" + uuid.NewString(),
		UpdateName:   name,
		Args:         []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	}
	// Almost always the tenant's budget workflow is running and a plain update reaches it;
	// Update-With-Start, which also starts it, is the fallback for the tenant's first call
	// (and the first after a retention purge). The plain update is the cheaper call for the
	// server, and these are the hottest calls of report generation.
	h, err := a.Client.UpdateWorkflow(ctx, update)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		start := a.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID:                       budget.WorkflowID(tenantID),
			TaskQueue:                itemporal.TaskQueueBudget,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				itemporal.SearchAttrTenantID.ValueSet(tenantID),
				itemporal.SearchAttrJobKind.ValueSet(budget.JobKind),
			),
		}, budget.WorkflowType, budget.Input{TenantID: tenantID, LimitMicros: limit, Timezone: tz})
		update.WorkflowID = ""
		h, err = a.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: start, UpdateOptions: update})
	}
	if err != nil {
		return out, fmt.Errorf("budget %s: %w", name, err)
	}
	if err := h.Get(ctx, &out); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == ErrTypeBadConfig {
			return out, temporal.NewNonRetryableApplicationError(app.Error(), ErrTypeBadConfig, err)
		}
		return out, fmt.Errorf("budget %s: %w", name, err)
	}
	return out, nil
}

// WriteInput is one LLM call for a section.
type WriteInput struct {
	TenantID string      `json:"tenant_id"`
	Request  llm.Request `json:"request"`
}

// Write asks the writer for a section. A provider's 429 or 5xx fails the attempt so the
// RetryPolicy tries again (after Retry-After when given); a 400 fails it for good.
func (a *Activities) Write(ctx context.Context, in WriteInput) (llm.Response, error) {
	start := time.Now()
	resp, err := a.Writer.Write(ctx, in.Request)
	if err != nil {
		return llm.Response{}, a.providerFailure(ctx, in.TenantID, in.Request.Model, "section "+in.Request.Section, start, err)
	}
	if a.Metrics != nil {
		a.Metrics.Call(in.TenantID, resp.Model, "ok", time.Since(start), resp.TokensIn, resp.TokensOut, resp.CostMicros)
	}
	return resp, nil
}

// providerFailure records a failed LLM call and turns its error into what the activity
// returns: non-retryable for a 400, retryable (after Retry-After when given) otherwise.
func (a *Activities) providerFailure(ctx context.Context, tenantID, model, what string, start time.Time, err error) error {
	pe, ok := llm.AsProviderError(err)
	status := "transport_error"
	switch {
	case ok && pe.Status == 429:
		status = "rate_limited"
	case ok && pe.Status >= 500:
		status = "server_error"
	case ok && pe.Status >= 400:
		status = "client_error"
	}
	if a.Metrics != nil {
		a.Metrics.Call(tenantID, model, status, time.Since(start), 0, 0, 0)
	}
	if !ok {
		return err
	}
	if !pe.Retryable() {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %s", what, pe.Error()), ErrTypeProviderRejected, nil)
	}
	opts := temporal.ApplicationErrorOptions{}
	if pe.RetryAfter > 0 {
		opts.NextRetryDelay = pe.RetryAfter
	}
	activity.GetLogger(ctx).Warn("LLM call failed; will retry", "call", what, "status", pe.Status, "retry_after", pe.RetryAfter)
	return temporal.NewApplicationErrorWithOptions(pe.Error(), ErrTypeProviderUnavailable, opts)
}

// EmitReportGeneratedInput names a finished report.
type EmitReportGeneratedInput struct {
	TenantID   string    `json:"tenant_id"`
	ReportID   string    `json:"report_id"`
	Status     string    `json:"status"`
	Sections   int       `json:"sections"`
	CostMicros int64     `json:"cost_micros"`
	Coverage   float64   `json:"coverage"`
	At         time.Time `json:"at"`
}

// EmitReportGenerated emits reporting.generated (once per report, however often it runs).
func (a *Activities) EmitReportGenerated(ctx context.Context, in EmitReportGeneratedInput) error {
	return events.Emitter{Client: a.Client}.Emit(ctx, events.Event{
		ID: events.IDFor(in.TenantID, events.TypeReportGenerated, in.ReportID), TenantID: in.TenantID,
		Type: events.TypeReportGenerated, OccurredAt: in.At,
		Data: map[string]any{"report_id": in.ReportID, "status": in.Status, "sections": in.Sections,
			"cost_dollars": float64(in.CostMicros) / 1e6, "coverage": in.Coverage, "links": map[string]string{"report": "/v1/gen-reports/" + in.ReportID}},
	})
}

// EmitBudgetAlert records a crossed threshold once per period, logs it and emits
// ai.budget.alert for the notification rules.
func (a *Activities) EmitBudgetAlert(ctx context.Context, in budget.Alert) error {
	start, err := time.Parse(time.RFC3339, in.PeriodStart)
	if err != nil {
		return temporal.NewNonRetryableApplicationError("bad period start "+in.PeriodStart, ErrTypeBadConfig, err)
	}
	first, err := a.Store.RecordBudgetAlert(ctx, in.TenantID, start, in.Threshold, in.SpentMicros, in.LimitMicros)
	if err != nil {
		return fmt.Errorf("record budget alert: %w", err)
	}
	if first {
		a.log().Warn("AI budget alert", "tenant", in.TenantID, "threshold_percent", in.Threshold,
			"spent_dollars", float64(in.SpentMicros)/1e6, "limit_dollars", float64(in.LimitMicros)/1e6, "period_start", in.PeriodStart)
		if a.Metrics != nil {
			a.Metrics.Alert(in.TenantID, in.Threshold)
		}
	}
	key := fmt.Sprintf("%s/%d", in.PeriodStart, in.Threshold)
	return events.Emitter{Client: a.Client}.Emit(ctx, events.Event{
		ID: events.IDFor(in.TenantID, events.TypeAIBudgetAlert, key), TenantID: in.TenantID, Type: events.TypeAIBudgetAlert,
		OccurredAt: time.Now().UTC(),
		Data: map[string]any{"threshold_percent": in.Threshold, "spent_dollars": float64(in.SpentMicros) / 1e6,
			"limit_dollars": float64(in.LimitMicros) / 1e6, "period_start": in.PeriodStart},
	})
}
