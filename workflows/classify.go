package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/reports"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/llm"
)

// Classification outcomes.
const (
	ClassifyCompleted       = "completed"
	ClassifyBudgetExhausted = "budget_exhausted"
)

// ErrTypeClassificationFailed fails a classification whose batch still has an invalid
// answer after being asked again; the batches before it keep their labels.
const ErrTypeClassificationFailed = "ClassificationFailed"

const (
	defaultClassifyBatch = 20
	maxClassifyBatch     = 100
	// classifyBatchesPerRun bounds one run's history; the workflow continues as new after.
	classifyBatchesPerRun = 50
	// classifyPromptChars is the classification prompt's own words, for estimates.
	classifyPromptChars = 1400
	// classifyTokensPerSnippet is the answer's size per snippet, the call's max tokens.
	classifyTokensPerSnippet = 60
)

// ClassifyInput starts a ClassifyWorkflow; the cursor fields carry a run's progress into
// the next after continue-as-new.
type ClassifyInput struct {
	TenantID string   `json:"tenant_id"`
	JobID    string   `json:"job_id"`
	Programs []string `json:"programs"`
	// Limit is the most snippets this job labels (0: every unclassified one).
	Limit int    `json:"limit"`
	Model string `json:"model"`
	// Offline: the offline lexicon classifier runs, which costs nothing, so no budget is reserved.
	Offline   bool `json:"offline"`
	BatchSize int  `json:"batch_size,omitempty"`

	// Carried across continue-as-new.
	After   string         `json:"after,omitempty"`
	Counted bool           `json:"counted,omitempty"`
	Totals  ClassifyResult `json:"totals"`
}

// ClassifyResult is the job's result.
type ClassifyResult struct {
	Status     string `json:"status"`
	Classified int64  `json:"classified"`
	Total      int64  `json:"total"`
	Batches    int    `json:"batches"`
	Reasked    int    `json:"reasked"`
	Model      string `json:"model"`
	Offline    bool   `json:"offline"`
	TokensIn   int    `json:"tokens_in"`
	TokensOut  int    `json:"tokens_out"`
	CostMicros int64  `json:"cost_micros"`
	Message    string `json:"message,omitempty"`
}

// ClassifyWorkflow labels a tenant's unclassified evidence snippets with outcome
// dimensions and scores, a batch at a time: page the next snippet IDs, reserve the batch's
// estimated cost from the tenant's budget, classify (the activity redacts the texts before
// they leave the process), settle, check the answer strictly (asking once more with the
// problems listed), store the labels. It stops with a budget-exhausted result before a
// call the budget cannot cover, and continues as new every classifyBatchesPerRun batches.
func ClassifyWorkflow(ctx workflow.Context, in ClassifyInput) (ClassifyResult, error) {
	if in.BatchSize <= 0 {
		in.BatchSize = defaultClassifyBatch
	}
	in.BatchSize = min(in.BatchSize, maxClassifyBatch)
	res := in.Totals
	res.Model, res.Offline = in.Model, in.Offline
	progress := &jobs.Progress{Done: res.Classified, Total: res.Total, Step: "classify"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) {
		return *progress, nil
	}); err != nil {
		return res, err
	}
	dbCtx := dbOptions(ctx, reports.ErrTypeBadConfig)
	var a *reports.Activities
	runID := workflow.GetInfo(ctx).WorkflowExecution.RunID

	for batches := 0; ; batches++ {
		want := in.BatchSize
		if in.Limit > 0 {
			want = min(want, in.Limit-int(res.Classified))
		}
		if want <= 0 {
			break
		}
		if batches >= classifyBatchesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			next := in
			next.Totals = res
			return res, workflow.NewContinueAsNewError(ctx, ClassifyWorkflow, next)
		}
		var page reports.ClassifyPageResult
		if err := workflow.ExecuteActivity(dbCtx, a.ClassifyPage, reports.ClassifyPageInput{
			TenantID: in.TenantID, Programs: in.Programs, After: in.After, Limit: want, Count: !in.Counted,
		}).Get(ctx, &page); err != nil {
			return res, err
		}
		if !in.Counted {
			in.Counted = true
			res.Total = page.Total
			if in.Limit > 0 {
				res.Total = min(res.Total, int64(in.Limit))
			}
			progress.Total = res.Total
		}
		if len(page.Snippets) == 0 {
			break
		}
		ids := make([]string, len(page.Snippets))
		chars := classifyPromptChars
		for i, s := range page.Snippets {
			ids[i] = s.SnippetID
			chars += s.Chars + len(s.SnippetID) + 16
		}
		in.After = ids[len(ids)-1]
		n, exhausted, err := classifyBatch(ctx, in, &res, runID, res.Batches+1, ids, chars)
		if err != nil {
			progress.Step = "failed"
			return res, err
		}
		if exhausted {
			res.Status = ClassifyBudgetExhausted
			res.Message = "the tenant's AI budget for this period is exhausted; classification stopped before its next LLM call"
			progress.Step = "done"
			return res, nil
		}
		res.Batches++
		res.Classified += n
		progress.Done = res.Classified
	}
	res.Status = ClassifyCompleted
	progress.Step = "done"
	return res, nil
}

// classifyBatch classifies one batch: it returns how many snippets got labels, or
// exhausted when the budget could not cover the call.
func classifyBatch(ctx workflow.Context, in ClassifyInput, res *ClassifyResult, runID string, batch int, ids []string, chars int) (int64, bool, error) {
	var a *reports.Activities
	llmCtx := llmOptions(ctx, reports.ErrTypeProviderRejected, reports.ErrTypeNoClassifier)
	dbCtx := dbOptions(ctx)
	maxTokens := classifyTokensPerSnippet*len(ids) + 100
	var problems []string
	for attempt := 1; attempt <= 2; attempt++ {
		resID := fmt.Sprintf("%s/%.8s/classify/%d/%d", in.JobID, runID, batch, attempt)
		if !in.Offline {
			est := chars
			for _, p := range problems {
				est += len(p) + 4
			}
			granted, err := reserve(ctx, reports.ReserveInput{
				TenantID: in.TenantID, ReservationID: resID, JobID: in.JobID, Model: in.Model,
				TokensIn: est/4 + 1, TokensOut: maxTokens,
			})
			if err != nil {
				return 0, false, err
			}
			if !granted {
				return 0, true, nil
			}
		}
		var out reports.ClassifyBatchResult
		err := workflow.ExecuteActivity(llmCtx, a.ClassifyBatch, reports.ClassifyBatchInput{
			TenantID: in.TenantID, SnippetIDs: ids, Model: in.Model, MaxTokens: maxTokens, Problems: problems,
		}).Get(ctx, &out)
		if !in.Offline {
			// Settle even a failed call (at what it reported: nothing), so the reservation
			// does not hold the budget until it expires; on a context that survives cancellation.
			settle := reports.SettleInput{TenantID: in.TenantID, ReservationID: resID, JobID: in.JobID, Purpose: "classify",
				Model: in.Model, TokensIn: out.Response.TokensIn, TokensOut: out.Response.TokensOut, CostMicros: out.Response.CostMicros}
			if out.Response.Model != "" {
				settle.Model = out.Response.Model
			}
			sctx := settleOptions(ctx)
			if serr := workflow.ExecuteActivity(sctx, a.Settle, settle).Get(sctx, nil); serr != nil && err == nil {
				return 0, false, serr
			}
		}
		if err != nil {
			return 0, false, err
		}
		res.TokensIn += out.Response.TokensIn
		res.TokensOut += out.Response.TokensOut
		res.CostMicros += out.Response.CostMicros
		if out.Response.Model != "" {
			res.Model = out.Response.Model
		}
		// The check is a pure function of the answer and the IDs asked about, so it runs
		// here, deterministically.
		items, found := llm.CheckClassification(out.Response.Text, out.SnippetIDs)
		if len(found) == 0 {
			if len(items) == 0 {
				return 0, false, nil
			}
			if err := workflow.ExecuteActivity(dbCtx, a.SaveLabels, reports.SaveLabelsInput{
				TenantID: in.TenantID, JobID: in.JobID, Model: res.Model, At: workflow.Now(ctx), Items: items,
			}).Get(ctx, nil); err != nil {
				return 0, false, err
			}
			return int64(len(items)), false, nil
		}
		problems = found
		if attempt == 1 {
			res.Reasked++
		}
	}
	return 0, false, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("batch %d (snippets %s to %s) still has an invalid answer after being asked again: %s",
			batch, ids[0], ids[len(ids)-1], strings.Join(problems, "; ")),
		ErrTypeClassificationFailed, nil, *res)
}
