package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	analyticsact "github.com/impactflow/impactflow/activities/analytics"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/jobs"
)

func TestClickHouseSyncCopiesBatchesThenFinishes(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *analyticsact.Activities
	env.RegisterActivity(a)

	horizon := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	env.OnActivity(a.Plan, mock.Anything, mock.Anything).Return(analyticsact.PlanResult{
		Start: analytics.Cursor{EventID: "w"}, Horizon: horizon, Total: 5}, nil).Once()
	calls := 0
	env.OnActivity(a.SyncBatches, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in analyticsact.BatchesInput) (analyticsact.BatchesResult, error) {
			calls++
			switch calls {
			case 1:
				if in.After.EventID != "w" || !in.Horizon.Equal(horizon) {
					t.Errorf("first batch starts at %+v / %v, want the plan's", in.After, in.Horizon)
				}
				return analyticsact.BatchesResult{After: analytics.Cursor{EventID: "c"}, Rows: 3, Upserts: 3, Tenants: []string{"acme"}}, nil
			case 2:
				return analyticsact.BatchesResult{}, errors.New("clickhouse is down") // retried
			default:
				if in.After.EventID != "c" {
					t.Errorf("after a failure the batches resume at %+v, want c", in.After)
				}
				return analyticsact.BatchesResult{After: analytics.Cursor{EventID: "e"}, Rows: 2, Upserts: 1, Deletes: 1,
					Tenants: []string{"acme", "globex"}, Done: true}, nil
			}
		})
	var finished analyticsact.FinishInput
	env.OnActivity(a.Finish, mock.Anything, mock.Anything).Return(func(_ context.Context, in analyticsact.FinishInput) error {
		finished = in
		return nil
	}).Once()

	env.ExecuteWorkflow(ClickHouseSyncWorkflow, ClickHouseSyncInput{Scope: analyticsact.Scope{Mode: analyticsact.ModeIncremental}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ClickHouseSyncResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Rows != 5 || res.Upserts != 4 || res.Deletes != 1 || res.Watermark.EventID != "e" || len(res.Tenants) != 2 {
		t.Errorf("result = %+v", res)
	}
	if finished.Run.Rows != 5 || len(finished.Tenants) != 2 || finished.Tenants[1] != "globex" {
		t.Errorf("finish input = %+v", finished)
	}
	v, err := env.QueryWorkflow(jobs.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p jobs.Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	if p.Done != 5 || p.Total != 5 || p.Step != "done" {
		t.Errorf("progress = %+v", p)
	}
}

func TestClickHouseSyncContinuesAsNewOnLongBackfills(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *analyticsact.Activities
	env.RegisterActivity(a)
	env.OnActivity(a.Plan, mock.Anything, mock.Anything).Return(analyticsact.PlanResult{Total: 1 << 40}, nil).Once()
	n := 0
	env.OnActivity(a.SyncBatches, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in analyticsact.BatchesInput) (analyticsact.BatchesResult, error) {
			n++
			return analyticsact.BatchesResult{After: analytics.Cursor{EventID: "x"}, Rows: 10, Upserts: 10, Tenants: []string{"acme"}}, nil
		})

	env.ExecuteWorkflow(ClickHouseSyncWorkflow, ClickHouseSyncInput{Scope: analyticsact.Scope{Mode: analyticsact.ModeBackfill, TenantID: "acme"}})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("error = %v, want continue-as-new", err)
	}
	if n != syncActivitiesPerRun {
		t.Errorf("%d activities before continuing, want %d", n, syncActivitiesPerRun)
	}
	var next ClickHouseSyncInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.Carry == nil || next.Carry.Done.Rows != int64(10*n) || next.Carry.Done.After.EventID != "x" || next.Scope.TenantID != "acme" {
		t.Errorf("continued with %+v", next)
	}
}
