package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	analyticsact "github.com/impactflow/impactflow/activities/analytics"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/jobs"
)

// Sync batch sizes: ClickHouse prefers few large inserts; one SyncBatches activity writes
// up to syncBatchesPerActivity of them, heartbeating after each.
const (
	syncBatchSize          = 100000
	syncBatchesPerActivity = 20
	// syncActivitiesPerRun bounds the history of one run; a longer backfill continues as new.
	syncActivitiesPerRun = 100
)

// ClickHouseSyncInput starts a sync: incremental (the schedule, POST /v1/analytics/sync) or
// a backfill of one tenant. Carry is set only when a long run continues as new.
type ClickHouseSyncInput struct {
	Scope analyticsact.Scope `json:"scope"`
	Carry *SyncCarry         `json:"carry,omitempty"`
	// BatchSize overrides syncBatchSize (tests, benchmarks); 0 keeps it.
	BatchSize int `json:"batch_size,omitempty"`
}

// SyncCarry is a run's state handed to its continuation.
type SyncCarry struct {
	RunID     string                     `json:"run_id"`
	StartedAt time.Time                  `json:"started_at"`
	Plan      analyticsact.PlanResult    `json:"plan"`
	Done      analyticsact.BatchesResult `json:"done"`
}

// ClickHouseSyncResult is what a run copied.
type ClickHouseSyncResult struct {
	Mode      string           `json:"mode"`
	TenantID  string           `json:"tenant_id,omitempty"`
	Rows      int64            `json:"rows"`
	Upserts   int64            `json:"upserts"`
	Deletes   int64            `json:"deletes"`
	Tenants   []string         `json:"tenants"`
	Watermark analytics.Cursor `json:"watermark"`
}

// ClickHouseSyncWorkflow copies impact events changed in Postgres into ClickHouse in keyset
// batches, then refreshes the aggregate views and drops the cached answers of the tenants
// that got new data. Postgres or ClickHouse being down makes an activity fail and retry
// until they are back: nothing is skipped, the watermark only moves past written batches.
func ClickHouseSyncWorkflow(ctx workflow.Context, in ClickHouseSyncInput) (ClickHouseSyncResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		// SyncBatches heartbeats after every batch; a lost worker is noticed within this.
		HeartbeatTimeout: 2 * time.Minute,
		// No attempt limit: a dependency outage is waited out, never skipped.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var a *analyticsact.Activities

	carry := in.Carry
	if carry == nil {
		carry = &SyncCarry{RunID: workflow.GetInfo(ctx).WorkflowExecution.ID, StartedAt: workflow.Now(ctx)}
		if err := workflow.ExecuteActivity(ctx, a.Plan, in.Scope).Get(ctx, &carry.Plan); err != nil {
			return ClickHouseSyncResult{}, err
		}
		carry.Done.After = carry.Plan.Start
	}
	progress := jobs.Progress{Done: carry.Done.Rows, Total: carry.Plan.Total, Step: "copy"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) {
		return progress, nil
	}); err != nil {
		return ClickHouseSyncResult{}, err
	}

	batchSize := syncBatchSize
	if in.BatchSize > 0 {
		batchSize = in.BatchSize
	}
	for i := 0; !carry.Done.Done; i++ {
		if i >= syncActivitiesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return ClickHouseSyncResult{}, workflow.NewContinueAsNewError(ctx, ClickHouseSyncWorkflow,
				ClickHouseSyncInput{Scope: in.Scope, Carry: carry, BatchSize: in.BatchSize})
		}
		var res analyticsact.BatchesResult
		err := workflow.ExecuteActivity(ctx, a.SyncBatches, analyticsact.BatchesInput{
			Scope: in.Scope, After: carry.Done.After, Horizon: carry.Plan.Horizon,
			BatchSize: batchSize, MaxBatches: syncBatchesPerActivity,
		}).Get(ctx, &res)
		if err != nil {
			return ClickHouseSyncResult{}, err
		}
		carry.Done = mergeBatches(carry.Done, res)
		progress.Done = carry.Done.Rows
		progress.Total = max(progress.Total, progress.Done)
	}

	progress.Step = "refresh"
	run := analytics.Run{RunID: carry.RunID, Mode: in.Scope.Mode, TenantID: in.Scope.TenantID, StartedAt: carry.StartedAt,
		Rows: carry.Done.Rows, Upserts: carry.Done.Upserts, Deletes: carry.Done.Deletes}
	if err := workflow.ExecuteActivity(ctx, a.Finish, analyticsact.FinishInput{Run: run, Tenants: carry.Done.Tenants}).Get(ctx, nil); err != nil {
		return ClickHouseSyncResult{}, err
	}
	progress.Step = "done"
	tenants := carry.Done.Tenants
	if tenants == nil {
		tenants = []string{}
	}
	return ClickHouseSyncResult{Mode: in.Scope.Mode, TenantID: in.Scope.TenantID, Rows: carry.Done.Rows, Upserts: carry.Done.Upserts,
		Deletes: carry.Done.Deletes, Tenants: tenants, Watermark: carry.Done.After}, nil
}

// mergeBatches adds one activity's batches to the run's totals.
func mergeBatches(total, next analyticsact.BatchesResult) analyticsact.BatchesResult {
	seen := map[string]bool{}
	var tenants []string
	for _, t := range append(append([]string{}, total.Tenants...), next.Tenants...) {
		if !seen[t] {
			seen[t] = true
			tenants = append(tenants, t)
		}
	}
	return analyticsact.BatchesResult{After: next.After, Rows: total.Rows + next.Rows, Upserts: total.Upserts + next.Upserts,
		Deletes: total.Deletes + next.Deletes, Tenants: tenants, Done: next.Done}
}
