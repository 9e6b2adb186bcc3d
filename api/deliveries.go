package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"golang.org/x/sync/singleflight"

	"github.com/impactflow/impactflow/activities/deliveries"
	"github.com/impactflow/impactflow/internal/connectors"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// Bounds of the delivery endpoints.
const (
	maxBulkReplay   = 100
	maxStatsWindow  = 90 * 24 * time.Hour
	maxRunsShown    = 20
	maxDeliveryDays = 366
)

// putPartner stores the tenant's credentials for a partner, sealed. They are never
// returned: the answer says which fields are set.
func (s *Server) putPartner(c *gin.Context) {
	p := connectors.Partner(c.Param("partner"))
	if !p.Valid() {
		s.fail(c, errBadPartner())
		return
	}
	var creds connectors.Credentials
	if err := bindJSON(c, &creds); err != nil {
		s.fail(c, err)
		return
	}
	if field, err := creds.Validate(p); err != nil {
		s.fail(c, badRequest(field, "%s", err.Error()))
		return
	}
	if s.secretBox == nil {
		s.fail(c, &apiError{Status: http.StatusServiceUnavailable, Code: "dependency_unavailable",
			Message: "IMPACTFLOW_SECRET_KEY is not configured, so credentials cannot be stored encrypted", Details: map[string]string{"dependency": "secret_key"}})
		return
	}
	tenant := mustPrincipal(c).TenantID
	sealed, err := deliveries.SealCredentials(s.secretBox, tenant, p, creds)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.store.PutPartnerCredentials(c.Request.Context(), tenant, string(p), sealed); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"partner": p, "configured": true, "key_id": sealed.KeyID, "fields_set": setFields(creds)})
}

func errBadPartner() *apiError {
	return badRequest("partner", "partner must be benevity, goodera or workday")
}

func setFields(c connectors.Credentials) []string {
	var out []string
	for _, f := range [][2]string{{"account_id", c.AccountID}, {"signing_secret", c.SigningSecret},
		{"client_id", c.ClientID}, {"client_secret", c.ClientSecret}, {"protocol", c.Protocol}, {"workday_tenant", c.WorkdayTenant},
		{"username", c.Username}, {"password", c.Password}} {
		if f[1] != "" {
			out = append(out, f[0])
		}
	}
	return out
}

type createDeliveryRequest struct {
	Partner     string `json:"partner"`
	PeriodStart string `json:"period_start"`
	PeriodEnd   string `json:"period_end"`
}

// createDelivery records a pending delivery and starts its DeliveryWorkflow (202, the job).
func (s *Server) createDelivery(c *gin.Context) {
	var req createDeliveryRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := connectors.Partner(req.Partner)
	if !p.Valid() {
		s.fail(c, errBadPartner())
		return
	}
	start, err := time.Parse(time.DateOnly, req.PeriodStart)
	if err != nil {
		s.fail(c, badRequest("period_start", "period_start must be a date, YYYY-MM-DD"))
		return
	}
	end, err := time.Parse(time.DateOnly, req.PeriodEnd)
	if err != nil {
		s.fail(c, badRequest("period_end", "period_end must be a date, YYYY-MM-DD"))
		return
	}
	if end.Before(start) || end.Sub(start) > maxDeliveryDays*24*time.Hour {
		s.fail(c, badRequest("period_end", "period_end must be on or after period_start, at most %d days later", maxDeliveryDays))
		return
	}
	ctx := c.Request.Context()
	tenant := mustPrincipal(c).TenantID
	if _, err := s.store.PartnerCredentials(ctx, tenant, string(p)); errors.Is(err, store.ErrNotFound) {
		s.fail(c, badRequest("partner", "no %s credentials are set: PUT /v1/impact-in/partners/%s first", p, p))
		return
	} else if err != nil {
		s.fail(c, err)
		return
	}
	id, err := jobID(c, jobs.KindDelivery, tenant)
	if err != nil {
		s.fail(c, err)
		return
	}
	if _, err := s.store.CreateDelivery(ctx, store.Delivery{ID: id, TenantID: tenant, Partner: string(p), PeriodStart: start, PeriodEnd: end}); err != nil {
		s.fail(c, err)
		return
	}
	job, err := s.jobs.Start(ctx, tenant, id, jobs.StartOptions{
		TaskQueue: workflows.DeliveryTaskQueue(string(p)),
		Workflow:  workflows.DeliveryWorkflow,
		Input: workflows.DeliveryInput{DeliveryID: id, TenantID: tenant, Partner: string(p),
			Period: deliveries.Period{Start: start, End: end}, AttemptTimeout: s.deliveryAttemptTimeout,
			RetryMaxInterval: s.deliveryRetryMax, StatusAtStart: true},
		SearchAttributes: workflows.DeliveryStartAttributes(string(p)),
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	accepted(c, job)
}

// listDeliveries pages the delivery log from Postgres.
func (s *Server) listDeliveries(c *gin.Context) {
	f := store.DeliveryFilter{Partner: c.Query("partner"), Status: c.Query("status"), Cursor: c.Query("cursor")}
	if f.Partner != "" && !connectors.Partner(f.Partner).Valid() {
		s.fail(c, errBadPartner())
		return
	}
	if f.Status != "" && !slices.Contains([]string{store.DeliveryPending, store.DeliveryInProgress, store.DeliveryDelivered, store.DeliveryFailed}, f.Status) {
		s.fail(c, badRequest("status", "status must be pending, in_progress, delivered or failed"))
		return
	}
	var err error
	if f.From, err = timeParam(c, "from"); err != nil {
		s.fail(c, err)
		return
	}
	if f.To, err = timeParam(c, "to"); err != nil {
		s.fail(c, err)
		return
	}
	if f.Limit, err = pageSize(c); err != nil {
		s.fail(c, err)
		return
	}
	page, err := s.store.ListDeliveries(c.Request.Context(), mustPrincipal(c).TenantID, f)
	if errors.Is(err, store.ErrBadCursor) {
		s.fail(c, badRequest("cursor", "cursor is not one this API issued"))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	body, err := deliveryPageJSON(page)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, jsonContentType, body)
}

// timeParam reads an RFC 3339 time or a date (midnight UTC); zero when absent.
func timeParam(c *gin.Context, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, badRequest(name, "%s must be an RFC 3339 time or a date (YYYY-MM-DD)", name)
}

// deliveryView is a delivery with its runs and attempts from the workflow history.
type deliveryView struct {
	store.Delivery
	Runs         []runView     `json:"runs"`
	AttemptsSeen []attemptView `json:"attempt_log"`
	Note         string        `json:"attempt_log_note"`
	Links        jobs.Links    `json:"links"`
}

type runView struct {
	RunID     string     `json:"run_id"`
	Status    string     `json:"status"`
	StartedAt time.Time  `json:"started_at"`
	ClosedAt  *time.Time `json:"closed_at"`
}

type attemptView struct {
	RunID      string    `json:"run_id"`
	Attempt    int32     `json:"attempt"`
	Time       time.Time `json:"time"`
	DurationMS int64     `json:"duration_ms"`
	HTTPStatus int       `json:"http_status,omitempty"`
	Outcome    string    `json:"outcome"` // delivered | failed | retried | running
	Error      string    `json:"error,omitempty"`
	ErrorType  string    `json:"error_type,omitempty"`
}

const attemptLogNote = "From the workflow history. Temporal records a retried activity's final attempt and the failure " +
	"of the attempt before it; `attempts` counts every attempt."

func (s *Server) getDelivery(c *gin.Context) {
	ctx := c.Request.Context()
	tenant, id := mustPrincipal(c).TenantID, c.Param("id")
	d, err := s.store.Delivery(ctx, tenant, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := deliveryView{Delivery: d, Runs: []runView{}, AttemptsSeen: []attemptView{}, Note: attemptLogNote, Links: jobs.LinksFor(id)}
	runs, err := s.deliveryRuns(ctx, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	v.Runs = runs
	for i := len(runs) - 1; i >= 0; i-- { // oldest run first
		att, err := s.sendAttempts(ctx, id, runs[i].RunID)
		if err != nil {
			s.fail(c, err)
			return
		}
		v.AttemptsSeen = append(v.AttemptsSeen, att...)
	}
	c.JSON(http.StatusOK, v)
}

// deliveryRuns lists the runs of the delivery's workflow, newest first: a replay (reset)
// adds one, linked to the run it reset.
func (s *Server) deliveryRuns(ctx context.Context, id string) ([]runView, error) {
	resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		PageSize: maxRunsShown, Query: fmt.Sprintf("WorkflowId = '%s'", id),
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	runs := []runView{}
	for _, e := range resp.GetExecutions() {
		r := runView{RunID: e.GetExecution().GetRunId(), Status: strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")),
			StartedAt: e.GetStartTime().AsTime().UTC()}
		if e.GetCloseTime() != nil {
			t := e.GetCloseTime().AsTime().UTC()
			r.ClosedAt = &t
		}
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b runView) int { return b.StartedAt.Compare(a.StartedAt) })
	if len(runs) == 0 { // visibility may trail a start by a moment; the current run is enough
		desc, err := s.temporal.DescribeWorkflowExecution(ctx, id, "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return runs, nil // the row exists but its workflow never started (Temporal was down)
		}
		if err != nil {
			return nil, fmt.Errorf("describe delivery: %w", err)
		}
		info := desc.GetWorkflowExecutionInfo()
		runs = append(runs, runView{RunID: info.GetExecution().GetRunId(), Status: "running", StartedAt: info.GetStartTime().AsTime().UTC()})
	}
	return runs, nil
}

// sendAttempts reads the Send activity's attempts from one run's history.
func (s *Server) sendAttempts(ctx context.Context, id, runID string) ([]attemptView, error) {
	dc := s.payloads
	var out []attemptView
	sendIDs := map[int64]bool{}
	started := map[int64]int{} // scheduled ID → index of the final attempt's entry
	iter := s.temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		at := ev.GetEventTime().AsTime().UTC()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "Send" {
				sendIDs[ev.GetEventId()] = true
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			if !sendIDs[a.GetScheduledEventId()] {
				continue
			}
			if f := a.GetLastFailure(); f != nil && a.GetAttempt() > 1 {
				out = append(out, failedAttempt(dc, runID, a.GetAttempt()-1, f, "retried"))
			}
			out = append(out, attemptView{RunID: runID, Attempt: a.GetAttempt(), Time: at, Outcome: "running"})
			started[a.GetScheduledEventId()] = len(out) - 1
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			i, ok := started[a.GetScheduledEventId()]
			if !ok {
				continue
			}
			var res deliveries.SendResult
			_ = dc.FromPayloads(a.GetResult(), &res)
			e := &out[i]
			e.Outcome, e.HTTPStatus, e.DurationMS = store.DeliveryDelivered, res.HTTPStatus, res.DurationMS
			if !res.StartedAt.IsZero() {
				e.Time = res.StartedAt
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			a := ev.GetActivityTaskFailedEventAttributes()
			if i, ok := started[a.GetScheduledEventId()]; ok {
				out[i] = failedAttempt(dc, runID, out[i].Attempt, a.GetFailure(), store.DeliveryFailed)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			a := ev.GetActivityTaskTimedOutEventAttributes()
			if i, ok := started[a.GetScheduledEventId()]; ok {
				e := &out[i]
				e.Outcome, e.Error, e.ErrorType = store.DeliveryFailed, a.GetFailure().GetMessage(), "Timeout"
				e.DurationMS = at.Sub(e.Time).Milliseconds()
			}
		}
	}
	return out, nil
}

func failedAttempt(dc converter.DataConverter, runID string, attempt int32, f *failurepb.Failure, outcome string) attemptView {
	v := attemptView{RunID: runID, Attempt: attempt, Outcome: outcome, Error: f.GetMessage()}
	app := f.GetApplicationFailureInfo()
	for c := f; app == nil && c != nil; c = c.GetCause() {
		app = c.GetApplicationFailureInfo()
		if app != nil {
			v.Error = c.GetMessage()
		}
	}
	if app == nil {
		v.ErrorType = "Timeout"
		return v
	}
	v.ErrorType = app.GetType()
	var af deliveries.AttemptFailure
	if app.GetDetails() != nil && dc.FromPayloads(app.GetDetails(), &af) == nil {
		v.HTTPStatus, v.DurationMS, v.Time = af.HTTPStatus, af.DurationMS, af.StartedAt
	}
	return v
}

// replayDelivery resets a failed delivery's workflow (202, the job with the new run). A
// delivered one is a 409 unless force=true.
func (s *Server) replayDelivery(c *gin.Context) {
	force, err := boolParam(c, "force")
	if err != nil {
		s.fail(c, err)
		return
	}
	p := mustPrincipal(c)
	job, err := s.replayer.Replay(c.Request.Context(), p.TenantID, c.Param("id"), force, "api key "+p.Prefix)
	if err != nil {
		s.fail(c, err)
		return
	}
	accepted(c, job)
}

func boolParam(c *gin.Context, name string) (bool, error) {
	v := c.Query(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest(name, "%s must be true or false", name)
	}
	return b, nil
}

type bulkReplayRequest struct {
	IDs   []string `json:"ids"`
	Force bool     `json:"force"`
}

// bulkReplay starts a batch job replaying the listed deliveries.
func (s *Server) bulkReplay(c *gin.Context) {
	var req bulkReplayRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if len(req.IDs) == 0 || len(req.IDs) > maxBulkReplay {
		s.fail(c, badRequest("ids", "ids must list 1 to %d delivery IDs", maxBulkReplay))
		return
	}
	seen := map[string]bool{}
	ids := req.IDs[:0]
	for _, id := range req.IDs {
		if k, ok := jobs.KindOf(id); !ok || k != jobs.KindDelivery {
			s.fail(c, badRequest("ids", "%q is not a delivery ID", id))
			return
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	p := mustPrincipal(c)
	s.startReplayBatch(c, workflows.ReplayBatchInput{TenantID: p.TenantID, IDs: ids, Force: req.Force, By: "api key " + p.Prefix})
}

type retryFailedRequest struct {
	Partner string `json:"partner"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// retryAllFailed starts a batch job replaying every failed delivery of the tenant,
// optionally of one partner and created in [from, to).
func (s *Server) retryAllFailed(c *gin.Context) {
	var req retryFailedRequest
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			s.fail(c, err)
			return
		}
	}
	if req.Partner != "" && !connectors.Partner(req.Partner).Valid() {
		s.fail(c, errBadPartner())
		return
	}
	p := mustPrincipal(c)
	f := &deliveries.FailedFilter{TenantID: p.TenantID, Partner: req.Partner, Limit: workflows.MaxReplayBatch}
	for _, t := range []struct {
		name string
		v    string
		dst  *time.Time
	}{{"from", req.From, &f.From}, {"to", req.To, &f.To}} {
		if t.v == "" {
			continue
		}
		parsed, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			s.fail(c, badRequest(t.name, "%s must be an RFC 3339 time", t.name))
			return
		}
		*t.dst = parsed
	}
	s.startReplayBatch(c, workflows.ReplayBatchInput{TenantID: p.TenantID, Failed: f, By: "api key " + p.Prefix})
}

func (s *Server) startReplayBatch(c *gin.Context, in workflows.ReplayBatchInput) {
	id, err := jobID(c, jobs.KindDeliveryReplay, in.TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	job, err := s.jobs.Start(c.Request.Context(), in.TenantID, id, jobs.StartOptions{
		TaskQueue: temporal.TaskQueueDeliveries, Workflow: workflows.ReplayBatchWorkflow, Input: in,
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	accepted(c, job)
}

// deliveryStats answers counts by partner and status, success rate, and the median and
// p95 of attempts and time to deliver, over ?window= (default 24h).
func (s *Server) deliveryStats(c *gin.Context) {
	window := 24 * time.Hour
	if w := c.Query("window"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d <= 0 || d > maxStatsWindow {
			s.fail(c, badRequest("window", "window must be a duration up to %s, e.g. 24h", maxStatsWindow))
			return
		}
		window = d
	}
	st, err := s.deliveryStatsCache.get(c.Request.Context(), s.store, mustPrincipal(c).TenantID, window)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

// statsTTL is how long a tenant's stats for a window are served before being recomputed:
// percentiles over a day of deliveries cost a scan, and a dashboard polling them needs
// neither second-fresh numbers nor one scan per poll.
const statsTTL = 5 * time.Second

// statsCache holds recently computed stats per tenant and window; concurrent misses for the
// same key share one query.
type statsCache struct {
	mu      sync.Mutex
	entries map[string]cachedStats
	flights singleflight.Group
}

type cachedStats struct {
	stats store.DeliveryStats
	at    time.Time
}

func (sc *statsCache) get(ctx context.Context, st *store.Store, tenant string, window time.Duration) (store.DeliveryStats, error) {
	key := tenant + "|" + window.String()
	sc.mu.Lock()
	e, ok := sc.entries[key]
	sc.mu.Unlock()
	if ok && time.Since(e.at) < statsTTL {
		return e.stats, nil
	}
	v, err, _ := sc.flights.Do(key, func() (any, error) {
		stats, err := st.DeliveryStats(context.WithoutCancel(ctx), tenant, time.Now().Add(-window).UTC())
		if err != nil {
			return nil, err
		}
		sc.mu.Lock()
		if sc.entries == nil || len(sc.entries) > 10000 {
			sc.entries = map[string]cachedStats{}
		}
		sc.entries[key] = cachedStats{stats: stats, at: time.Now()}
		sc.mu.Unlock()
		return stats, nil
	})
	if err != nil {
		return store.DeliveryStats{}, err
	}
	return v.(store.DeliveryStats), nil
}
