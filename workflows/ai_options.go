package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/reports"
	"github.com/impactflow/impactflow/internal/budget"
)

// Activity options shared by ReportWorkflow and ClassifyWorkflow.

// dbOptions is for Postgres steps: a minute each, retried for ten while the database is
// away; errors of the nonRetryable types fail at once.
func dbOptions(ctx workflow.Context, nonRetryable ...string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			NonRetryableErrorTypes: nonRetryable},
	})
}

// llmOptions is for LLM calls: 429 and 5xx are retried with backoff; the activity sets
// NextRetryDelay from the provider's Retry-After, which overrides the backoff for that
// attempt. Errors of the nonRetryable types fail at once.
func llmOptions(ctx workflow.Context, nonRetryable ...string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute, ScheduleToCloseTimeout: 15 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 8, NonRetryableErrorTypes: nonRetryable},
	})
}

// budgetCallOptions is for calls to the tenant's budget workflow (reserve, settle,
// release): they wait on a workflow, not a provider, so they are retried quickly.
func budgetCallOptions(scheduleToClose time.Duration, nonRetryable ...string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: scheduleToClose,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 1.5, MaximumInterval: 2 * time.Second,
			NonRetryableErrorTypes: nonRetryable},
	}
}

// budgetOptions is for reservations against the tenant's budget workflow.
func budgetOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, budgetCallOptions(5*time.Minute, reports.ErrTypeBadConfig))
}

// reserve holds budget for a call against the tenant's budget workflow; false when the
// budget cannot cover it.
func reserve(ctx workflow.Context, in reports.ReserveInput) (bool, error) {
	var a *reports.Activities
	var rr budget.ReserveResult
	if err := workflow.ExecuteActivity(budgetOptions(ctx), a.Reserve, in).Get(ctx, &rr); err != nil {
		return false, err
	}
	return rr.Granted, nil
}

// settleOptions run on a disconnected context: a settle must land even when the job is
// being canceled.
func settleOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(newDisconnected(ctx), budgetCallOptions(10*time.Minute))
}

// newDisconnected is a child of ctx that is not canceled with it.
func newDisconnected(ctx workflow.Context) workflow.Context {
	d, _ := workflow.NewDisconnectedContext(ctx)
	return d
}
