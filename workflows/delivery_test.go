package workflows

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/impactflow/impactflow/activities/deliveries"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
	itemporal "github.com/impactflow/impactflow/temporal"
)

func deliveryInput() DeliveryInput {
	return DeliveryInput{DeliveryID: "delivery-1", TenantID: "acme", Partner: "goodera",
		Period: deliveries.Period{Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)}}
}

func deliveryEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *deliveries.Activities, *[]deliveries.OutcomeInput) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	lastStatus, statusUpserts = "", nil
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		if st, ok := sa.GetKeyword(deliveryStatusKey()); ok {
			lastStatus = st
			statusUpserts = append(statusUpserts, st)
		}
	}).Return(nil)
	var a *deliveries.Activities
	env.RegisterActivity(a)
	env.OnActivity(a.BuildPayload, mock.Anything, mock.Anything).Return(deliveries.BuildResult{PayloadHash: "abc", Bytes: 10}, nil)
	outcomes := &[]deliveries.OutcomeInput{}
	env.OnActivity(a.RecordOutcome, mock.Anything, mock.Anything).Return(func(_ context.Context, in deliveries.OutcomeInput) error {
		*outcomes = append(*outcomes, in)
		return nil
	})
	return env, a, outcomes
}

func TestDeliveryWorkflowDeliversAfterRetryableFailures(t *testing.T) {
	env, a, outcomes := deliveryEnv(t)
	var calls atomic.Int32
	env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(func(_ context.Context, in deliveries.SendInput) (deliveries.SendResult, error) {
		if in.DeliveryID != "delivery-1" || in.Partner != "goodera" {
			t.Errorf("send input = %+v", in)
		}
		if calls.Add(1) < 3 {
			return deliveries.SendResult{}, temporal.NewApplicationError("goodera: HTTP 503: down", deliveries.ErrTypeUnavailable, deliveries.AttemptFailure{HTTPStatus: 503})
		}
		return deliveries.SendResult{ReceiptID: "rcpt_1", HTTPStatus: 201, Attempt: 3}, nil
	})
	env.ExecuteWorkflow(DeliveryWorkflow, deliveryInput())
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res DeliveryResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || res.ReceiptID != "rcpt_1" || res.Status != store.DeliveryDelivered || res.PayloadHash != "abc" {
		t.Fatalf("calls=%d result=%+v", calls.Load(), res)
	}
	if len(*outcomes) != 1 || (*outcomes)[0].Status != store.DeliveryDelivered || (*outcomes)[0].ReceiptID != "rcpt_1" {
		t.Fatalf("outcomes = %+v", *outcomes)
	}
	if lastStatus != store.DeliveryDelivered {
		t.Fatalf("DeliveryStatus = %q", lastStatus)
	}
	v, err := env.QueryWorkflow(jobs.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p jobs.Progress
	_ = v.Get(&p)
	if p.Done != 3 || p.Step != store.DeliveryDelivered {
		t.Fatalf("progress = %+v", p)
	}
}

func TestDeliveryWorkflowFailsAtOnceOnRejection(t *testing.T) {
	env, a, outcomes := deliveryEnv(t)
	var calls atomic.Int32
	env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(func(context.Context, deliveries.SendInput) (deliveries.SendResult, error) {
		calls.Add(1)
		return deliveries.SendResult{}, temporal.NewNonRetryableApplicationError("goodera: HTTP 422: metrics[0] must not be negative",
			deliveries.ErrTypeRejected, nil, deliveries.AttemptFailure{HTTPStatus: 422, Kind: "rejected"})
	})
	env.ExecuteWorkflow(DeliveryWorkflow, deliveryInput())
	err := env.GetWorkflowError()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != deliveries.ErrTypeRejected || !strings.Contains(app.Message(), "must not be negative") {
		t.Fatalf("workflow error = %v", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("send called %d times, want 1 (no retries on a 422)", calls.Load())
	}
	if len(*outcomes) != 1 || (*outcomes)[0].Status != store.DeliveryFailed || (*outcomes)[0].LastHTTPStatus != 422 ||
		!strings.Contains((*outcomes)[0].Error, "must not be negative") {
		t.Fatalf("outcomes = %+v", *outcomes)
	}
	if lastStatus != store.DeliveryFailed {
		t.Fatalf("DeliveryStatus = %q", lastStatus)
	}
}

func TestDeliveryWorkflowGivesUpWhenTheBudgetRunsOut(t *testing.T) {
	env, a, outcomes := deliveryEnv(t)
	env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(deliveries.SendResult{},
		temporal.NewApplicationError("workday: HTTP 500: down", deliveries.ErrTypeUnavailable, deliveries.AttemptFailure{HTTPStatus: 500}))
	in := deliveryInput()
	in.Budget = time.Minute
	env.ExecuteWorkflow(DeliveryWorkflow, in)
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("workflow succeeded")
	}
	if len(*outcomes) != 1 || (*outcomes)[0].Status != store.DeliveryFailed || !strings.Contains((*outcomes)[0].Error, "budget") {
		t.Fatalf("outcomes = %+v", *outcomes)
	}
}

func TestReplayBatchWorkflowBoundsConcurrency(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *deliveries.Activities
	env.RegisterActivity(a)
	var running, peak atomic.Int32
	env.OnActivity(a.ListFailedDeliveries, mock.Anything, mock.Anything).Return([]string{"d-1", "d-2", "d-3", "d-4", "d-5", "d-6", "d-7"}, nil)
	env.OnActivity(a.ReplayDelivery, mock.Anything, mock.Anything).Return(func(_ context.Context, in deliveries.ReplayItemInput) (deliveries.ReplayItem, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond) // the activity's own duration, so that calls overlap
		if in.ID == "d-4" {
			return deliveries.ReplayItem{ID: in.ID, Result: "conflict", Message: "delivered"}, nil
		}
		return deliveries.ReplayItem{ID: in.ID, Result: "replayed", RunID: "r-" + in.ID}, nil
	})
	env.ExecuteWorkflow(ReplayBatchWorkflow, ReplayBatchInput{TenantID: "acme", Failed: &deliveries.FailedFilter{TenantID: "acme", Limit: 100}, Concurrency: 3})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ReplayBatchResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Total != 7 || res.Replayed != 6 || res.Refused != 1 || res.Items[3].Result != "conflict" || res.Items[6].ID != "d-7" {
		t.Fatalf("result = %+v", res)
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak concurrency = %d, want 2..3", p)
	}
}

// lastStatus is the last DeliveryStatus the workflow under test upserted, statusUpserts all
// of them in order.
var (
	lastStatus    string
	statusUpserts []string
)

func deliveryStatusKey() temporal.SearchAttributeKeyKeyword {
	return temporal.NewSearchAttributeKeyKeyword("DeliveryStatus")
}

func TestDeliveryWorkflowCanceledStillRecordsTheOutcome(t *testing.T) {
	env, a, outcomes := deliveryEnv(t)
	env.OnActivity(a.Send, mock.Anything, mock.Anything).After(time.Hour).Return(deliveries.SendResult{ReceiptID: "late"}, nil)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
	env.ExecuteWorkflow(DeliveryWorkflow, deliveryInput())
	if err := env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("workflow error = %v, want canceled", err)
	}
	if len(*outcomes) != 1 || (*outcomes)[0].Status != store.DeliveryFailed {
		t.Fatalf("outcomes = %+v", *outcomes)
	}
}

// TestDeliveryStatusAtStartUpsertsOnlyTheOutcome: when the starter set the status with the
// start, the workflow's one search-attribute upsert is the outcome.
func TestDeliveryStatusAtStartUpsertsOnlyTheOutcome(t *testing.T) {
	for _, atStart := range []bool{false, true} {
		env, a, _ := deliveryEnv(t)
		env.OnActivity(a.Send, mock.Anything, mock.Anything).Return(deliveries.SendResult{ReceiptID: "rcpt_1", HTTPStatus: 201, Attempt: 1}, nil)
		in := deliveryInput()
		in.StatusAtStart = atStart
		env.ExecuteWorkflow(DeliveryWorkflow, in)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		want := []string{store.DeliveryInProgress, store.DeliveryDelivered}
		if atStart {
			want = want[1:]
		}
		if strings.Join(statusUpserts, ",") != strings.Join(want, ",") {
			t.Errorf("StatusAtStart=%v: upserts %v, want %v", atStart, statusUpserts, want)
		}
	}
}

func TestDeliveryTaskQueueKeepsRateLimitedPartnersOffEagerSends(t *testing.T) {
	for _, tc := range []struct{ partner, queue string }{
		{"benevity", itemporal.TaskQueuePartner("benevity")},
		{"workday", itemporal.TaskQueuePartner("workday")},
		// Goodera's limit is its queue's: a send handed over eagerly would bypass it.
		{"goodera", itemporal.TaskQueueDeliveries},
	} {
		if got := DeliveryTaskQueue(tc.partner); got != tc.queue {
			t.Errorf("%s: %s, want %s", tc.partner, got, tc.queue)
		}
		if PartnerRateLimited(tc.partner) == (tc.queue != itemporal.TaskQueueDeliveries) {
			t.Errorf("%s: rate limited %v but runs on %s", tc.partner, PartnerRateLimited(tc.partner), tc.queue)
		}
	}
}
