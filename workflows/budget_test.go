package workflows

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/reports"
	"github.com/impactflow/impactflow/internal/budget"
)

// update sends one update to the workflow under test; done gets its result when it completes.
func update[T any](t *testing.T, env *testsuite.TestWorkflowEnvironment, name, id string, arg any, done func(T)) {
	env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnReject: func(err error) { t.Errorf("%s %s rejected: %v", name, id, err) },
		OnAccept: func() {},
		OnComplete: func(v any, err error) {
			if err != nil {
				t.Errorf("%s %s: %v", name, id, err)
				return
			}
			if done != nil {
				done(v.(T))
			}
		},
	}, arg)
}

func TestBudgetWorkflowReservesSettlesAndAlertsOnce(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *reports.Activities
	env.RegisterActivity(a)
	var alerts []int
	env.OnActivity(a.EmitBudgetAlert, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in budget.Alert) error { alerts = append(alerts, in.Threshold); return nil })

	results := make([]budget.ReserveResult, 11)
	settled := make([]budget.SettleResult, 9)
	env.RegisterDelayedCallback(func() {
		// A budget of 1000 fits ten reservations of 100; the eleventh is refused.
		for i := range 11 {
			update(t, env, budget.UpdateReserve, fmt.Sprintf("r%d", i),
				budget.ReserveRequest{ID: fmt.Sprintf("r%d", i), JobID: "report-1", Model: "m", Micros: 100, LimitMicros: 1000, Timezone: "UTC"},
				func(r budget.ReserveResult) { results[i] = r })
		}
		for i := range 9 {
			update(t, env, budget.UpdateSettle, fmt.Sprintf("s%d", i), budget.SettleRequest{ID: fmt.Sprintf("r%d", i), ActualMicros: 100},
				func(r budget.SettleResult) { settled[i] = r })
		}
		update(t, env, budget.UpdateRelease, "rel", budget.ReleaseRequest{ID: "r9"}, func(st budget.Status) {
			if st.ReservedMicros != 0 || st.SpentMicros != 900 {
				t.Errorf("after release: %+v", st)
			}
		})
		update(t, env, budget.UpdateReserve, "big", budget.ReserveRequest{ID: "big", Micros: 200, LimitMicros: 1000, Timezone: "UTC"},
			func(r budget.ReserveResult) {
				if r.Granted || r.Decision != budget.Exhausted {
					t.Errorf("200 more than the 100 left: %+v", r)
				}
			})
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(budget.QueryStatus)
		if err != nil {
			t.Fatal(err)
		}
		var st budget.Status
		_ = v.Get(&st)
		if st.SpentMicros != 900 || st.RemainingMicros != 100 || st.Calls != 9 || st.Rejected != 1 {
			t.Errorf("status %+v", st)
		}
		env.CancelWorkflow()
	}, time.Minute)
	env.ExecuteWorkflow(BudgetWorkflow, budget.Input{TenantID: "acme", LimitMicros: 1000, Timezone: "UTC"})

	granted := 0
	for _, r := range results {
		if r.Granted {
			granted++
		}
	}
	if granted != 10 || results[10].Granted || results[10].Decision != budget.Held {
		t.Errorf("granted %d of 11, want the first 10 and the eleventh held back: %+v", granted, results[10])
	}
	if fmt.Sprint(settled[7].NewAlerts, settled[8].NewAlerts) != "[80] [90]" {
		t.Errorf("settled %+v", settled)
	}
	// 80 and 90 fired when spend crossed them, 100 when a reservation no longer fit.
	if fmt.Sprint(alerts) != "[80 90 100]" {
		t.Errorf("alerts %v, want each threshold once", alerts)
	}
}

func TestBudgetWorkflowContinuesAsNewWithItsLedger(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *reports.Activities
	env.RegisterActivity(a)
	env.RegisterDelayedCallback(func() {
		for i := range 3 {
			update[budget.ReserveResult](t, env, budget.UpdateReserve, fmt.Sprintf("r%d", i),
				budget.ReserveRequest{ID: fmt.Sprintf("r%d", i), Micros: 10, LimitMicros: 1000, Timezone: "Europe/Paris"}, nil)
		}
	}, time.Second)
	env.ExecuteWorkflow(BudgetWorkflow, budget.Input{TenantID: "acme", LimitMicros: 1000, Timezone: "Europe/Paris", MaxUpdates: 3})
	err := env.GetWorkflowError()
	if !workflow.IsContinueAsNewError(err) {
		t.Fatalf("want continue-as-new after 3 updates, got %v", err)
	}
}

func TestBudgetWorkflowBatchAppliesEachCallInOrderAndSettlesOnce(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *reports.Activities
	env.RegisterActivity(a)
	env.OnActivity(a.EmitBudgetAlert, mock.Anything, mock.Anything).Return(nil)
	reserve := func(id string, micros int64) budget.BatchItem {
		return budget.BatchItem{Reserve: &budget.ReserveRequest{ID: id, JobID: "report-1", Model: "m", Micros: micros, LimitMicros: 1000, Timezone: "UTC"}}
	}
	settle := func(id string, micros int64) budget.BatchItem {
		return budget.BatchItem{Settle: &budget.SettleRequest{ID: id, ActualMicros: micros}}
	}
	var first, again budget.BatchResult
	env.RegisterDelayedCallback(func() {
		update(t, env, budget.UpdateBatch, "b1", budget.BatchRequest{Items: []budget.BatchItem{
			reserve("r1", 600), reserve("r2", 500), reserve("", 1), settle("r1", 550),
			{Release: &budget.ReleaseRequest{ID: "r2"}}, {},
		}}, func(r budget.BatchResult) { first = r })
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		// The same settle again, as when a batch is resent after its answer was lost.
		update(t, env, budget.UpdateBatch, "b2", budget.BatchRequest{Items: []budget.BatchItem{settle("r1", 550), reserve("r3", 450)}},
			func(r budget.BatchResult) { again = r })
	}, 2*time.Second)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
	env.ExecuteWorkflow(BudgetWorkflow, budget.Input{TenantID: "acme", LimitMicros: 1000, Timezone: "UTC"})

	it := first.Items
	if len(it) != 6 || !it[0].Reserve.Granted || it[1].Reserve.Decision != budget.Held || it[2].ErrorType != errTypeBadReservation ||
		!it[3].Settle.Known || it[4].Error != "" || it[5].ErrorType != errTypeBadReservation {
		t.Fatalf("first batch %+v", first)
	}
	if first.Status.SpentMicros != 550 || first.Status.ReservedMicros != 0 {
		t.Errorf("after the first batch: %+v", first.Status)
	}
	if len(again.Items) != 2 || again.Items[0].Settle.Known || !again.Items[1].Reserve.Granted || again.Status.SpentMicros != 550 {
		t.Errorf("a settle sent twice must count once: %+v", again)
	}
}
