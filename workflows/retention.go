package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/privacy"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/retention"
	itemporal "github.com/impactflow/impactflow/temporal"
)

// Retention fans out one child job per tenant, a few at a time, a page of tenants per
// activity call.
const (
	retentionTenantsPage  = 100
	retentionConcurrency  = 4
	retentionChildTimeout = 24 * time.Hour
)

// RetentionInput starts a retention run (the privacy-retention schedule gives an empty
// one); AsOf, After and Deleted are set only when a long run continues as new.
type RetentionInput struct {
	AsOf    *time.Time                `json:"as_of,omitempty"`
	After   string                    `json:"after,omitempty"`
	Tenants int                       `json:"tenants,omitempty"`
	Deleted map[retention.Class]int64 `json:"deleted,omitempty"`
	// BatchSize overrides the purge's batch size (tests); 0 keeps it.
	BatchSize int `json:"batch_size,omitempty"`
}

// RetentionResult is what a run deleted across every tenant, per class.
type RetentionResult struct {
	AsOf    time.Time                 `json:"as_of"`
	Tenants int                       `json:"tenants"`
	Deleted map[retention.Class]int64 `json:"deleted"`
}

// RetentionWorkflow deletes, for every tenant, what is past that tenant's retention as of
// the run's start: one TenantRetentionWorkflow per tenant, each a job the tenant sees.
// Its child job IDs come from the tenant and the run's instant, so a replay of the run
// starts the same children. A reset to the first workflow task takes a new instant and
// purges again, which finds what is newly past retention: the purges are idempotent.
func RetentionWorkflow(ctx workflow.Context, in RetentionInput) (RetentionResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var a *privacy.Activities
	asOf := workflow.Now(ctx).UTC()
	if in.AsOf != nil {
		asOf = *in.AsOf
	}
	res := RetentionResult{AsOf: asOf, Tenants: in.Tenants, Deleted: map[retention.Class]int64{}}
	for c, n := range in.Deleted {
		res.Deleted[c] = n
	}
	progress := jobs.Progress{Done: int64(res.Tenants), Step: "purge"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) { return progress, nil }); err != nil {
		return RetentionResult{}, err
	}

	after := in.After
	for {
		var tenants []string
		if err := workflow.ExecuteActivity(ctx, a.TenantsPage, privacy.TenantsPageInput{After: after, Limit: retentionTenantsPage}).Get(ctx, &tenants); err != nil {
			return res, err
		}
		if err := purgeTenants(ctx, tenants, asOf, in.BatchSize, &res, &progress); err != nil {
			return res, err
		}
		if len(tenants) < retentionTenantsPage {
			progress.Step = "done"
			return res, nil
		}
		after = tenants[len(tenants)-1]
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return res, workflow.NewContinueAsNewError(ctx, RetentionWorkflow, RetentionInput{
				AsOf: &asOf, After: after, Tenants: res.Tenants, Deleted: res.Deleted, BatchSize: in.BatchSize,
			})
		}
	}
}

// purgeTenants runs one page of tenants' retention jobs, retentionConcurrency at a time,
// adding what each deleted to res.
func purgeTenants(ctx workflow.Context, tenants []string, asOf time.Time, batch int, res *RetentionResult, progress *jobs.Progress) error {
	sel := workflow.NewSelector(ctx)
	var firstErr error
	inFlight := 0
	for _, tenant := range tenants {
		if inFlight == retentionConcurrency {
			sel.Select(ctx)
			inFlight--
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:               jobs.IDForKey(jobs.KindRetention, tenant, asOf.Format(time.RFC3339Nano)),
			WorkflowExecutionTimeout: retentionChildTimeout,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				itemporal.SearchAttrTenantID.ValueSet(tenant),
				itemporal.SearchAttrJobKind.ValueSet(string(jobs.KindRetention)),
			),
		})
		f := workflow.ExecuteChildWorkflow(cctx, TenantRetentionWorkflow, TenantRetentionInput{TenantID: tenant, AsOf: asOf, BatchSize: batch})
		inFlight++
		sel.AddFuture(f, func(f workflow.Future) {
			var out TenantRetentionResult
			if err := f.Get(ctx, &out); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			res.Tenants++
			progress.Done++
			for _, c := range out.Classes {
				res.Deleted[c.Class] += c.Deleted
			}
		})
	}
	for ; inFlight > 0; inFlight-- {
		sel.Select(ctx)
	}
	return firstErr
}

// TenantRetentionInput is one tenant's retention run.
type TenantRetentionInput struct {
	TenantID  string    `json:"tenant_id"`
	AsOf      time.Time `json:"as_of"`
	BatchSize int       `json:"batch_size,omitempty"`
}

// ClassPurged is what a run deleted of one class.
type ClassPurged struct {
	Class   retention.Class `json:"class"`
	Days    int             `json:"days"`
	Cutoff  time.Time       `json:"cutoff"`
	Deleted int64           `json:"deleted"`
}

// TenantRetentionResult is a tenant's retention job's result: counts per class.
type TenantRetentionResult struct {
	TenantID string        `json:"tenant_id"`
	AsOf     time.Time     `json:"as_of"`
	Classes  []ClassPurged `json:"classes"`
}

// TenantRetentionWorkflow deletes, class by class, what one tenant keeps from before its
// retention periods as of AsOf. A purge that meets Postgres down retries until it is back;
// its batches heartbeat, so a lost worker is noticed within a minute and the next attempt
// goes on where the last batch ended.
func TenantRetentionWorkflow(ctx workflow.Context, in TenantRetentionInput) (TenantRetentionResult, error) {
	planCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	purgeCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	var a *privacy.Activities
	res := TenantRetentionResult{TenantID: in.TenantID, AsOf: in.AsOf}
	progress := jobs.Progress{Total: int64(len(retention.Classes)), Step: "plan"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) { return progress, nil }); err != nil {
		return res, err
	}

	var plan []privacy.ClassCutoff
	if err := workflow.ExecuteActivity(planCtx, a.RetentionPlan, privacy.RetentionPlanInput{TenantID: in.TenantID, AsOf: in.AsOf}).Get(ctx, &plan); err != nil {
		return res, err
	}
	progress.Total = int64(len(plan))
	for _, p := range plan {
		progress.Step = string(p.Class)
		var out privacy.PurgeResult
		in := privacy.PurgeInput{TenantID: in.TenantID, Class: p.Class, Cutoff: p.Cutoff, BatchSize: in.BatchSize}
		if err := workflow.ExecuteActivity(purgeCtx, a.PurgeExpired, in).Get(ctx, &out); err != nil {
			return res, err
		}
		res.Classes = append(res.Classes, ClassPurged{Class: p.Class, Days: p.Days, Cutoff: p.Cutoff, Deleted: out.Deleted})
		progress.Done++
	}
	progress.Step = "done"
	return res, nil
}
