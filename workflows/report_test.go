package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/reports"
	"github.com/impactflow/impactflow/internal/budget"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/store"
)

// reportFixture is a test environment with every report activity mocked; tests override
// what they exercise.
type reportFixture struct {
	env      *testsuite.TestWorkflowEnvironment
	a        *reports.Activities
	persist  []reports.PersistInput
	reserved []string
	settled  []string
	released []string
	emitted  int
	// beforePersist and beforeSettle, when set, run at the start of those mocks.
	beforePersist func()
	beforeSettle  func() error
}

func newReportFixture(t *testing.T) *reportFixture {
	var s testsuite.WorkflowTestSuite
	f := &reportFixture{env: s.NewTestWorkflowEnvironment()}
	f.env.RegisterActivity(f.a)
	f.env.OnActivity(f.a.Gather, mock.Anything, mock.Anything).Return(reports.GatherResult{
		Metrics:  []llm.Metric{{Key: "participants", Label: "Participants", Value: 12}},
		Evidence: []store.EvidenceRef{{SnippetID: "s-1", Source: "survey"}, {SnippetID: "s-2", Source: "interview"}},
	}, nil)
	f.env.OnActivity(f.a.Redact, mock.Anything, mock.Anything).Return(reports.RedactResult{
		Snippets: []llm.Snippet{{ID: "s-1", Source: "survey", Text: "[PERSON_1] feels confident."}, {ID: "s-2", Source: "interview", Text: "Found a job."}},
		Metrics:  []llm.Metric{{Key: "participants", Label: "Participants", Value: 12}},
		Counts:   map[string]int{"PERSON": 1}, Fingerprint: "fp",
	}, nil)
	f.env.OnActivity(f.a.PersistReport, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.PersistInput) (reports.PersistResult, error) {
			if f.beforePersist != nil {
				f.beforePersist()
			}
			f.persist = append(f.persist, in)
			return reports.PersistResult{Saved: true}, nil
		})
	f.env.OnActivity(f.a.EmitReportGenerated, mock.Anything, mock.Anything).Return(
		func(context.Context, reports.EmitReportGeneratedInput) error { f.emitted++; return nil })
	f.env.OnActivity(f.a.Settle, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.SettleInput) (budget.SettleResult, error) {
			if f.beforeSettle != nil {
				if err := f.beforeSettle(); err != nil {
					return budget.SettleResult{}, err
				}
			}
			f.settled = append(f.settled, in.ReservationID)
			return budget.SettleResult{Known: true}, nil
		})
	f.env.OnActivity(f.a.Release, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.ReleaseInput) (budget.Status, error) {
			f.released = append(f.released, in.ReservationID)
			return budget.Status{}, nil
		})
	return f
}

// grant mocks Reserve to grant the first n reservations and refuse the rest.
func (f *reportFixture) grant(n int) {
	f.env.OnActivity(f.a.Reserve, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.ReserveInput) (budget.ReserveResult, error) {
			f.reserved = append(f.reserved, in.ReservationID)
			return budget.ReserveResult{Granted: len(f.reserved) <= n}, nil
		})
}

func cited(section string) llm.Response {
	return llm.Response{Text: section + " went well [cite:s-1].\n\nAnd more [cite:s-2].", Model: "gpt-4o-mini",
		PromptVersion: llm.PromptVersion, TokensIn: 100, TokensOut: 50, CostMicros: 45}
}

func reportInput(sections ...string) ReportInput {
	return ReportInput{TenantID: "acme", JobID: "report-1", From: "2026-01-01", To: "2026-03-31", Sections: sections,
		Locale: "fr", Model: "gpt-4o-mini", MaxTokens: 400, Version: ReportVersionCurrent}
}

func TestReportWorkflowWritesSectionsAfter429(t *testing.T) {
	f := newReportFixture(t)
	f.grant(100)
	calls := map[string]int{}
	f.env.OnActivity(f.a.Write, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.WriteInput) (llm.Response, error) {
			calls[in.Request.Section]++
			if in.Request.Section == llm.SectionSummary && calls[llm.SectionSummary] == 1 {
				return llm.Response{}, temporal.NewApplicationErrorWithOptions("llm provider: status 429", reports.ErrTypeProviderUnavailable,
					temporal.ApplicationErrorOptions{NextRetryDelay: 7 * time.Second})
			}
			if in.Request.Locale != "fr" || len(in.Request.Snippets) != 2 {
				return llm.Response{}, errors.New("request lost its locale or evidence")
			}
			return cited(in.Request.Section), nil
		})
	f.env.ExecuteWorkflow(ReportWorkflow, reportInput(llm.SectionSummary, llm.SectionOutcomes, llm.SectionRecommendations))
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ReportResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != ReportCompleted || len(res.Sections) != 3 || res.Coverage != 1 || res.CostMicros != 135 || res.TokensIn != 300 {
		t.Errorf("result %+v", res)
	}
	if calls[llm.SectionSummary] != 2 {
		t.Errorf("summary written %d times, want 2 (429 then success)", calls[llm.SectionSummary])
	}
	if len(f.reserved) != 1 || len(f.settled) != 1 || len(f.released) != 0 || !strings.HasSuffix(f.reserved[0], "/report") {
		t.Errorf("reserved %v settled %v released %v", f.reserved, f.settled, f.released)
	}
	if len(f.persist) != 1 || f.persist[0].Status != ReportCompleted || len(f.persist[0].Sections) != 3 || f.emitted != 1 {
		t.Errorf("persisted %+v, emitted %d", f.persist, f.emitted)
	}
	v, err := f.env.QueryWorkflow(jobs.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p jobs.Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	if p.Done != 3 || p.Total != 3 || p.Step != "done" || p.Sections[llm.SectionOutcomes] != sectionWritten {
		t.Errorf("progress %+v", p)
	}
}

func TestReportWorkflowReasksOnceWhenCitationsFail(t *testing.T) {
	f := newReportFixture(t)
	f.grant(100)
	var problems []string
	calls := 0
	f.env.OnActivity(f.a.Write, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.WriteInput) (llm.Response, error) {
			calls++
			if calls == 1 {
				return llm.Response{Text: "Nothing cited here.\n\nNor here [cite:s-404].", Model: "gpt-4o-mini"}, nil
			}
			problems = in.Request.Problems
			return cited(in.Request.Section), nil
		})
	f.env.ExecuteWorkflow(ReportWorkflow, reportInput(llm.SectionOutcomes))
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ReportResult
	_ = f.env.GetWorkflowResult(&res)
	if calls != 2 || res.Sections[0].Attempts != 2 || res.Sections[0].Status != sectionWritten {
		t.Errorf("calls %d, result %+v", calls, res)
	}
	if len(problems) != 3 || !strings.Contains(strings.Join(problems, "|"), "s-404") {
		t.Errorf("the re-ask must list the problems, got %q", problems)
	}
	if len(f.reserved) != 2 || len(f.settled) != 2 {
		t.Errorf("each ask reserves and settles: reserved %v settled %v", f.reserved, f.settled)
	}
}

func TestReportWorkflowFailsHonestlyWhenCitationsStillFail(t *testing.T) {
	f := newReportFixture(t)
	f.grant(100)
	f.env.OnActivity(f.a.Write, mock.Anything, mock.Anything).Return(llm.Response{Text: "Never cited.", Model: "m"}, nil)
	f.env.ExecuteWorkflow(ReportWorkflow, reportInput(llm.SectionSummary))
	err := f.env.GetWorkflowError()
	if !IsCitationsFailed(err) {
		t.Fatalf("want a CitationsFailed error, got %v", err)
	}
	if len(f.persist) != 1 || f.persist[0].Status != ReportCitationsFailed || f.persist[0].Sections[0].Coverage != 0 || f.emitted != 0 {
		t.Errorf("persisted %+v emitted %d", f.persist, f.emitted)
	}
}

func TestReportWorkflowStopsWhenBudgetIsExhausted(t *testing.T) {
	f := newReportFixture(t)
	// The report's own reservation is granted; the re-ask its first section needs is not.
	f.grant(1)
	writes := 0
	f.env.OnActivity(f.a.Write, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.WriteInput) (llm.Response, error) {
			writes++
			if in.Request.Section == llm.SectionSummary {
				return llm.Response{Text: "No citation.", Model: "gpt-4o-mini", CostMicros: 40}, nil
			}
			return cited(in.Request.Section), nil
		})
	in := reportInput(llm.SectionSummary, llm.SectionOutcomes, llm.SectionStories, llm.SectionRecommendations)
	in.SectionParallel = 1
	f.env.ExecuteWorkflow(ReportWorkflow, in)
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ReportResult
	_ = f.env.GetWorkflowResult(&res)
	if res.Status != ReportBudgetExhausted || !strings.Contains(res.Message, "budget") {
		t.Errorf("result %+v", res)
	}
	if writes != 1 || len(f.reserved) != 2 || len(f.settled) != 1 {
		t.Errorf("writes %d reserved %v settled %v: the re-ask's reservation is refused and no call follows", writes, f.reserved, f.settled)
	}
	if len(f.persist) != 1 || f.persist[0].Status != ReportBudgetExhausted || len(f.persist[0].Sections) != 0 || f.emitted != 0 {
		t.Errorf("a budget-exhausted report keeps no half-written sections: %+v, emitted %d", f.persist, f.emitted)
	}
}

func TestReportWorkflowRefusedBudgetWritesNothing(t *testing.T) {
	f := newReportFixture(t)
	f.grant(0)
	f.env.OnActivity(f.a.Write, mock.Anything, mock.Anything).Return(llm.Response{}, errors.New("no call may be made"))
	f.env.ExecuteWorkflow(ReportWorkflow, reportInput(llm.SectionSummary, llm.SectionOutcomes))
	var res ReportResult
	if err := f.env.GetWorkflowResult(&res); err != nil || res.Status != ReportBudgetExhausted || len(f.settled) != 0 {
		t.Errorf("result %+v err %v settled %v", res, err, f.settled)
	}
}

func TestReportWorkflowCancelledMidReportSettlesWhatWasSpent(t *testing.T) {
	f := newReportFixture(t)
	f.grant(100)
	isSummary := func(in reports.WriteInput) bool { return in.Request.Section == llm.SectionSummary }
	f.env.OnActivity(f.a.Write, mock.Anything, mock.MatchedBy(isSummary)).Return(cited(llm.SectionSummary), nil)
	// A slow model, still answering the second section when the cancel comes.
	f.env.OnActivity(f.a.Write, mock.Anything, mock.MatchedBy(func(in reports.WriteInput) bool { return !isSummary(in) })).
		Return(cited(llm.SectionOutcomes), nil).After(10 * time.Minute)
	f.env.RegisterDelayedCallback(f.env.CancelWorkflow, time.Minute)
	in := reportInput(llm.SectionSummary, llm.SectionOutcomes)
	f.env.ExecuteWorkflow(ReportWorkflow, in)
	err := f.env.GetWorkflowError()
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("want canceled, got %v", err)
	}
	// The report's reservation is settled with what the finished section cost; nothing is left held.
	if len(f.reserved) != 1 || len(f.settled) != 1 || len(f.released) != 0 {
		t.Errorf("reserved %v settled %v released %v", f.reserved, f.settled, f.released)
	}
	if len(f.persist) != 0 || f.emitted != 0 {
		t.Errorf("a canceled report persists nothing: %+v", f.persist)
	}
}

func TestReportWorkflowOfflineReservesNothing(t *testing.T) {
	f := newReportFixture(t)
	f.env.OnActivity(f.a.Write, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.WriteInput) (llm.Response, error) {
			return llm.Offline{}.Write(context.Background(), in.Request)
		})
	in := reportInput(llm.Sections...)
	in.Offline, in.Model = true, llm.OfflineModel
	f.env.ExecuteWorkflow(ReportWorkflow, in)
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ReportResult
	_ = f.env.GetWorkflowResult(&res)
	if res.Status != ReportCompleted || res.CostMicros != 0 || !res.Offline || res.Coverage != 1 || len(f.reserved) != 0 {
		t.Errorf("result %+v reserved %v", res, f.reserved)
	}
}

// TestReportWorkflowRunsShortStepsLocallyAndSettlesBesidePersisting: on reportLocalSteps only
// the LLM calls are regular activities, and the report's settle and persist run at once.
func TestReportWorkflowRunsShortStepsLocallyAndSettlesBesidePersisting(t *testing.T) {
	f := newReportFixture(t)
	f.grant(100)
	// The input's Version decides, not a marker: were GetVersion asked, it would say the
	// old sequence.
	f.env.OnGetVersion(reportLocalSteps, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	f.env.OnActivity(f.a.Write, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.WriteInput) (llm.Response, error) {
			return cited(in.Request.Section), nil
		})
	persisting := make(chan struct{})
	f.beforePersist = func() { close(persisting) }
	f.beforeSettle = func() error {
		// Settled first, one after the other, persisting would only start once this returned.
		select {
		case <-persisting:
			return nil
		case <-time.After(2 * time.Second): // under the test environment's 3 s
			return temporal.NewNonRetryableApplicationError("persist did not start while settling", "Test", nil)
		}
	}
	local, regular := f.recordActivityTypes()
	f.env.ExecuteWorkflow(ReportWorkflow, reportInput(llm.SectionSummary, llm.SectionOutcomes, llm.SectionRecommendations))
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(*local, ","); got != "Gather,Redact,Reserve,Settle,PersistReport,EmitReportGenerated" &&
		got != "Gather,Redact,Reserve,PersistReport,Settle,EmitReportGenerated" {
		t.Errorf("local activities %s", got)
	}
	if got := strings.Join(*regular, ","); got != "Write,Write,Write" {
		t.Errorf("regular activities %s, want only the three LLM calls", got)
	}
	if len(f.settled) != 1 || len(f.persist) != 1 || f.emitted != 1 {
		t.Errorf("settled %v persisted %d emitted %d", f.settled, len(f.persist), f.emitted)
	}
}

// TestReportWorkflowBeforeLocalStepsRunsEveryStepAsAnActivity: workflows started before
// reportLocalSteps (input Version 0, no marker) keep their recorded commands.
func TestReportWorkflowBeforeLocalStepsRunsEveryStepAsAnActivity(t *testing.T) {
	f := newReportFixture(t)
	f.grant(100)
	f.env.OnGetVersion(reportLocalSteps, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	f.env.OnActivity(f.a.Write, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.WriteInput) (llm.Response, error) {
			return cited(in.Request.Section), nil
		})
	local, regular := f.recordActivityTypes()
	in := reportInput(llm.SectionSummary)
	in.Version = 0
	f.env.ExecuteWorkflow(ReportWorkflow, in)
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(*regular, ","); len(*local) != 0 || got != "Gather,Redact,Reserve,Write,Settle,PersistReport,EmitReportGenerated" {
		t.Errorf("local %v, regular %s", *local, got)
	}
}

// recordActivityTypes collects the types of the local and the regular activities the
// workflow starts, in order.
func (f *reportFixture) recordActivityTypes() (local, regular *[]string) {
	local, regular = new([]string), new([]string)
	f.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		*local = append(*local, info.ActivityType.Name)
	})
	f.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		*regular = append(*regular, info.ActivityType.Name)
	})
	return local, regular
}
