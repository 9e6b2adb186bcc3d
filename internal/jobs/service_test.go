package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impactflow/impactflow/temporal"
)

func TestWaitKeepsPollingThroughTimeoutsAndBusyWorkflows(t *testing.T) {
	for _, tc := range []struct {
		err  error
		poll bool
	}{
		{context.DeadlineExceeded, true},
		{serviceerror.NewDeadlineExceeded("poll"), true},
		{fmt.Errorf("history: %w", serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW, "Workflow is busy.")), true},
		{serviceerror.NewResourceExhausted(enumspb.RESOURCE_EXHAUSTED_CAUSE_RPS_LIMIT, "rps"), false},
		{serviceerror.NewNotFound("gone"), false},
		{errors.New("boom"), false},
	} {
		if got := isTimeout(tc.err) || isBusy(tc.err); got != tc.poll {
			t.Errorf("%v: keep polling %v, want %v", tc.err, got, tc.poll)
		}
	}
}

// fakeTemporal answers describe with whatever status it is set to, counting the calls; a
// describe waits while gate is closed.
type fakeTemporal struct {
	client.Client
	mu        sync.Mutex
	status    enumspb.WorkflowExecutionStatus
	describes int
	gate      chan struct{}
}

func (f *fakeTemporal) set(st enumspb.WorkflowExecutionStatus, gate chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.gate = st, gate
}

func (f *fakeTemporal) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.describes
}

func (f *fakeTemporal) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.mu.Lock()
	f.describes++
	st, gate := f.status, f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	tenant, _ := converter.GetDefaultDataConverter().ToPayload("acme")
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution:        &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-1"},
		Status:           st,
		HistoryLength:    10,
		StartTime:        timestamppb.Now(),
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{temporal.SearchAttrTenantID.GetName(): tenant}},
	}}, nil
}

func (f *fakeTemporal) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return noEvents{}
}

func (f *fakeTemporal) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return nil, errors.New("no worker")
}

type noEvents struct{}

func (noEvents) HasNext() bool                          { return false }
func (noEvents) Next() (*historypb.HistoryEvent, error) { return nil, errors.New("no events") }

// age makes the cached entry of id look d old.
func (s *Service) age(id string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.recent[id]
	c.at = time.Now().Add(-d)
	s.recent[id] = c
}

func TestClosedJobIsReReadBehindItsPolls(t *testing.T) {
	ctx := context.Background()
	fake := &fakeTemporal{status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED}
	s := NewService(fake, "default")
	id := NewID(KindImport)

	job, err := s.Get(ctx, "acme", id)
	if err != nil || job.Status != StatusCompleted || fake.calls() != 1 {
		t.Fatalf("first read: %+v, %v, %d describes; want completed after 1", job, err, fake.calls())
	}
	body, err := s.GetJSON(ctx, "acme", id)
	if want, _ := json.Marshal(job); err != nil || string(body) != string(want) {
		t.Fatalf("GetJSON = %s, %v; want %s", body, err, want)
	}
	if _, err := s.Get(ctx, "globex", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another tenant's read from the cache: %v, want ErrNotFound", err)
	}

	// Reset elsewhere: the job runs again. Past half its TTL, a status poll still answers
	// from the cache at once (the describe is held) and starts one read behind it.
	gate := make(chan struct{})
	fake.set(enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, gate)
	s.age(id, closedJobTTL*3/4)
	cached, _ := json.Marshal(job)
	for range 3 {
		if body, err := s.GetJSON(ctx, "acme", id); err != nil || string(body) != string(cached) {
			t.Fatalf("poll while the re-read is held: %s, %v; want the cached completed job", body, err)
		}
	}
	waitFor(t, func() bool { return fake.calls() == 2 })
	close(gate)
	waitFor(t, func() bool {
		job, err := s.Get(ctx, "acme", id)
		return err == nil && job.Status == StatusRunning
	})
	if n := fake.calls(); n != 2 {
		t.Fatalf("%d describes, want 2: one read behind the polls, then the open job's cache", n)
	}

	// Get, which callers act on, reads a closed job more than a second old before answering.
	fake.set(enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, nil)
	s.forget(id)
	if _, err := s.Get(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	fake.set(enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil)
	s.age(id, 2*time.Second)
	if job, err := s.Get(ctx, "acme", id); err != nil || job.Status != StatusRunning {
		t.Fatalf("Get of a closed job 2s old: %+v, %v; want the fresh running status", job, err)
	}

	// A closed job nobody polled for closedJobTTL is read before answering the poll.
	fake.set(enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, nil)
	s.forget(id)
	if _, err := s.Get(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	fake.set(enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, nil)
	s.age(id, closedJobTTL)
	body, err = s.GetJSON(ctx, "acme", id)
	var polled Job
	if err != nil || json.Unmarshal(body, &polled) != nil || polled.Status != StatusFailed {
		t.Fatalf("poll of a long-unpolled closed job: %s, %v; want the fresh failed status", body, err)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("condition not met within 5s")
}
