package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/impactflow/impactflow/activities/privacy"
)

func TestTenantDeletionWorkflowRunsEveryStepInOrder(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *privacy.Activities
	env.RegisterActivity(a)
	var order []string
	record := func(name string) { order = append(order, name) }
	env.OnActivity(a.FindTenant, mock.Anything, mock.Anything).Return(func(context.Context, privacy.TenantInput) (privacy.TenantFound, error) {
		record("find")
		return privacy.TenantFound{Exists: true}, nil
	})
	env.OnActivity(a.RevokeTenantKeys, mock.Anything, mock.Anything).Return(func(context.Context, privacy.TenantInput) (int64, error) {
		record("revoke")
		return 3, nil
	})
	env.OnActivity(a.DeleteTenantSchedules, mock.Anything, mock.Anything).Return(func(context.Context, privacy.TenantInput) ([]string, error) {
		record("schedules")
		return []string{"notification-schedule-1"}, nil
	})
	env.OnActivity(a.TerminateTenantWorkflows, mock.Anything, mock.Anything).Return(func(context.Context, privacy.TenantInput) (int, error) {
		record("terminate")
		return 2, nil
	})
	pgFailures := 2
	env.OnActivity(a.DeleteTenantRows, mock.Anything, mock.Anything).Return(func(context.Context, privacy.TenantInput) (map[string]int64, error) {
		record("postgres")
		if pgFailures > 0 {
			pgFailures--
			return nil, errors.New("connect to postgres: connection refused")
		}
		return map[string]int64{"impact_events": 1000, "participants": 10}, nil
	})
	chPasses := 0
	env.OnActivity(a.DeleteTenantAnalytics, mock.Anything, mock.Anything).Return(func(context.Context, privacy.TenantInput) (map[string]int64, error) {
		record("clickhouse")
		chPasses++
		if chPasses == 1 {
			return map[string]int64{"events": 1000}, nil
		}
		return map[string]int64{"events": 5}, nil // rows a sync in flight wrote back
	})
	env.OnActivity(a.DeleteTenantCaches, mock.Anything, mock.Anything).Return(func(context.Context, privacy.TenantInput) (int64, error) {
		record("redis")
		return 7, nil
	})
	env.OnActivity(a.DestroyTenantDataKeys, mock.Anything, mock.Anything).Return(func(context.Context, privacy.TenantInput) (bool, error) {
		record("data_keys")
		return true, nil
	})
	env.OnActivity(a.DeleteTenantExecutions, mock.Anything, mock.Anything).Return(func(context.Context, privacy.TenantInput) (int, error) {
		record("temporal")
		return 40, nil
	})
	env.OnActivity(a.DeleteTenantRecord, mock.Anything, mock.Anything).Return(func(context.Context, privacy.TenantInput) (bool, error) {
		record("tenant")
		return true, nil
	})

	env.ExecuteWorkflow(TenantDeletionWorkflow, TenantDeletionInput{TenantID: "acme"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res TenantDeletionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	want := []string{"find", "revoke", "schedules", "terminate", "postgres", "postgres", "postgres", "clickhouse",
		"redis", "data_keys", "temporal", "clickhouse", "tenant"}
	if len(order) != len(want) {
		t.Fatalf("steps %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("steps %v, want %v", order, want)
		}
	}
	if !res.Existed || res.KeysRevoked != 3 || res.Terminated != 2 || res.Postgres["impact_events"] != 1000 ||
		res.ClickHouse["events"] != 1005 || res.RedisKeys != 7 || !res.DataKeysDestroyed || res.Executions != 40 || !res.TenantRowDeleted {
		t.Errorf("result = %+v", res)
	}
}
