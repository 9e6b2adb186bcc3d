package privacy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/temporal"
)

// Execution is a workflow whose history may carry the participant's data, and why.
type Execution struct {
	WorkflowID string `json:"workflow_id"`
	Why        string `json:"why"`
}

// Reasons an execution is found.
const (
	WhyReportEvidence   = "report over their evidence"
	WhyClassification   = "classification of their evidence"
	WhyImport           = "import of their rows"
	WhyNotification     = "notification to their email or phone"
	WhyNotificationRule = "event that notified them"
)

// ExecutionsFromPostgres lists the workflows Postgres says handled the participant's data:
// reports whose period covers their evidence or that cite it (report_lineage), classifications
// of their evidence, imports of their events and evidence (staged or done), notifications to
// their email or phone and the event triggers that started them.
func (p Postgres) ExecutionsFromPostgres(ctx context.Context, tenantID, participantID string) ([]Execution, error) {
	s, _, err := p.LoadSubject(ctx, tenantID, participantID)
	if err != nil {
		return nil, err
	}
	addrs := s.addresses()
	if addrs == nil {
		addrs = []string{}
	}
	rows, err := p.Pool.Query(ctx, `
		WITH ev AS (SELECT snippet_id, occurred_at, import_job_id, classifier_job_id FROM evidence_snippets
		            WHERE tenant_id = $1 AND participant_id = $2)
		SELECT l.workflow_id, $4 FROM report_lineage l
		WHERE l.tenant_id = $1 AND (
			EXISTS (SELECT 1 FROM ev WHERE ev.occurred_at::date BETWEEN l.period_from AND l.period_to)
			OR EXISTS (SELECT 1 FROM report_citations c JOIN ev USING (snippet_id) WHERE c.report_id = l.report_id AND c.tenant_id = $1))
		UNION SELECT classifier_job_id, $5 FROM ev WHERE classifier_job_id IS NOT NULL
		UNION SELECT import_job_id, $6 FROM ev WHERE import_job_id IS NOT NULL
		UNION SELECT import_job_id, $6 FROM impact_events WHERE tenant_id = $1 AND participant_id = $2 AND import_job_id IS NOT NULL
		UNION SELECT c.job_id, $6 FROM import_chunks c JOIN import_uploads u ON u.job_id = c.job_id
		      WHERE u.tenant_id = $1 AND length(c.data) > 0 AND position(convert_to($2, 'UTF8') IN c.data) > 0
		UNION SELECT id, $7 FROM notifications WHERE tenant_id = $1 AND recipients && $3::text[]
		UNION SELECT 'event-' || trigger_event_id, $8 FROM notifications
		      WHERE tenant_id = $1 AND recipients && $3::text[] AND trigger_event_id IS NOT NULL`,
		tenantID, participantID, addrs, WhyReportEvidence, WhyClassification, WhyImport, WhyNotification, WhyNotificationRule)
	if err != nil {
		return nil, fmt.Errorf("find executions: %w", err)
	}
	var out []Execution
	for rows.Next() {
		var e Execution
		if err := rows.Scan(&e.WorkflowID, &e.Why); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find executions: %w", err)
		}
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find executions: %w", err)
	}
	return out, nil
}

// EvidencePeriod is the first and last day of the participant's evidence; ok is false when
// they have none.
func (p Postgres) EvidencePeriod(ctx context.Context, tenantID, participantID string) (first, last time.Time, ok bool, err error) {
	var f, l *time.Time
	err = p.Pool.QueryRow(ctx, `SELECT min(occurred_at), max(occurred_at) FROM evidence_snippets WHERE tenant_id = $1 AND participant_id = $2`,
		tenantID, participantID).Scan(&f, &l)
	if err != nil || f == nil {
		return time.Time{}, time.Time{}, false, err
	}
	return f.UTC(), l.UTC(), true, nil
}

// Temporal finds, stops and deletes workflow executions of a tenant.
type Temporal struct {
	Client    client.Client
	Namespace string
	// DataConverter decodes workflow inputs (nil: the SDK's default).
	DataConverter converter.DataConverter
	// Scrub, when set, makes what the server deleted unreadable in its store's files
	// (devserver.Server.Scrub); nil when Temporal's persistence is the operator's.
	Scrub func(ctx context.Context) error
}

func (t Temporal) dc() converter.DataConverter {
	if t.DataConverter != nil {
		return t.DataConverter
	}
	return converter.GetDefaultDataConverter()
}

// RunningReports lists the tenant's running report jobs whose period overlaps [first,
// last]: they are reading or writing over the participant's evidence now, and are not in
// report_lineage yet.
func (t Temporal) RunningReports(ctx context.Context, tenantID string, first, last time.Time) ([]Execution, error) {
	infos, err := t.list(ctx, fmt.Sprintf("%s = %s AND %s = %s AND ExecutionStatus = 'Running'",
		temporal.SearchAttrTenantID.GetName(), jobs.QueryLiteral(tenantID), temporal.SearchAttrJobKind.GetName(), jobs.QueryLiteral(string(jobs.KindReport))))
	if err != nil {
		return nil, err
	}
	var out []Execution
	for _, info := range infos {
		ex := info.GetExecution()
		var in struct {
			From string `json:"from"`
			To   string `json:"to"`
		}
		// A report whose period cannot be read (its input encoded with a key this process
		// does not hold, say) is treated as one that overlaps.
		err := t.input(ctx, ex.GetWorkflowId(), ex.GetRunId(), &in)
		if isNotFound(err) {
			continue
		}
		from, errFrom := time.Parse(time.DateOnly, in.From)
		to, errTo := time.Parse(time.DateOnly, in.To)
		if err != nil || errFrom != nil || errTo != nil || !from.After(last) && !to.Add(24*time.Hour).Before(first) {
			out = append(out, Execution{WorkflowID: ex.GetWorkflowId(), Why: WhyReportEvidence})
		}
	}
	return out, nil
}

// input decodes the first argument of a run's start event.
func (t Temporal) input(ctx context.Context, workflowID, runID string, v any) error {
	it := t.Client.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return nil
	}
	ev, err := it.Next()
	if err != nil {
		return fmt.Errorf("read %s input: %w", workflowID, err)
	}
	payloads := ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
	if len(payloads) == 0 {
		return nil
	}
	if err := t.dc().FromPayload(payloads[0], v); err != nil {
		return fmt.Errorf("decode %s input: %w", workflowID, err)
	}
	return nil
}

func (t Temporal) list(ctx context.Context, query string) ([]*workflowpb.WorkflowExecutionInfo, error) {
	var out []*workflowpb.WorkflowExecutionInfo
	var token []byte
	for {
		resp, err := t.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: t.Namespace, Query: query, PageSize: 1000, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list workflows: %w", err)
		}
		out = append(out, resp.GetExecutions()...)
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

// StopResult says what was done to the executions that were running.
type StopResult struct {
	// Canceled were asked to stop and did, within the grace period.
	Canceled []string `json:"canceled"`
	// Terminated did not stop within the grace period.
	Terminated []string `json:"terminated"`
}

// Stop cancels every running one of the executions (a report over the participant's
// evidence, a notification to them) and waits up to grace for them to close, calling
// waiting between looks; those still running then are terminated. A job that closed by
// itself meanwhile is neither.
func (t Temporal) Stop(ctx context.Context, tenantID string, executions []Execution, grace time.Duration, waiting func()) (StopResult, error) {
	res := StopResult{Canceled: []string{}, Terminated: []string{}}
	var running []string
	for _, e := range executions {
		open, err := t.running(ctx, tenantID, e.WorkflowID)
		if err != nil {
			return res, err
		}
		if !open {
			continue
		}
		if err := t.Client.CancelWorkflow(ctx, e.WorkflowID, ""); err != nil && !isNotFound(err) {
			return res, fmt.Errorf("cancel %s: %w", e.WorkflowID, err)
		}
		running = append(running, e.WorkflowID)
	}
	deadline := time.Now().Add(grace)
	for len(running) > 0 {
		var still []string
		for _, id := range running {
			open, err := t.running(ctx, tenantID, id)
			if err != nil {
				return res, err
			}
			if open {
				still = append(still, id)
			} else {
				res.Canceled = append(res.Canceled, id)
			}
		}
		running = still
		if len(running) == 0 || time.Now().After(deadline) {
			break
		}
		if waiting != nil {
			waiting()
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	for _, id := range running {
		if err := t.Client.TerminateWorkflow(ctx, id, "", "participant erased"); err != nil && !isNotFound(err) {
			return res, fmt.Errorf("terminate %s: %w", id, err)
		}
		res.Terminated = append(res.Terminated, id)
	}
	return res, nil
}

// running reports whether the tenant's workflow has a running run.
func (t Temporal) running(ctx context.Context, tenantID, workflowID string) (bool, error) {
	d, err := t.Client.DescribeWorkflowExecution(ctx, workflowID, "")
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	if !ownedBy(d.GetWorkflowExecutionInfo().GetSearchAttributes(), tenantID) {
		return false, nil
	}
	return d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// Delete deletes every run of the tenant's executions from Temporal (history and
// visibility) and waits, calling waiting between looks, until none is listed any more:
// the server deletes asynchronously. It returns the workflow IDs that had runs.
func (t Temporal) Delete(ctx context.Context, tenantID string, executions []Execution, waiting func()) ([]string, error) {
	ids := map[string]bool{}
	for _, e := range executions {
		ids[e.WorkflowID] = true
	}
	if len(ids) == 0 {
		return []string{}, nil
	}
	quoted := make([]string, 0, len(ids))
	for id := range ids {
		quoted = append(quoted, jobs.QueryLiteral(id))
	}
	sort.Strings(quoted)
	query := fmt.Sprintf("%s = %s AND WorkflowId IN (%s)", temporal.SearchAttrTenantID.GetName(), jobs.QueryLiteral(tenantID), strings.Join(quoted, ", "))
	deleted, err := t.deleteListed(ctx, query, waiting)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(deleted))
	for run := range deleted {
		wid, _, _ := strings.Cut(run, "/")
		if !slices.Contains(out, wid) {
			out = append(out, wid)
		}
	}
	sort.Strings(out)
	return out, nil
}

// deleteListed deletes every run the visibility query lists (history and visibility) and
// waits, calling waiting between looks, until the query lists none: the server deletes
// asynchronously. Then it scrubs the store when it can. It returns the runs deleted, as
// "workflowID/runID".
func (t Temporal) deleteListed(ctx context.Context, query string, waiting func()) (map[string]bool, error) {
	deleted := map[string]bool{}
	for {
		infos, err := t.list(ctx, query)
		if err != nil {
			return deleted, err
		}
		if len(infos) == 0 {
			if len(deleted) == 0 || t.Scrub == nil {
				return deleted, nil
			}
			// The server drops a run's visibility record before its mutable state and
			// history: scrub once each run is gone, not merely unlisted.
			if err := t.waitGone(ctx, deleted, waiting); err != nil {
				return deleted, err
			}
			return deleted, t.Scrub(ctx)
		}
		for _, info := range infos {
			ex := info.GetExecution()
			_, err := t.Client.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
				Namespace:         t.Namespace,
				WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: ex.GetWorkflowId(), RunId: ex.GetRunId()},
			})
			if err != nil && !isNotFound(err) {
				return deleted, fmt.Errorf("delete %s: %w", ex.GetWorkflowId(), err)
			}
			deleted[ex.GetWorkflowId()+"/"+ex.GetRunId()] = true
		}
		if waiting != nil {
			waiting()
		}
		select {
		case <-ctx.Done():
			return deleted, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitGone waits until Temporal no longer describes any of the runs ("workflowID/runID").
func (t Temporal) waitGone(ctx context.Context, runs map[string]bool, waiting func()) error {
	for run := range runs {
		wid, rid, _ := strings.Cut(run, "/")
		for {
			_, err := t.Client.DescribeWorkflowExecution(ctx, wid, rid)
			if isNotFound(err) {
				break
			}
			if err != nil {
				return fmt.Errorf("describe %s: %w", wid, err)
			}
			if waiting != nil {
				waiting()
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// ownedBy reports whether the search attributes name the tenant.
func ownedBy(sa *commonpb.SearchAttributes, tenantID string) bool {
	p, ok := sa.GetIndexedFields()[temporal.SearchAttrTenantID.GetName()]
	if !ok {
		return false
	}
	var got string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &got); err != nil {
		return false
	}
	return got == tenantID
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
