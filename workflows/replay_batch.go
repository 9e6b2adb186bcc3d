package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/deliveries"
	"github.com/impactflow/impactflow/internal/jobs"
)

// MaxReplayBatch bounds how many deliveries one batch replays.
const MaxReplayBatch = 1000

// defaultReplayConcurrency is how many resets a batch runs at once.
const defaultReplayConcurrency = 8

// ReplayBatchInput is a bulk replay (IDs) or a retry-all-failed (Failed filter).
type ReplayBatchInput struct {
	TenantID    string                   `json:"tenant_id"`
	IDs         []string                 `json:"ids,omitempty"`
	Failed      *deliveries.FailedFilter `json:"failed,omitempty"`
	Force       bool                     `json:"force"`
	Concurrency int                      `json:"concurrency"`
	By          string                   `json:"by"`
}

// ReplayBatchResult says what happened to each delivery.
type ReplayBatchResult struct {
	Total    int                     `json:"total"`
	Replayed int                     `json:"replayed"`
	Refused  int                     `json:"refused"`
	Items    []deliveries.ReplayItem `json:"items"`
}

// ReplayBatchWorkflow replays many deliveries, each by resetting its own workflow, at most
// Concurrency at a time, answering the progress query as it goes.
func ReplayBatchWorkflow(ctx workflow.Context, in ReplayBatchInput) (ReplayBatchResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	})
	progress := jobs.Progress{Step: "list"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) { return progress, nil }); err != nil {
		return ReplayBatchResult{}, err
	}
	var a *deliveries.Activities
	ids := in.IDs
	if in.Failed != nil {
		if err := workflow.ExecuteActivity(ctx, a.ListFailedDeliveries, *in.Failed).Get(ctx, &ids); err != nil {
			return ReplayBatchResult{}, err
		}
	}
	if len(ids) > MaxReplayBatch {
		ids = ids[:MaxReplayBatch]
	}
	limit := in.Concurrency
	if limit <= 0 {
		limit = defaultReplayConcurrency
	}
	res := ReplayBatchResult{Total: len(ids), Items: make([]deliveries.ReplayItem, len(ids))}
	progress = jobs.Progress{Total: int64(len(ids)), Step: "replay"}

	sel := workflow.NewSelector(ctx)
	inFlight := 0
	for i, id := range ids {
		if inFlight == limit {
			sel.Select(ctx)
			inFlight--
		}
		f := workflow.ExecuteActivity(ctx, a.ReplayDelivery, deliveries.ReplayItemInput{TenantID: in.TenantID, ID: id, Force: in.Force, By: in.By})
		inFlight++
		sel.AddFuture(f, func(f workflow.Future) {
			var item deliveries.ReplayItem
			if err := f.Get(ctx, &item); err != nil {
				item = deliveries.ReplayItem{ID: id, Result: "error", Message: err.Error()}
			}
			res.Items[i] = item
			progress.Done++
		})
	}
	for ; inFlight > 0; inFlight-- {
		sel.Select(ctx)
	}
	for _, item := range res.Items {
		if item.Result == "replayed" {
			res.Replayed++
		} else {
			res.Refused++
		}
	}
	progress.Step = "done"
	return res, nil
}
