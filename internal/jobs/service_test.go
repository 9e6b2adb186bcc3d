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

// fakeTemporal answers describe with whatever status and run it is set to, counting the
// calls; a describe waits while gate is closed. Its visibility lists listed as the runs
// started lately, or fails with listErr.
type fakeTemporal struct {
	client.Client
	mu        sync.Mutex
	status    enumspb.WorkflowExecutionStatus
	runID     string
	describes int
	gate      chan struct{}
	listed    []*workflowpb.WorkflowExecutionInfo
	listErr   error
}

func (f *fakeTemporal) set(st enumspb.WorkflowExecutionStatus, gate chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.gate = st, gate
}

// newRun makes the workflow id run again as runID, listed as started lately.
func (f *fakeTemporal) newRun(id, runID string, st enumspb.WorkflowExecutionStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.runID = st, runID
	f.listed = append(f.listed, &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: runID}})
}

func (f *fakeTemporal) failLists(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listErr = err
}

func (f *fakeTemporal) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.describes
}

func (f *fakeTemporal) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.mu.Lock()
	f.describes++
	st, gate, runID := f.status, f.gate, f.runID
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if runID == "" {
		runID = "run-1"
	}
	tenant, _ := converter.GetDefaultDataConverter().ToPayload("acme")
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution:        &commonpb.WorkflowExecution{WorkflowId: id, RunId: runID},
		Status:           st,
		HistoryLength:    10,
		StartTime:        timestamppb.Now(),
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{temporal.SearchAttrTenantID.GetName(): tenant}},
	}}, nil
}

func (f *fakeTemporal) ListWorkflow(context.Context, *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: f.listed}, nil
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

// watched reports whether the run watch vouches for the cached entry of id.
func (s *Service) watched(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watch.vouches(s.recent[id], time.Now())
}

// checkDue lets the next status poll start a run check at once.
func (s *Service) checkDue() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watch.started = time.Time{}
}

func TestClosedJobIsReReadBehindItsPolls(t *testing.T) {
	ctx := context.Background()
	fake := &fakeTemporal{status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED}
	// Visibility is down: no run check succeeds, so closed jobs are re-read per job.
	fake.failLists(errors.New("visibility unavailable"))
	s := NewService(fake, "default", nil)
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
	waitFor(t, func() bool { return s.Stats().RunCheckErrors == 1 })

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

func TestRunWatchKeepsClosedJobsUntilANewRun(t *testing.T) {
	ctx := context.Background()
	fake := &fakeTemporal{status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED}
	s := NewService(fake, "default", nil)
	id := NewID(KindImport)

	// Read before any run check: not vouched for, so re-read once behind the polls past
	// half of closedJobTTL; the first poll starts the checks.
	if _, err := s.GetJSON(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetJSON(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return s.Stats().RunChecks == 1 })
	if s.watched(id) {
		t.Fatal("a job read before the first run check is vouched for")
	}
	s.age(id, closedJobTTL*3/4)
	if _, err := s.GetJSON(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return s.watched(id) })

	// Vouched for, a closed job is served from the cache however old, without a describe.
	describes := fake.calls()
	s.age(id, 10*closedJobTTL)
	for range 3 {
		var job Job
		if body, err := s.GetJSON(ctx, "acme", id); err != nil || json.Unmarshal(body, &job) != nil || job.Status != StatusCompleted {
			t.Fatalf("poll of a watched closed job: %s, %v", body, err)
		}
	}
	if n := fake.calls(); n != describes {
		t.Fatalf("%d describes for polls of a watched closed job, want none", n-describes)
	}

	// A new run started elsewhere: the next check drops the cached job, and the poll after
	// that reads the new run.
	fake.newRun(id, "run-2", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)
	s.checkDue()
	if _, err := s.GetJSON(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		var job Job
		body, err := s.GetJSON(ctx, "acme", id)
		return err == nil && json.Unmarshal(body, &job) == nil && job.RunID == "run-2" && job.Status == StatusRunning
	})

	// The new run closes; it is listed as started lately but is the cached run: kept.
	fake.set(enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, nil)
	s.forget(id)
	if _, err := s.GetJSON(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	checks := s.Stats().RunChecks
	s.checkDue()
	if _, err := s.GetJSON(ctx, "acme", id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return s.Stats().RunChecks > checks })
	if !s.watched(id) {
		t.Fatal("the cached run was dropped for being listed itself")
	}

	// Once the checks fail for longer than they can vouch, closed jobs fall back to being
	// re-read within closedJobTTL.
	fake.failLists(errors.New("visibility unavailable"))
	s.mu.Lock()
	s.watch.sent = time.Now().Add(-closedJobTTL)
	s.mu.Unlock()
	fake.set(enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, nil) // stands for a new run nobody listed
	s.age(id, closedJobTTL)
	var job Job
	if body, err := s.GetJSON(ctx, "acme", id); err != nil || json.Unmarshal(body, &job) != nil || job.Status != StatusFailed {
		t.Fatalf("poll of a closed job the watch can no longer vouch for: %s, %v; want a fresh read", body, err)
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
