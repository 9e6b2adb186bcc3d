package workflows

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/reports"
	"github.com/impactflow/impactflow/internal/budget"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/llm"
)

// Report outcomes.
const (
	ReportCompleted       = "completed"
	ReportBudgetExhausted = "budget_exhausted"
	ReportCitationsFailed = "citations_failed"
)

// ErrTypeCitationsFailed fails a report whose section still cites no valid evidence after
// being asked again: the report is recorded with the problems, never passed off as good.
const ErrTypeCitationsFailed = "CitationsFailed"

// Section states, as the progress query shows them.
const (
	sectionQueued    = "queued"
	sectionReserving = "reserving"
	sectionWriting   = "writing"
	sectionReasking  = "re-asking"
	sectionWritten   = "written"
	sectionFailed    = "citations_failed"
	sectionSkipped   = "skipped"
)

// reportLocalSteps is the change that runs the report's short steps (Postgres, budget,
// event) as local activities; histories from before it ran each as a regular activity.
const reportLocalSteps = "report-local-steps"

const (
	defaultMaxTokens       = 800
	defaultSectionParallel = 4
	reportSnippets         = 24
)

// ReportInput starts a ReportWorkflow.
type ReportInput struct {
	TenantID  string   `json:"tenant_id"`
	JobID     string   `json:"job_id"`
	From      string   `json:"from"` // YYYY-MM-DD, inclusive
	To        string   `json:"to"`   // YYYY-MM-DD, inclusive
	Programs  []string `json:"programs"`
	Sections  []string `json:"sections"`
	Locale    string   `json:"locale"`
	Model     string   `json:"model"`
	MaxTokens int      `json:"max_tokens"`
	// Offline: the platform writes with the offline extractive writer, which costs nothing,
	// so no budget is reserved.
	Offline bool `json:"offline"`
	// SectionParallel bounds how many sections are written at once (0: 4).
	SectionParallel int `json:"section_parallel,omitempty"`
	// Version is the command sequence the workflow follows, fixed by the starter
	// (ReportVersionCurrent). Like NotificationInput.Version it lives in the input rather
	// than behind workflow.GetVersion, whose marker comes with a TemporalChangeVersion
	// upsert: a visibility write per report, on the engine's busiest path. Version 0 decides
	// by the reportLocalSteps marker, as runs started before the field did.
	Version int `json:"version,omitempty"`
}

// ReportVersionLocalSteps runs the short steps as local activities (reportLocalSteps)
// without the marker that GetVersion records for it.
const ReportVersionLocalSteps = 1

// ReportVersionCurrent is the Version a new report starts with.
const ReportVersionCurrent = ReportVersionLocalSteps

// SectionResult is how one section went.
type SectionResult struct {
	Section  string  `json:"section"`
	Status   string  `json:"status"`
	Attempts int     `json:"attempts"`
	Coverage float64 `json:"coverage"`
}

// ReportResult is the job's result; the report itself is read with GET /v1/gen-reports/:id.
type ReportResult struct {
	ReportID   string            `json:"report_id"`
	Status     string            `json:"status"`
	Sections   []SectionResult   `json:"sections"`
	Model      string            `json:"model"`
	Offline    bool              `json:"offline"`
	TokensIn   int               `json:"tokens_in"`
	TokensOut  int               `json:"tokens_out"`
	CostMicros int64             `json:"cost_micros"`
	Coverage   float64           `json:"coverage"`
	Message    string            `json:"message,omitempty"`
	Links      map[string]string `json:"links"`
}

// report is one run's working state, shared by the section goroutines (workflow
// coroutines run one at a time, so plain fields are safe).
type report struct {
	in        ReportInput
	progress  *jobs.Progress
	known     map[string]bool
	redacted  reports.RedactResult
	exhausted bool
	// open are re-ask reservations made but not settled; they are given back if the report stops.
	open  map[string]bool
	runID string
	// held is the report's own reservation, covering one call per section; firstCalls sums
	// what those calls cost, settled against it once the sections are done.
	held       string
	firstCalls reports.SettleInput
	// local: the short steps run as local activities (reportLocalSteps).
	local bool
}

// ReportWorkflow writes an AI report: gather the period's figures and evidence, redact
// them, reserve budget for one call per section, then per section write and check
// citations (asking once more, with a reservation of its own, when they fail); settle
// what the calls cost, persist the report with its lineage and announce it.
func ReportWorkflow(ctx workflow.Context, in ReportInput) (ReportResult, error) {
	started := workflow.Now(ctx)
	if in.MaxTokens <= 0 {
		in.MaxTokens = defaultMaxTokens
	}
	if in.SectionParallel <= 0 {
		in.SectionParallel = defaultSectionParallel
	}
	progress := &jobs.Progress{Total: int64(len(in.Sections)), Step: "gather", Sections: map[string]string{}}
	for _, s := range in.Sections {
		progress.Sections[s] = sectionQueued
	}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) {
		return *progress, nil
	}); err != nil {
		return ReportResult{}, err
	}

	// Every short step as a regular activity costs a trip through matching and a workflow
	// task; under a burst of reports those trips, not the LLM, were most of a report's
	// time. As local activities, gather, redact and reserve run in the report's first
	// workflow task and settle, persist and announce in its last. The LLM calls stay
	// regular activities: long, retried after Retry-After, and they must survive a
	// worker restart.
	local := in.Version >= ReportVersionLocalSteps ||
		workflow.GetVersion(ctx, reportLocalSteps, workflow.DefaultVersion, 1) == 1

	dbCtx := dbOptions(ctx, reports.ErrTypeNoEvidence, reports.ErrTypeBadConfig)
	var a *reports.Activities
	r := &report{in: in, progress: progress, known: map[string]bool{}, open: map[string]bool{}, runID: workflow.GetInfo(ctx).WorkflowExecution.RunID,
		local: local}

	var gathered reports.GatherResult
	if err := r.step(dbCtx, a.Gather, reports.GatherInput{
		TenantID: in.TenantID, From: in.From, To: in.To, Programs: in.Programs, Locale: in.Locale, MaxSnippets: reportSnippets,
	}).Get(ctx, &gathered); err != nil {
		return ReportResult{}, err
	}
	progress.Step = "redact"
	if err := r.step(dbCtx, a.Redact, reports.RedactInput{
		TenantID: in.TenantID, Evidence: gathered.Evidence, Metrics: gathered.Metrics,
	}).Get(ctx, &r.redacted); err != nil {
		return ReportResult{}, err
	}
	for _, s := range r.redacted.Snippets {
		r.known[s.ID] = true
	}

	progress.Step = "write"
	if !in.Offline {
		if err := r.reserveReport(ctx); err != nil {
			return ReportResult{}, err
		}
	}
	outcomes := make([]reports.SectionOutcome, len(in.Sections))
	var firstErr error
	sem := workflow.NewSemaphore(ctx, int64(in.SectionParallel))
	wg := workflow.NewWaitGroup(ctx)
	for i, section := range in.Sections {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			if err := sem.Acquire(ctx, 1); err != nil {
				return
			}
			defer sem.Release(1)
			out, err := r.writeSection(ctx, section)
			outcomes[i] = out
			if err != nil && firstErr == nil {
				firstErr = err
			}
			progress.Done++
		})
	}
	wg.Wait(ctx)

	// Settling the report's reservation and persisting the report touch different things
	// (the budget workflow, the report tables), so with local steps they run side by side;
	// histories from before settled first. A failed or canceled report still settles
	// before it stops, and persists nothing.
	settled := r.settleReport(ctx)
	if !r.local || ctx.Err() != nil || firstErr != nil {
		if err := settled(); err != nil && firstErr == nil && ctx.Err() == nil {
			firstErr = err
		}
		settled = func() error { return nil }
	}
	if ctx.Err() != nil || firstErr != nil {
		r.releaseOpen(ctx)
		if ctx.Err() != nil {
			return ReportResult{}, temporal.NewCanceledError("report canceled")
		}
		return ReportResult{}, firstErr
	}

	status := ReportCompleted
	var failed []string
	for _, o := range outcomes {
		if o.Status == sectionFailed {
			status = ReportCitationsFailed
			failed = append(failed, o.Section)
		}
	}
	persisted := outcomes
	if r.exhausted {
		// Never half-written: a report that ran out of budget keeps no sections, only its
		// lineage saying so; what it spent is in the budget ledger.
		status, persisted = ReportBudgetExhausted, nil
	}

	progress.Step = "persist"
	var saved reports.PersistResult
	err := r.step(dbCtx, a.PersistReport, reports.PersistInput{
		ReportID: in.JobID, TenantID: in.TenantID, Status: status, Locale: in.Locale, From: in.From, To: in.To,
		Programs: in.Programs, Model: in.Model, Offline: in.Offline, Evidence: gathered.Evidence,
		Fingerprint: r.redacted.Fingerprint, Redactions: r.redacted.Counts, Metrics: r.redacted.Metrics,
		Sections: persisted, DurationMS: workflow.Now(ctx).Sub(started).Milliseconds(),
	}).Get(ctx, &saved)
	// The settle must land before the workflow ends, whatever persisting did. Should it
	// fail (after ten minutes of retries), the stored report is still whole: every section
	// it keeps was written; what failed is recording what it cost, and the job says so.
	if serr := settled(); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return ReportResult{}, err
	}

	res := resultOf(in, status, outcomes)
	switch status {
	case ReportCitationsFailed:
		progress.Step = "failed"
		return ReportResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("sections %v still cite no valid evidence after being asked again; the report is stored with the problems", failed),
			ErrTypeCitationsFailed, nil, res)
	case ReportBudgetExhausted:
		progress.Step = "done"
		res.Message = "the tenant's AI budget for this period is exhausted; the report was stopped before its next LLM call"
		return res, nil
	}

	progress.Step = "announce"
	emitCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	})
	if err := r.step(emitCtx, a.EmitReportGenerated, reports.EmitReportGeneratedInput{
		TenantID: in.TenantID, ReportID: in.JobID, Status: status, Sections: len(outcomes),
		CostMicros: res.CostMicros, Coverage: res.Coverage, At: workflow.Now(ctx),
	}).Get(ctx, nil); err != nil {
		return ReportResult{}, err
	}
	progress.Step = "done"
	return res, nil
}

// writeSection writes one section: reserve, write, settle, check; asked once more with the
// problems listed when its citations fail. It stops before any LLM call once the budget
// is exhausted or the report is canceled.
func (r *report) writeSection(ctx workflow.Context, section string) (reports.SectionOutcome, error) {
	in := r.in
	var a *reports.Activities
	out := reports.SectionOutcome{Section: section, Model: in.Model, PromptVersion: llm.PromptVersion, Status: sectionSkipped}
	settleCtx := settleOptions(ctx)
	llmCtx := llmOptions(ctx, reports.ErrTypeProviderRejected)

	req := llm.Request{
		Section: section, Locale: in.Locale, Model: in.Model, MaxTokens: in.MaxTokens,
		Period: in.From + " – " + in.To, Metrics: r.redacted.Metrics, Snippets: r.redacted.Snippets,
	}
	for attempt := 1; attempt <= 2; attempt++ {
		if r.exhausted || ctx.Err() != nil {
			r.progress.Sections[section] = sectionSkipped
			return out, nil
		}
		resID := fmt.Sprintf("%s/%.8s/%s/%d", in.JobID, r.runID, section, attempt)
		// The first call of each section is covered by the report's own reservation; a
		// re-ask is one call more, reserved on its own.
		reask := !in.Offline && attempt > 1
		if reask {
			r.progress.Sections[section] = sectionReserving
			granted, err := r.reserve(ctx, reports.ReserveInput{
				TenantID: in.TenantID, ReservationID: resID, JobID: in.JobID, Model: in.Model,
				TokensIn: estimateTokens(req), TokensOut: in.MaxTokens,
			})
			if err != nil {
				return out, err
			}
			if !granted {
				r.exhausted = true
				r.progress.Sections[section] = sectionSkipped
				return out, nil
			}
			r.open[resID] = true
		}
		if attempt == 1 {
			r.progress.Sections[section] = sectionWriting
		} else {
			r.progress.Sections[section] = sectionReasking
		}
		var resp llm.Response
		if err := workflow.ExecuteActivity(llmCtx, a.Write, reports.WriteInput{TenantID: in.TenantID, Request: req}).Get(ctx, &resp); err != nil {
			return out, err
		}
		if !reask && !in.Offline {
			r.firstCalls.TokensIn += resp.TokensIn
			r.firstCalls.TokensOut += resp.TokensOut
			r.firstCalls.CostMicros += resp.CostMicros
			r.firstCalls.Model = resp.Model
		}
		if reask {
			if err := r.step(settleCtx, a.Settle, reports.SettleInput{
				TenantID: in.TenantID, ReservationID: resID, JobID: in.JobID, Purpose: "report:" + section,
				Model: resp.Model, TokensIn: resp.TokensIn, TokensOut: resp.TokensOut, CostMicros: resp.CostMicros,
			}).Get(ctx, nil); err != nil {
				return out, err
			}
			delete(r.open, resID)
		}
		out.Attempts = attempt
		out.Model, out.PromptVersion = resp.Model, resp.PromptVersion
		out.TokensIn += resp.TokensIn
		out.TokensOut += resp.TokensOut
		out.CostMicros += resp.CostMicros
		out.DurationMS += resp.Duration.Milliseconds()

		// The citation check is a pure function of the answer and the gathered IDs, so it
		// runs here, deterministically, rather than as an activity with nothing to retry.
		check := llm.CheckCitations(resp.Text, r.known)
		out.Paragraphs, out.Coverage, out.Problems = check.Paragraphs, check.Coverage, check.Problems
		if len(check.Problems) == 0 {
			out.Status = sectionWritten
			r.progress.Sections[section] = sectionWritten
			return out, nil
		}
		req.Problems = check.Problems
	}
	out.Status = sectionFailed
	r.progress.Sections[section] = sectionFailed
	return out, nil
}

// reserveReport holds the estimated cost of one call per section before any is made.
// One reservation per report, rather than one per call, keeps the traffic to the tenant's
// budget workflow, which handles its updates one at a time, to two updates per report.
func (r *report) reserveReport(ctx workflow.Context) error {
	in := r.in
	id := fmt.Sprintf("%s/%.8s/report", in.JobID, r.runID)
	granted, err := r.reserve(ctx, reports.ReserveInput{
		TenantID: in.TenantID, ReservationID: id, JobID: in.JobID, Model: in.Model,
		TokensIn: estimateTokens(llm.Request{Metrics: r.redacted.Metrics, Snippets: r.redacted.Snippets}), TokensOut: in.MaxTokens,
		Calls: len(in.Sections),
	})
	if err != nil {
		return err
	}
	if !granted {
		r.exhausted = true
		for _, s := range in.Sections {
			r.progress.Sections[s] = sectionSkipped
		}
		return nil
	}
	r.held = id
	r.firstCalls.Model = in.Model
	return nil
}

// settleReport starts replacing the report's reservation with what its first calls cost,
// even when the report is being canceled: the money is spent. wait returns how it went;
// call it once.
func (r *report) settleReport(ctx workflow.Context) (wait func() error) {
	if r.held == "" {
		return func() error { return nil }
	}
	var a *reports.Activities
	in := r.firstCalls
	in.TenantID, in.ReservationID, in.JobID, in.Purpose = r.in.TenantID, r.held, r.in.JobID, "report"
	sctx := settleOptions(ctx)
	f := r.step(sctx, a.Settle, in)
	return func() error {
		if err := f.Get(sctx, nil); err != nil {
			return err
		}
		r.held = ""
		return nil
	}
}

// reserve holds budget for a call against the tenant's budget workflow; false when the
// budget cannot cover it.
func (r *report) reserve(ctx workflow.Context, in reports.ReserveInput) (bool, error) {
	var a *reports.Activities
	var rr budget.ReserveResult
	if err := r.step(budgetOptions(ctx), a.Reserve, in).Get(ctx, &rr); err != nil {
		return false, err
	}
	return rr.Granted, nil
}

// step runs one of the report's short steps with ctx's activity options: as a local
// activity with the same timeouts and retry policy (reportLocalSteps), or as a regular
// activity on histories from before it.
func (r *report) step(ctx workflow.Context, activity, arg any) workflow.Future {
	if !r.local {
		return workflow.ExecuteActivity(ctx, activity, arg)
	}
	o := workflow.GetActivityOptions(ctx)
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: o.StartToCloseTimeout, ScheduleToCloseTimeout: o.ScheduleToCloseTimeout, RetryPolicy: o.RetryPolicy,
	})
	return workflow.ExecuteLocalActivity(ctx, activity, arg)
}

// releaseOpen gives back reservations whose calls never settled (the report failed or was
// canceled), on a context that survives the cancellation.
func (r *report) releaseOpen(ctx workflow.Context) {
	if len(r.open) == 0 {
		return
	}
	var a *reports.Activities
	rctx := workflow.WithActivityOptions(newDisconnected(ctx), budgetCallOptions(5*time.Minute))
	var futures []workflow.Future
	for _, id := range slices.Sorted(maps.Keys(r.open)) {
		futures = append(futures, r.step(rctx, a.Release, reports.ReleaseInput{TenantID: r.in.TenantID, ReservationID: id}))
	}
	for _, f := range futures {
		if err := f.Get(rctx, nil); err != nil {
			// The reservation expires by itself (budget.ReservationTTL).
			workflow.GetLogger(ctx).Warn("release of a budget reservation failed", "error", err)
		}
	}
}

// estimateTokens is the prompt's size before it is built: evidence, figures and the
// template's own words.
func estimateTokens(req llm.Request) int {
	n := 1600 // system message, section brief, citation instructions
	for _, s := range req.Snippets {
		n += len(s.ID) + len(s.Source) + len(s.Text) + 8
	}
	for _, m := range req.Metrics {
		n += len(m.Label) + 16
	}
	for _, p := range req.Problems {
		n += len(p) + 4
	}
	return llm.EstimateTokens(string(make([]byte, n)))
}

func resultOf(in ReportInput, status string, outcomes []reports.SectionOutcome) ReportResult {
	res := ReportResult{ReportID: in.JobID, Status: status, Model: in.Model, Offline: in.Offline, Sections: []SectionResult{},
		Links: map[string]string{"report": "/v1/gen-reports/" + in.JobID}}
	var paragraphs, cited float64
	for _, o := range outcomes {
		res.Sections = append(res.Sections, SectionResult{Section: o.Section, Status: o.Status, Attempts: o.Attempts, Coverage: o.Coverage})
		res.TokensIn += o.TokensIn
		res.TokensOut += o.TokensOut
		res.CostMicros += o.CostMicros
		if o.Model != "" && o.Status == sectionWritten {
			res.Model = o.Model
		}
		paragraphs += float64(len(o.Paragraphs))
		cited += o.Coverage * float64(len(o.Paragraphs))
	}
	if paragraphs > 0 {
		res.Coverage = cited / paragraphs
	}
	return res
}

// IsCitationsFailed reports whether err is a report failing its citation check.
func IsCitationsFailed(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == ErrTypeCitationsFailed
}
