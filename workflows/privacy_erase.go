package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	privacyact "github.com/impactflow/impactflow/activities/privacy"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/privacy"
)

// PrivacyEraseResult is what an erasure did, in counts, table names and job IDs: the
// history of the job that erased a person must not hold their data.
type PrivacyEraseResult struct {
	ParticipantID string `json:"participant_id"`
	// AlreadyErased: an earlier erasure had left nothing to erase; this one changed nothing.
	AlreadyErased bool   `json:"already_erased"`
	Message       string `json:"message"`
	// Postgres is rows deleted or anonymised per table.
	Postgres privacy.Counts `json:"postgres"`
	// ClickHouse is rows deleted per table and the views recomputed without them.
	ClickHouse analytics.ParticipantErasure `json:"clickhouse"`
	// RedisKeys is how many cached answers of the tenant were deleted.
	RedisKeys int64 `json:"redis_keys"`
	// Found are the jobs whose histories carried their data, and why.
	Found []privacy.Execution `json:"found"`
	// Stopped says which of those were running and were canceled or terminated first.
	Stopped privacy.StopResult `json:"stopped"`
	// Schedules are the recurring notifications they were taken out of.
	Schedules privacy.ScheduleResult `json:"schedules"`
	// DeletedExecutions are the jobs deleted from Temporal, every run of each.
	DeletedExecutions []string `json:"deleted_executions"`
}

// PrivacyEraseWorkflow is a privacy_erase job (privacy.EraseWorkflow): it erases one
// participant from every store. It first finds the jobs whose histories carry their data
// and stops the running ones (a report over their evidence, a notification to them) and
// takes them out of recurring notifications, so nothing writes their data again; then deletes or anonymises their Postgres records
// before their ClickHouse rows (the sync would copy them back otherwise) and the views
// derived from them, purges the tenant's cached answers, deletes the histories, and
// checks ClickHouse once more for rows a sync in flight may have copied meanwhile.
// Running it again, or for a participant already erased, changes nothing and says so.
func PrivacyEraseWorkflow(ctx workflow.Context, in privacy.EraseInput) (PrivacyEraseResult, error) {
	options := workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	}
	ctx = workflow.WithActivityOptions(ctx, options)
	// Stopping jobs, refreshing views and waiting for deletions heartbeat as they go: a lost
	// worker is noticed within a minute rather than half an hour.
	options.HeartbeatTimeout = time.Minute
	hbCtx := workflow.WithActivityOptions(ctx, options)
	var a *privacyact.Activities
	res := PrivacyEraseResult{ParticipantID: in.ParticipantID, Found: []privacy.Execution{}, DeletedExecutions: []string{}}
	progress := jobs.Progress{Total: 6, Step: "plan"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) { return progress, nil }); err != nil {
		return res, err
	}
	step := func(name string) { progress.Done, progress.Step = progress.Done+1, name }

	var plan privacyact.ErasePlan
	if err := workflow.ExecuteActivity(ctx, a.PlanErase, in).Get(ctx, &plan); err != nil {
		return res, err
	}
	res.Found = plan.Executions
	executions := privacyact.ExecutionsInput{TenantID: in.TenantID, Executions: plan.Executions}
	step("stop")
	if err := workflow.ExecuteActivity(hbCtx, a.StopExecutions, executions).Get(ctx, &res.Stopped); err != nil {
		return res, err
	}
	if err := workflow.ExecuteActivity(ctx, a.EraseFromSchedules, in).Get(ctx, &res.Schedules); err != nil {
		return res, err
	}
	step("postgres")
	if err := workflow.ExecuteActivity(ctx, a.ErasePostgres, in).Get(ctx, &res.Postgres); err != nil {
		return res, err
	}
	step("clickhouse")
	if err := workflow.ExecuteActivity(hbCtx, a.EraseAnalytics, in).Get(ctx, &res.ClickHouse); err != nil {
		return res, err
	}
	step("redis")
	if err := workflow.ExecuteActivity(ctx, a.PurgeCaches, privacyact.PurgeCachesInput{TenantID: in.TenantID}).Get(ctx, &res.RedisKeys); err != nil {
		return res, err
	}
	step("temporal")
	if err := workflow.ExecuteActivity(hbCtx, a.DeleteExecutions, executions).Get(ctx, &res.DeletedExecutions); err != nil {
		return res, err
	}
	var again analytics.ParticipantErasure
	if err := workflow.ExecuteActivity(hbCtx, a.EraseAnalytics, in).Get(ctx, &again); err != nil {
		return res, err
	}
	res.ClickHouse = mergeErasures(res.ClickHouse, again)
	step("done")

	touched := res.Postgres.Total() + res.ClickHouse.Total() + int64(len(res.DeletedExecutions)+len(res.Stopped.Canceled)+len(res.Stopped.Terminated)+
		len(res.Schedules.Recreated)+len(res.Schedules.Deleted))
	switch {
	case touched == 0 && plan.ErasedBefore:
		res.AlreadyErased = true
		res.Message = "already erased: nothing of the participant was left in any store"
	case touched == 0:
		res.Message = "nothing of the participant was found in any store"
	default:
		res.Message = "erased from Postgres, ClickHouse, Redis and Temporal"
	}
	return res, nil
}

// mergeErasures adds the rows of a second ClickHouse pass to the first's.
func mergeErasures(first, second analytics.ParticipantErasure) analytics.ParticipantErasure {
	if first.Rows == nil {
		first.Rows = map[string]int64{}
	}
	for t, n := range second.Rows {
		first.Rows[t] += n
	}
	if len(second.Refreshed) > 0 {
		first.Refreshed = second.Refreshed
	}
	return first
}
