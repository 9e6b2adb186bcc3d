package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/privacy"
	"github.com/impactflow/impactflow/internal/jobs"
)

// TenantDeletionInput names the tenant to delete. Its ID is all the job's history holds
// of it.
type TenantDeletionInput struct {
	TenantID string `json:"tenant_id"`
}

// TenantDeletionResult is what a tenant's deletion removed, store by store: counts, table
// names and schedule IDs, never data.
type TenantDeletionResult struct {
	TenantID string `json:"tenant_id"`
	// Existed is false when the tenant was already gone (a deletion run again).
	Existed           bool             `json:"existed"`
	KeysRevoked       int64            `json:"keys_revoked"`
	Schedules         []string         `json:"schedules"`
	Terminated        int              `json:"terminated"`
	Postgres          map[string]int64 `json:"postgres"`
	ClickHouse        map[string]int64 `json:"clickhouse"`
	RedisKeys         int64            `json:"redis_keys"`
	DataKeysDestroyed bool             `json:"data_keys_destroyed"`
	Executions        int              `json:"executions"`
	TenantRowDeleted  bool             `json:"tenant_row_deleted"`
}

// TenantDeletionWorkflow offboards a tenant: nothing new may start for it, what runs is
// stopped, every store is emptied of it, and its payload data key is destroyed before its
// workflow histories are deleted, so that whatever copy of them survives (a backup, a
// history the server has not purged yet) cannot be read. Every step is idempotent, so a
// retried step, a reset or a second deletion of the same tenant finds nothing left.
func TenantDeletionWorkflow(ctx workflow.Context, in TenantDeletionInput) (TenantDeletionResult, error) {
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute}
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute, RetryPolicy: retry})
	// The steps that walk a large tenant heartbeat; a lost worker is noticed within a minute.
	long := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour, HeartbeatTimeout: time.Minute, RetryPolicy: retry,
	})
	var a *privacy.Activities
	t := privacy.TenantInput{TenantID: in.TenantID}
	res := TenantDeletionResult{TenantID: in.TenantID}
	progress := jobs.Progress{Total: 9, Step: "find"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) { return progress, nil }); err != nil {
		return res, err
	}
	step := func(name string, c workflow.Context, activity, out any) error {
		progress.Step = name
		if err := workflow.ExecuteActivity(c, activity, t).Get(ctx, out); err != nil {
			return err
		}
		progress.Done++
		return nil
	}

	var found privacy.TenantFound
	if err := step("find", short, a.FindTenant, &found); err != nil {
		return res, err
	}
	res.Existed = found.Exists
	if err := step("revoke_keys", short, a.RevokeTenantKeys, &res.KeysRevoked); err != nil {
		return res, err
	}
	if err := step("schedules", long, a.DeleteTenantSchedules, &res.Schedules); err != nil {
		return res, err
	}
	if err := step("terminate", long, a.TerminateTenantWorkflows, &res.Terminated); err != nil {
		return res, err
	}
	if err := step("postgres", long, a.DeleteTenantRows, &res.Postgres); err != nil {
		return res, err
	}
	if err := step("clickhouse", long, a.DeleteTenantAnalytics, &res.ClickHouse); err != nil {
		return res, err
	}
	if err := step("redis", short, a.DeleteTenantCaches, &res.RedisKeys); err != nil {
		return res, err
	}
	if err := step("data_keys", short, a.DestroyTenantDataKeys, &res.DataKeysDestroyed); err != nil {
		return res, err
	}
	if err := step("temporal", long, a.DeleteTenantExecutions, &res.Executions); err != nil {
		return res, err
	}
	// A sync that read the tenant's rows before they went may have written them after the
	// ClickHouse step: a second pass deletes them (and costs a count per table otherwise).
	var again map[string]int64
	if err := workflow.ExecuteActivity(long, a.DeleteTenantAnalytics, t).Get(ctx, &again); err != nil {
		return res, err
	}
	if res.ClickHouse == nil {
		res.ClickHouse = map[string]int64{}
	}
	for table, n := range again {
		res.ClickHouse[table] += n
	}
	if err := workflow.ExecuteActivity(short, a.DeleteTenantRecord, t).Get(ctx, &res.TenantRowDeleted); err != nil {
		return res, err
	}
	progress.Step = "done"
	return res, nil
}
