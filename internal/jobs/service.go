package jobs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdktemporal "go.temporal.io/sdk/temporal"
	"golang.org/x/sync/singleflight"

	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/temporal/codec"
)

// ErrNotFound means there is no such job for this tenant (another tenant's job included).
var ErrNotFound = errors.New("job not found")

// ErrConflict means the job is in a state that forbids the operation.
var ErrConflict = errors.New("job conflict")

// Job is the resource every job endpoint returns, whatever the kind.
type Job struct {
	ID        string          `json:"id"`
	Kind      Kind            `json:"kind"`
	Status    Status          `json:"status"`
	Progress  *Progress       `json:"progress"`
	CreatedAt time.Time       `json:"created_at"`
	ClosedAt  *time.Time      `json:"closed_at"`
	Result    json.RawMessage `json:"result"`
	Error     *Error          `json:"error"`
	RunID     string          `json:"run_id"`
	Links     Links           `json:"links"`
}

// Error is why a job failed, timed out or was canceled.
type Error struct {
	Type    string `json:"type,omitempty"`
	Message string `json:"message"`
}

// Links are the job's related URLs.
type Links struct {
	Self    string `json:"self"`
	History string `json:"history"`
	Cancel  string `json:"cancel"`
	Reset   string `json:"reset"`
}

// LinksFor is where the job resource with this ID and its actions live in the API.
func LinksFor(id string) Links {
	self := "/v1/jobs/" + id
	return Links{Self: self, History: self + "/history", Cancel: self + "/cancel", Reset: self + "/reset"}
}

// Service reads and controls jobs through Temporal: visibility for lists, describe and
// queries for status and progress, the event history for audit, reset for replays.
type Service struct {
	client    client.Client
	namespace string
	dc        converter.DataConverter

	// Status reads are cached for a moment: a UI polling hundreds of jobs must not become
	// hundreds of describe calls a second. Closed runs never change, so their result is kept;
	// a closed job changes only by a reset, so a status poll of one is answered from the
	// cache and re-read behind it (see GetJSON).
	ttl     time.Duration
	mu      sync.Mutex
	recent  map[string]cachedJob
	closed  map[string]closedRun // by run ID
	flights singleflight.Group
	stats   CacheStats
	watch   runWatch // guarded by mu
}

type cachedJob struct {
	job    Job
	tenant string
	// at is when the read of the job from Temporal began: a reset after it may be missing.
	at time.Time
	// body is job encoded as JSON, once per read from Temporal rather than once per request.
	body []byte
	// refreshing is set while a background re-read of this closed job is under way.
	refreshing bool
	// watched is the run watch's epoch when every new run after at is sure to be seen by
	// the watch's checks (see runWatch); 0 when not.
	watched int
}

type closedRun struct {
	result   json.RawMessage
	progress *Progress
	jobErr   *Error
}

// CacheStats counts status reads served from the cache and from Temporal, and the checks
// for new runs of cached closed jobs (see runWatch).
type CacheStats struct {
	Hits           int64 `json:"hits"`
	Misses         int64 `json:"misses"`
	Entries        int   `json:"entries"`
	RunChecks      int64 `json:"run_checks"`
	RunCheckErrors int64 `json:"run_check_errors"`
}

// maxCached bounds each cache; past it the cache is emptied, which is rare and harmless.
const maxCached = 50000

// closedJobTTL bounds how long a status poll (GetJSON) may show a closed job's run after a
// new run of it (a reset) has started. A reset through this Service shows at once; one made
// elsewhere (another process, the Temporal UI or CLI) within closedJobTTL. A closed job is
// served from the cache for as long as the run watch (see runWatch) vouches for it; when it
// cannot, for closedJobTTL after its read, re-read in the background past half of that and
// by the poll itself past all of it (nobody asked for a while).
const closedJobTTL = 4 * time.Second

// NewService returns a Service on the client's namespace. dc decodes the payloads it reads
// from histories (results, local activity markers): the client's own data converter, or nil
// for plaintext payloads.
func NewService(c client.Client, namespace string, dc converter.DataConverter) *Service {
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	return &Service{
		client: c, namespace: namespace, dc: dc,
		ttl: time.Second, recent: map[string]cachedJob{}, closed: map[string]closedRun{},
	}
}

// Stats returns the cache counters.
func (s *Service) Stats() CacheStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Entries = len(s.recent) + len(s.closed)
	return st
}

// StartOptions says how to start a job's workflow.
type StartOptions struct {
	TaskQueue string
	Workflow  any // the workflow function
	Input     any
	// SearchAttributes are set with the start besides TenantId and JobKind.
	SearchAttributes []sdktemporal.SearchAttributeUpdate
}

// Start starts the job's workflow, or finds it when a job with this ID exists (a retried
// request with the same Idempotency-Key), and returns the job.
func (s *Service) Start(ctx context.Context, tenantID, id string, opts StartOptions) (Job, error) {
	kind, ok := KindOf(id)
	if !ok {
		return Job{}, fmt.Errorf("start job: bad job ID %q", id)
	}
	// The input is encrypted with the tenant's data key, and the tenant travels on to the
	// workflow in a header (see temporal/codec).
	ctx = codec.WithTenant(ctx, tenantID)
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: opts.TaskQueue,
		// A job ID is started once, ever: a second start, running or closed, is the same job.
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: sdktemporal.NewSearchAttributes(append([]sdktemporal.SearchAttributeUpdate{
			temporal.SearchAttrTenantID.ValueSet(tenantID),
			temporal.SearchAttrJobKind.ValueSet(string(kind)),
		}, opts.SearchAttributes...)...),
		// With the worker in the same process (dev mode), the first workflow task goes
		// straight to it instead of through matching.
		EnableEagerStart: true,
	}, opts.Workflow, opts.Input)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return s.fresh(ctx, tenantID, id)
	}
	if err != nil {
		return Job{}, fmt.Errorf("start %s job: %w", kind, err)
	}
	now := time.Now().UTC()
	return Job{ID: id, Kind: kind, Status: StatusQueued, CreatedAt: now, RunID: run.GetRunID(), Links: LinksFor(id)}, nil
}

// Get returns the tenant's job, served from a cache at most a second old: what callers
// that act on the status (a replay refuses a running job) read.
func (s *Service) Get(ctx context.Context, tenantID, id string) (Job, error) {
	c, err := s.get(ctx, tenantID, id, false)
	return c.job, err
}

// GetJSON is the tenant's job encoded as JSON, for status polls: an open job's status at
// most a second old, a closed job's at most closedJobTTL (see closedJobTTL).
func (s *Service) GetJSON(ctx context.Context, tenantID, id string) ([]byte, error) {
	c, err := s.get(ctx, tenantID, id, true)
	return c.body, err
}

// get serves the cached job when it is fresh enough; with closedStale, a closed job while
// the run watch vouches for it, else up to closedJobTTL old and re-read behind the caller
// past half of that.
func (s *Service) get(ctx context.Context, tenantID, id string, closedStale bool) (cachedJob, error) {
	now := time.Now()
	s.mu.Lock()
	c, ok := s.recent[id]
	age := now.Sub(c.at)
	stale := ok && closedStale && c.job.Status.Closed()
	watched := stale && s.watch.vouches(c, now)
	if ok && (age < s.ttl || stale && (watched || age < closedJobTTL)) {
		s.stats.Hits++
		refresh := stale && !watched && age >= closedJobTTL/2 && !c.refreshing
		if refresh {
			c.refreshing = true
			s.recent[id] = c
		}
		check := stale && s.watch.due(now)
		s.mu.Unlock()
		if refresh {
			go s.refresh(id)
		}
		if check {
			go s.checkRuns()
		}
		if c.tenant != tenantID {
			return cachedJob{}, ErrNotFound
		}
		return c, nil
	}
	s.stats.Misses++
	s.mu.Unlock()
	return s.freshEntry(ctx, tenantID, id)
}

// refresh re-reads a closed job behind its readers. When the read fails the entry goes,
// so that the next reader reads (and answers with the failure) itself.
func (s *Service) refresh(id string) {
	if _, err := s.read(context.Background(), id); err != nil {
		s.forget(id)
	}
}

// fresh reads the job from Temporal, sharing one read among concurrent callers.
func (s *Service) fresh(ctx context.Context, tenantID, id string) (Job, error) {
	c, err := s.freshEntry(ctx, tenantID, id)
	return c.job, err
}

func (s *Service) freshEntry(ctx context.Context, tenantID, id string) (cachedJob, error) {
	if _, ok := KindOf(id); !ok {
		return cachedJob{}, ErrNotFound
	}
	c, err := s.read(ctx, id)
	if err != nil {
		return cachedJob{}, err
	}
	if c.tenant != tenantID {
		return cachedJob{}, ErrNotFound
	}
	return c, nil
}

// read loads the job from Temporal into the cache, whoever the tenant.
func (s *Service) read(ctx context.Context, id string) (cachedJob, error) {
	v, err, _ := s.flights.Do(id, func() (any, error) {
		at := time.Now()
		job, tenant, err := s.load(context.WithoutCancel(ctx), id)
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(job)
		if err != nil {
			return nil, fmt.Errorf("encode job: %w", err)
		}
		c := cachedJob{job: job, tenant: tenant, at: at, body: body}
		s.mu.Lock()
		c.watched = s.watch.covering(at)
		if len(s.recent) >= maxCached {
			clear(s.recent)
		}
		s.recent[id] = c
		s.mu.Unlock()
		return c, nil
	})
	if err != nil {
		return cachedJob{}, err
	}
	return v.(cachedJob), nil
}

func (s *Service) forget(id string) {
	s.mu.Lock()
	delete(s.recent, id)
	s.mu.Unlock()
}

func (s *Service) load(ctx context.Context, id string) (Job, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	desc, err := s.client.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return Job{}, "", ErrNotFound
	}
	if err != nil {
		return Job{}, "", fmt.Errorf("describe job: %w", err)
	}
	info := desc.GetWorkflowExecutionInfo()
	tenant := s.keyword(info.GetSearchAttributes(), temporal.SearchAttrTenantID.GetName())
	job := s.fromInfo(info)
	switch {
	case job.Status == StatusQueued:
		job.Progress = &Progress{Step: "queued"}
	case !job.Status.Closed():
		job.Progress = s.queryProgress(ctx, id, job.RunID)
	default:
		closed, err := s.closedRun(ctx, id, job.RunID, job.Status)
		if err != nil {
			return Job{}, "", err
		}
		job.Result, job.Error, job.Progress = closed.result, closed.jobErr, closed.progress
	}
	return job, tenant, nil
}

func (s *Service) fromInfo(info *workflowpb.WorkflowExecutionInfo) Job {
	id := info.GetExecution().GetWorkflowId()
	kind, _ := KindOf(id)
	job := Job{
		ID:        id,
		Kind:      kind,
		Status:    statusOf(info),
		CreatedAt: info.GetStartTime().AsTime().UTC(),
		RunID:     info.GetExecution().GetRunId(),
		Links:     LinksFor(id),
	}
	if ct := info.GetCloseTime(); ct != nil && ct.IsValid() && !ct.AsTime().IsZero() {
		t := ct.AsTime().UTC()
		job.ClosedAt = &t
	}
	return job
}

// statusOf maps Temporal's execution status; a running workflow that no worker has picked
// up yet (no workflow task completed) is queued.
func statusOf(info *workflowpb.WorkflowExecutionInfo) Status {
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		if info.GetHistoryLength() <= 3 {
			return StatusQueued
		}
		return StatusRunning
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return StatusCompleted
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return StatusFailed
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return StatusCanceled
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return StatusTimedOut
	}
	return StatusRunning
}

func (s *Service) keyword(sa *commonpb.SearchAttributes, name string) string {
	p := sa.GetIndexedFields()[name]
	if p == nil {
		return ""
	}
	// Search attributes are never encrypted (the server indexes them).
	var v string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
		return ""
	}
	return v
}

// queryProgress asks the workflow for its progress; a job whose worker is busy or gone
// still answers, just without progress.
func (s *Service) queryProgress(ctx context.Context, id, runID string) *Progress {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := s.client.QueryWorkflow(ctx, id, runID, QueryProgress)
	if err != nil {
		return nil
	}
	var p Progress
	if err := v.Get(&p); err != nil {
		return nil
	}
	return &p
}

// closedRun reads a closed run's outcome once: its close event and final progress.
func (s *Service) closedRun(ctx context.Context, id, runID string, status Status) (closedRun, error) {
	s.mu.Lock()
	c, ok := s.closed[runID]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	iter := s.client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return closedRun{}, fmt.Errorf("read job outcome: %w", err)
		}
		switch {
		case ev.GetWorkflowExecutionCompletedEventAttributes() != nil:
			c.result = s.payloadsJSON(ev.GetWorkflowExecutionCompletedEventAttributes().GetResult())
		case ev.GetWorkflowExecutionFailedEventAttributes() != nil:
			f := ev.GetWorkflowExecutionFailedEventAttributes().GetFailure()
			c.jobErr = &Error{Type: failureType(f), Message: failureMessage(f)}
		case ev.GetWorkflowExecutionTimedOutEventAttributes() != nil:
			c.jobErr = &Error{Type: "TimedOut", Message: "the job ran past its time limit"}
		case ev.GetWorkflowExecutionCanceledEventAttributes() != nil:
			c.jobErr = &Error{Type: "Canceled", Message: "the job was canceled"}
		case ev.GetWorkflowExecutionTerminatedEventAttributes() != nil:
			c.jobErr = &Error{Type: "Terminated", Message: "terminated: " + ev.GetWorkflowExecutionTerminatedEventAttributes().GetReason()}
		}
	}
	if status == StatusCompleted {
		c.progress = s.queryProgress(ctx, id, runID)
	}
	s.mu.Lock()
	if len(s.closed) >= maxCached {
		clear(s.closed)
	}
	s.closed[runID] = c
	s.mu.Unlock()
	return c, nil
}

func (s *Service) payloadsJSON(p *commonpb.Payloads) json.RawMessage {
	if len(p.GetPayloads()) == 0 {
		return nil
	}
	var v json.RawMessage
	if err := s.dc.FromPayload(p.GetPayloads()[0], &v); err != nil {
		return nil
	}
	return v
}

// Wait returns the job once it has closed or d has passed. It long-polls Temporal for the
// close event in slices (see pollSlice) and re-reads the status between them, because a
// single long poll now and then misses a close that happened during it.
func (s *Service) Wait(ctx context.Context, tenantID, id string, d time.Duration) (Job, error) {
	start := time.Now()
	deadline := start.Add(d)
	for {
		job, err := s.fresh(ctx, tenantID, id)
		if err != nil || job.Status.Closed() {
			return job, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return job, nil
		}
		pollCtx, cancel := context.WithTimeout(ctx, min(left, pollSlice(time.Since(start))))
		_, err = s.client.WorkflowService().GetWorkflowExecutionHistory(pollCtx, &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace:              s.namespace,
			Execution:              &commonpb.WorkflowExecution{WorkflowId: id, RunId: job.RunID},
			WaitNewEvent:           true,
			HistoryEventFilterType: enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
		})
		cancel()
		if ctx.Err() != nil {
			return job, nil
		}
		if err != nil && !isTimeout(err) && !isBusy(err) {
			return Job{}, fmt.Errorf("wait for job: %w", err)
		}
		s.forget(id)
	}
}

// pollSlice is how long one long poll may last after the caller has waited for `waited`.
// The server drops a close notification now and then when a workflow closes within
// milliseconds of its previous event, which is exactly what a fast job does: short slices
// at first bound that stall for the jobs a caller is most likely waiting on.
func pollSlice(waited time.Duration) time.Duration {
	if waited < 2*time.Second {
		return 200 * time.Millisecond
	}
	return 2 * time.Second
}

// isBusy is the server turning a request away because the workflow is busy with others
// (a burst of jobs on a loaded server): for a wait, the same as a poll that timed out.
func isBusy(err error) bool {
	var re *serviceerror.ResourceExhausted
	return errors.As(err, &re) && re.Cause == enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW
}

func isTimeout(err error) bool {
	var de *serviceerror.DeadlineExceeded
	var ce *serviceerror.Canceled
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &de) || errors.As(err, &ce)
}

// Cancel asks a running job to stop; the workflow decides how (it may clean up first).
func (s *Service) Cancel(ctx context.Context, tenantID, id string) (Job, error) {
	job, err := s.fresh(ctx, tenantID, id)
	if err != nil {
		return Job{}, err
	}
	if job.Status.Closed() {
		return job, fmt.Errorf("%w: the job is already %s", ErrConflict, job.Status)
	}
	if err := s.client.CancelWorkflow(ctx, id, job.RunID); err != nil {
		return Job{}, fmt.Errorf("cancel job: %w", err)
	}
	s.forget(id)
	return s.fresh(ctx, tenantID, id)
}

// Filter narrows a job list.
type Filter struct {
	Kind      Kind
	Status    Status
	PageSize  int
	PageToken string
}

// Page is one page of a tenant's jobs, newest first.
type Page struct {
	Jobs          []Job  `json:"jobs"`
	NextPageToken string `json:"next_page_token,omitempty"`
}

// ErrBadPageToken means the page token was not one we issued.
var ErrBadPageToken = errors.New("bad page token")

// List returns the tenant's jobs from Temporal visibility.
func (s *Service) List(ctx context.Context, tenantID string, f Filter) (Page, error) {
	q := []string{fmt.Sprintf("%s = %s", temporal.SearchAttrTenantID.GetName(), QueryLiteral(tenantID))}
	if f.Kind != "" {
		q = append(q, fmt.Sprintf("%s = %s", temporal.SearchAttrJobKind.GetName(), QueryLiteral(string(f.Kind))))
	} else {
		// Tenants also own workflows that are not jobs (their AI budget, event triggers).
		kinds := make([]string, len(Kinds))
		for i, k := range Kinds {
			kinds[i] = QueryLiteral(string(k))
		}
		q = append(q, fmt.Sprintf("%s IN (%s)", temporal.SearchAttrJobKind.GetName(), strings.Join(kinds, ", ")))
	}
	if f.Status != "" {
		q = append(q, executionStatusQuery(f.Status))
	}
	token, err := base64.RawURLEncoding.DecodeString(f.PageToken)
	if err != nil {
		return Page{}, ErrBadPageToken
	}
	resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace:     s.namespace,
		PageSize:      int32(f.PageSize),
		NextPageToken: token,
		Query:         strings.Join(q, " AND "),
	})
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) && len(token) > 0 {
		return Page{}, ErrBadPageToken
	}
	if err != nil {
		return Page{}, fmt.Errorf("list jobs: %w", err)
	}
	page := Page{Jobs: []Job{}, NextPageToken: base64.RawURLEncoding.EncodeToString(resp.GetNextPageToken())}
	for _, info := range resp.GetExecutions() {
		job := s.fromInfo(info)
		// Visibility has no "queued"; it is running with nothing done yet.
		if f.Status == StatusQueued && job.Status != StatusQueued || f.Status == StatusRunning && job.Status != StatusRunning {
			continue
		}
		page.Jobs = append(page.Jobs, job)
	}
	return page, nil
}

func executionStatusQuery(s Status) string {
	switch s {
	case StatusCompleted:
		return "ExecutionStatus = 'Completed'"
	case StatusFailed:
		return "ExecutionStatus = 'Failed'"
	case StatusCanceled:
		return "(ExecutionStatus = 'Canceled' OR ExecutionStatus = 'Terminated')"
	case StatusTimedOut:
		return "ExecutionStatus = 'TimedOut'"
	}
	return "ExecutionStatus = 'Running'"
}

// QueryLiteral renders a string as a literal of a Temporal visibility query.
func QueryLiteral(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}
