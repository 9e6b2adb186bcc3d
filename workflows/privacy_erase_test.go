package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	privacyact "github.com/impactflow/impactflow/activities/privacy"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/privacy"
)

var eraseIn = privacy.EraseInput{TenantID: "acme", JobID: "privacy_erase-1", ParticipantID: "p-1"}

// eraseEnv mocks the erase activities, recording the order they ran in; plan and the
// ClickHouse passes' results are the test's.
func eraseEnv(t *testing.T, plan privacyact.ErasePlan, stopped privacy.StopResult, pg privacy.Counts, ch []analytics.ParticipantErasure) (*testsuite.TestWorkflowEnvironment, *[]string) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *privacyact.Activities
	env.RegisterActivity(a)
	var steps []string
	env.OnActivity(a.PlanErase, mock.Anything, eraseIn).Return(func(context.Context, privacy.EraseInput) (privacyact.ErasePlan, error) {
		steps = append(steps, "plan")
		return plan, nil
	}).Once()
	executions := privacyact.ExecutionsInput{TenantID: "acme", Executions: plan.Executions}
	env.OnActivity(a.StopExecutions, mock.Anything, executions).Return(func(context.Context, privacyact.ExecutionsInput) (privacy.StopResult, error) {
		steps = append(steps, "stop")
		return stopped, nil
	}).Once()
	env.OnActivity(a.EraseFromSchedules, mock.Anything, eraseIn).Return(func(context.Context, privacy.EraseInput) (privacy.ScheduleResult, error) {
		steps = append(steps, "schedules")
		return privacy.ScheduleResult{Recreated: []string{}, Deleted: []string{}}, nil
	}).Once()
	failed := false
	env.OnActivity(a.ErasePostgres, mock.Anything, eraseIn).Return(func(context.Context, privacy.EraseInput) (privacy.Counts, error) {
		steps = append(steps, "postgres")
		if !failed {
			failed = true
			return nil, errors.New("postgres is down") // retried
		}
		return pg, nil
	})
	passes := 0
	env.OnActivity(a.EraseAnalytics, mock.Anything, eraseIn).Return(func(context.Context, privacy.EraseInput) (analytics.ParticipantErasure, error) {
		steps = append(steps, "clickhouse")
		passes++
		return ch[passes-1], nil
	}).Twice()
	env.OnActivity(a.PurgeCaches, mock.Anything, privacyact.PurgeCachesInput{TenantID: "acme"}).Return(func(context.Context, privacyact.PurgeCachesInput) (int64, error) {
		steps = append(steps, "redis")
		return 4, nil
	}).Once()
	env.OnActivity(a.DeleteExecutions, mock.Anything, executions).Return(func(_ context.Context, in privacyact.ExecutionsInput) ([]string, error) {
		steps = append(steps, "temporal")
		var ids []string
		for _, e := range in.Executions {
			ids = append(ids, e.WorkflowID)
		}
		return ids, nil
	}).Once()
	return env, &steps
}

func TestPrivacyEraseStopsJobsThenErasesEveryStore(t *testing.T) {
	plan := privacyact.ErasePlan{Known: true, Executions: []privacy.Execution{
		{WorkflowID: "report-1", Why: privacy.WhyReportEvidence}, {WorkflowID: "notification-1", Why: privacy.WhyNotification}}}
	stopped := privacy.StopResult{Canceled: []string{"report-1"}, Terminated: []string{}}
	env, steps := eraseEnv(t, plan, stopped, privacy.Counts{"impact_events": 3, "participants": 1},
		[]analytics.ParticipantErasure{{Rows: map[string]int64{"events": 3}, Refreshed: []string{"mv_events_live"}}, {Rows: map[string]int64{"events": 1}}})

	env.ExecuteWorkflow(PrivacyEraseWorkflow, eraseIn)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res PrivacyEraseResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	// Running jobs stop before anything is erased; Postgres goes before ClickHouse (the sync
	// would copy rows back), and ClickHouse is checked again at the end.
	want := []string{"plan", "stop", "schedules", "postgres", "postgres", "clickhouse", "redis", "temporal", "clickhouse"}
	if len(*steps) != len(want) {
		t.Fatalf("steps = %v, want %v", *steps, want)
	}
	for i := range want {
		if (*steps)[i] != want[i] {
			t.Fatalf("steps = %v, want %v", *steps, want)
		}
	}
	if res.AlreadyErased || res.Postgres["impact_events"] != 3 || res.ClickHouse.Rows["events"] != 4 || res.RedisKeys != 4 ||
		len(res.DeletedExecutions) != 2 || len(res.Stopped.Canceled) != 1 || res.Stopped.Canceled[0] != "report-1" || len(res.Found) != 2 {
		t.Errorf("result = %+v", res)
	}
	env.AssertExpectations(t)
}

func TestPrivacyEraseTwiceSaysAlreadyErased(t *testing.T) {
	plan := privacyact.ErasePlan{Known: false, ErasedBefore: true, Executions: []privacy.Execution{}}
	env, _ := eraseEnv(t, plan, privacy.StopResult{Canceled: []string{}, Terminated: []string{}}, privacy.Counts{},
		[]analytics.ParticipantErasure{{Rows: map[string]int64{}}, {Rows: map[string]int64{}}})

	env.ExecuteWorkflow(PrivacyEraseWorkflow, eraseIn)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res PrivacyEraseResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if !res.AlreadyErased || res.Message == "" {
		t.Errorf("result = %+v, want already erased", res)
	}
}
