package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/reports"
	"github.com/impactflow/impactflow/internal/budget"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/store"
)

// classifyFixture mocks the classification activities over an in-memory set of snippets.
type classifyFixture struct {
	env      *testsuite.TestWorkflowEnvironment
	a        *reports.Activities
	ids      []string
	labelled map[string]string // snippet -> model
	calls    []reports.ClassifyBatchInput
	reserved []string
	settled  []string
	// answer returns the classifier's text for a call; nil labels every snippet "confidence".
	answer func(call int, ids []string) string
	// grants is how many reservations are granted before the budget is exhausted.
	grants int
}

func newClassifyFixture(t *testing.T, snippets int) *classifyFixture {
	var s testsuite.WorkflowTestSuite
	f := &classifyFixture{env: s.NewTestWorkflowEnvironment(), labelled: map[string]string{}}
	for i := range snippets {
		f.ids = append(f.ids, fmt.Sprintf("e-%03d", i))
	}
	f.env.RegisterActivity(f.a)
	f.env.OnActivity(f.a.ClassifyPage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.ClassifyPageInput) (reports.ClassifyPageResult, error) {
			var res reports.ClassifyPageResult
			for _, id := range f.ids {
				if f.labelled[id] != "" {
					continue
				}
				if in.Count {
					res.Total++
				}
				if id > in.After && len(res.Snippets) < in.Limit {
					res.Snippets = append(res.Snippets, store.UnclassifiedRef{SnippetID: id, Chars: 200})
				}
			}
			return res, nil
		})
	f.env.OnActivity(f.a.ClassifyBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.ClassifyBatchInput) (reports.ClassifyBatchResult, error) {
			f.calls = append(f.calls, in)
			text := goodAnswer(in.SnippetIDs)
			if f.answer != nil {
				text = f.answer(len(f.calls), in.SnippetIDs)
			}
			return reports.ClassifyBatchResult{SnippetIDs: in.SnippetIDs, Response: llm.ClassifyResponse{
				Text: text, Model: "gpt-4o-mini", TokensIn: 300, TokensOut: 80, CostMicros: 93}}, nil
		})
	f.env.OnActivity(f.a.SaveLabels, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.SaveLabelsInput) (int64, error) {
			for _, it := range in.Items {
				f.labelled[it.SnippetID] = in.Model
			}
			return int64(len(in.Items)), nil
		})
	f.env.OnActivity(f.a.Settle, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.SettleInput) (budget.SettleResult, error) {
			f.settled = append(f.settled, in.ReservationID)
			return budget.SettleResult{Known: true}, nil
		})
	f.grants = 1000
	f.env.OnActivity(f.a.Reserve, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in reports.ReserveInput) (budget.ReserveResult, error) {
			f.reserved = append(f.reserved, in.ReservationID)
			return budget.ReserveResult{Granted: len(f.reserved) <= f.grants}, nil
		})
	return f
}

func goodAnswer(ids []string) string {
	var doc struct {
		Items []llm.Classification `json:"items"`
	}
	for _, id := range ids {
		doc.Items = append(doc.Items, llm.Classification{SnippetID: id, Labels: []llm.Label{{Dimension: llm.DimConfidence, Score: 0.75}}})
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

func classifyInput() ClassifyInput {
	return ClassifyInput{TenantID: "acme", JobID: "classification-1", Model: "gpt-4o-mini", BatchSize: 20}
}

func TestClassifyWorkflowLabelsEveryBatchUnderTheBudget(t *testing.T) {
	f := newClassifyFixture(t, 45)
	var mid jobs.Progress
	f.env.ExecuteWorkflow(ClassifyWorkflow, classifyInput())
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ClassifyResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != ClassifyCompleted || res.Classified != 45 || res.Total != 45 || res.Batches != 3 || res.CostMicros != 3*93 {
		t.Fatalf("result %+v", res)
	}
	if len(f.labelled) != 45 || len(f.reserved) != 3 || !slices.Equal(f.reserved, f.settled) {
		t.Fatalf("labelled %d, reserved %v, settled %v", len(f.labelled), f.reserved, f.settled)
	}
	if sizes := []int{len(f.calls[0].SnippetIDs), len(f.calls[1].SnippetIDs), len(f.calls[2].SnippetIDs)}; !slices.Equal(sizes, []int{20, 20, 5}) {
		t.Fatalf("batch sizes %v", sizes)
	}
	v, err := f.env.QueryWorkflow(jobs.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Get(&mid); err != nil || mid.Done != 45 || mid.Total != 45 || mid.Step != "done" {
		t.Fatalf("progress %+v %v", mid, err)
	}
}

func TestClassifyWorkflowStopsWhenBudgetIsExhausted(t *testing.T) {
	f := newClassifyFixture(t, 45)
	f.grants = 2
	f.env.ExecuteWorkflow(ClassifyWorkflow, classifyInput())
	var res ClassifyResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != ClassifyBudgetExhausted || res.Classified != 40 || len(f.calls) != 2 || len(f.labelled) != 40 || res.Message == "" {
		t.Fatalf("result %+v, calls %d, labelled %d", res, len(f.calls), len(f.labelled))
	}
}

func TestClassifyWorkflowOfflineReservesNothing(t *testing.T) {
	f := newClassifyFixture(t, 5)
	in := classifyInput()
	in.Offline, in.Limit = true, 3
	f.env.ExecuteWorkflow(ClassifyWorkflow, in)
	var res ClassifyResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Classified != 3 || res.Total != 3 || len(f.reserved) != 0 || len(f.settled) != 0 {
		t.Fatalf("result %+v reserved %v settled %v", res, f.reserved, f.settled)
	}
}

func TestClassifyWorkflowReasksOnceWithTheProblems(t *testing.T) {
	f := newClassifyFixture(t, 3)
	f.answer = func(call int, ids []string) string {
		if call == 1 {
			return strings.Replace(goodAnswer(ids), `"confidence"`, `"happiness"`, 1)
		}
		return goodAnswer(ids)
	}
	f.env.ExecuteWorkflow(ClassifyWorkflow, classifyInput())
	var res ClassifyResult
	if err := f.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Classified != 3 || res.Reasked != 1 || len(f.calls) != 2 || len(f.reserved) != 2 || len(f.settled) != 2 {
		t.Fatalf("result %+v calls %d reserved %v", res, len(f.calls), f.reserved)
	}
	if p := strings.Join(f.calls[1].Problems, ";"); !strings.Contains(p, `unknown dimension "happiness"`) {
		t.Fatalf("re-ask problems: %q", p)
	}
}

func TestClassifyWorkflowFailsHonestlyWhenTheAnswerStaysInvalid(t *testing.T) {
	f := newClassifyFixture(t, 3)
	f.answer = func(_ int, ids []string) string { return goodAnswer(ids[:1]) } // snippets missing
	f.env.ExecuteWorkflow(ClassifyWorkflow, classifyInput())
	err := f.env.GetWorkflowError()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrTypeClassificationFailed || !strings.Contains(err.Error(), "e-001 is missing") {
		t.Fatalf("error %v", err)
	}
	if len(f.calls) != 2 || len(f.labelled) != 0 {
		t.Fatalf("calls %d labelled %d", len(f.calls), len(f.labelled))
	}
}

func TestClassifyWorkflowContinuesAsNew(t *testing.T) {
	f := newClassifyFixture(t, classifyBatchesPerRun+5)
	in := classifyInput()
	in.BatchSize, in.Offline = 1, true
	f.env.ExecuteWorkflow(ClassifyWorkflow, in)
	err := f.env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	if len(f.labelled) != classifyBatchesPerRun {
		t.Fatalf("labelled %d before continuing", len(f.labelled))
	}
	var next ClassifyInput
	if err := json.Unmarshal(can.Input.Payloads[0].Data, &next); err != nil {
		t.Fatal(err)
	}
	if next.After != f.ids[classifyBatchesPerRun-1] || !next.Counted || next.Totals.Classified != classifyBatchesPerRun || next.Totals.Total != int64(len(f.ids)) {
		t.Fatalf("next input %+v", next)
	}
}

func TestClassifyWorkflowCanceledMidBatchSettlesItsReservation(t *testing.T) {
	f := newClassifyFixture(t, 45)
	f.answer = func(call int, ids []string) string {
		if call == 2 {
			f.env.CancelWorkflow() // the job is canceled while the second batch is with the model
		}
		return goodAnswer(ids)
	}
	f.env.ExecuteWorkflow(ClassifyWorkflow, classifyInput())
	if err := f.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("want canceled, got %v", err)
	}
	if len(f.reserved) != 2 || !slices.Equal(f.reserved, f.settled) {
		t.Fatalf("reserved %v, settled %v: every reservation must be settled", f.reserved, f.settled)
	}
	if len(f.labelled) != 20 {
		t.Fatalf("labelled %d, want the first batch only", len(f.labelled))
	}
}
