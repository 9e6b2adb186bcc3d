package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
)

// maxHistoryEvents bounds how much of a history the audit view reads.
const maxHistoryEvents = 20000

// localActivityMarker is the name of the marker the Go SDK records a local activity's
// outcome in.
const localActivityMarker = "LocalActivity"

// History is a job's audit trail, read from its workflow's event history.
type History struct {
	JobID    string         `json:"job_id"`
	RunID    string         `json:"run_id"`
	Status   Status         `json:"status"`
	Entries  []HistoryEntry `json:"entries"`
	Pending  []Pending      `json:"pending_activities"`
	Complete bool           `json:"complete"`
}

// HistoryEntry is one thing that happened to a job, in order.
type HistoryEntry struct {
	EventID  int64          `json:"event_id"`
	Time     time.Time      `json:"time"`
	Kind     string         `json:"kind"` // started, activity, timer, signal, reset, workflow_task_failed, cancel_requested, completed, failed, canceled, terminated, timed_out, continued_as_new, child_workflow
	Name     string         `json:"name,omitempty"`
	Status   string         `json:"status,omitempty"`
	Attempt  int32          `json:"attempt,omitempty"`
	Duration string         `json:"duration,omitempty"`
	Failure  *Error         `json:"failure,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
}

// Pending is an activity still running or waiting to retry, with its last failure.
type Pending struct {
	Name          string     `json:"name"`
	ActivityID    string     `json:"activity_id"`
	State         string     `json:"state"`
	Attempt       int32      `json:"attempt"`
	LastFailure   *Error     `json:"last_failure,omitempty"`
	LastHeartbeat *time.Time `json:"last_heartbeat,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
}

// History reads the job's event history into an audit view: each activity with its
// attempts and failures, timers, signals, resets and the outcome.
func (s *Service) History(ctx context.Context, tenantID, id string) (History, error) {
	job, err := s.fresh(ctx, tenantID, id)
	if err != nil {
		return History{}, err
	}
	h := History{JobID: id, RunID: job.RunID, Status: job.Status, Entries: []HistoryEntry{}, Pending: []Pending{}, Complete: true}

	activities := map[int64]int{} // scheduled event ID → entry index
	timers := map[int64]int{}
	iter := s.client.GetWorkflowHistory(ctx, id, job.RunID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for n := 0; iter.HasNext(); n++ {
		if n >= maxHistoryEvents {
			h.Complete = false
			break
		}
		ev, err := iter.Next()
		if err != nil {
			return History{}, fmt.Errorf("read history: %w", err)
		}
		s.addEvent(&h, ev, activities, timers)
	}

	if !job.Status.Closed() {
		desc, err := s.client.DescribeWorkflowExecution(ctx, id, job.RunID)
		if err != nil {
			return History{}, fmt.Errorf("describe job: %w", err)
		}
		for _, pa := range desc.GetPendingActivities() {
			p := Pending{
				Name:       pa.GetActivityType().GetName(),
				ActivityID: pa.GetActivityId(),
				State:      pa.GetState().String(),
				Attempt:    pa.GetAttempt(),
			}
			if f := pa.GetLastFailure(); f != nil {
				p.LastFailure = &Error{Type: failureType(f), Message: failureMessage(f)}
			}
			if t := pa.GetLastHeartbeatTime(); t != nil {
				v := t.AsTime().UTC()
				p.LastHeartbeat = &v
			}
			if t := pa.GetScheduledTime(); t != nil && pa.GetAttempt() > 1 {
				v := t.AsTime().UTC()
				p.NextAttemptAt = &v
			}
			h.Pending = append(h.Pending, p)
		}
	}
	return h, nil
}

func (s *Service) addEvent(h *History, ev *historypb.HistoryEvent, activities, timers map[int64]int) {
	at := ev.GetEventTime().AsTime().UTC()
	add := func(e HistoryEntry) int {
		e.EventID, e.Time = ev.GetEventId(), at
		h.Entries = append(h.Entries, e)
		return len(h.Entries) - 1
	}
	finishActivity := func(scheduledID int64, status string, f *failurepb.Failure) {
		i, ok := activities[scheduledID]
		if !ok {
			return
		}
		e := &h.Entries[i]
		e.Status = status
		e.Duration = at.Sub(e.Time).Round(time.Millisecond).String()
		if f != nil {
			e.Failure = &Error{Type: failureType(f), Message: failureMessage(f)}
		}
		e.Details["finished_at"] = at
	}
	switch ev.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
		a := ev.GetWorkflowExecutionStartedEventAttributes()
		d := map[string]any{"workflow_type": a.GetWorkflowType().GetName(), "task_queue": a.GetTaskQueue().GetName()}
		if a.GetOriginalExecutionRunId() != "" && a.GetOriginalExecutionRunId() != h.RunID {
			d["original_run_id"] = a.GetOriginalExecutionRunId()
		}
		if a.GetContinuedExecutionRunId() != "" {
			d["continued_from_run_id"] = a.GetContinuedExecutionRunId()
		}
		add(HistoryEntry{Kind: "started", Details: d})
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		a := ev.GetActivityTaskScheduledEventAttributes()
		activities[ev.GetEventId()] = add(HistoryEntry{Kind: "activity", Name: a.GetActivityType().GetName(), Status: "scheduled",
			Details: map[string]any{"activity_id": a.GetActivityId()}})
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
		a := ev.GetActivityTaskStartedEventAttributes()
		if i, ok := activities[a.GetScheduledEventId()]; ok {
			e := &h.Entries[i]
			e.Status, e.Attempt = "started", a.GetAttempt()
			e.Details["started_at"] = at
			// Earlier attempts are not events of their own; the server keeps the last
			// failure before this attempt.
			if f := a.GetLastFailure(); f != nil {
				e.Details["previous_attempt_failure"] = Error{Type: failureType(f), Message: failureMessage(f)}
			}
		}
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		finishActivity(ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId(), "completed", nil)
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		a := ev.GetActivityTaskFailedEventAttributes()
		finishActivity(a.GetScheduledEventId(), "failed", a.GetFailure())
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
		a := ev.GetActivityTaskTimedOutEventAttributes()
		finishActivity(a.GetScheduledEventId(), "timed_out", a.GetFailure())
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
		finishActivity(ev.GetActivityTaskCanceledEventAttributes().GetScheduledEventId(), "canceled", nil)
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		a := ev.GetMarkerRecordedEventAttributes()
		if a.GetMarkerName() != localActivityMarker {
			return
		}
		// The SDK records a local activity as one marker once it has finished (its retries
		// included), with the activity's ID, type and last attempt in its "data" detail.
		var md struct {
			ActivityID   string
			ActivityType string
			Attempt      int32
		}
		if err := s.dc.FromPayloads(a.GetDetails()["data"], &md); err != nil {
			md.ActivityType = "(unreadable local activity marker)"
		}
		e := HistoryEntry{Kind: "activity", Name: md.ActivityType, Status: "completed", Attempt: md.Attempt,
			Details: map[string]any{"activity_id": md.ActivityID, "local": true, "finished_at": at}}
		if f := a.GetFailure(); f != nil {
			e.Status, e.Failure = "failed", &Error{Type: failureType(f), Message: failureMessage(f)}
		}
		add(e)
	case enumspb.EVENT_TYPE_TIMER_STARTED:
		a := ev.GetTimerStartedEventAttributes()
		timers[ev.GetEventId()] = add(HistoryEntry{Kind: "timer", Name: a.GetTimerId(), Status: "started",
			Details: map[string]any{"duration": a.GetStartToFireTimeout().AsDuration().String()}})
	case enumspb.EVENT_TYPE_TIMER_FIRED:
		if i, ok := timers[ev.GetTimerFiredEventAttributes().GetStartedEventId()]; ok {
			h.Entries[i].Status = "fired"
			h.Entries[i].Details["fired_at"] = at
		}
	case enumspb.EVENT_TYPE_TIMER_CANCELED:
		if i, ok := timers[ev.GetTimerCanceledEventAttributes().GetStartedEventId()]; ok {
			h.Entries[i].Status = "canceled"
		}
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		add(HistoryEntry{Kind: "signal", Name: ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName()})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
		add(HistoryEntry{Kind: "update", Name: ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName()})
	case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
		a := ev.GetWorkflowTaskFailedEventAttributes()
		if a.GetCause() == enumspb.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW {
			add(HistoryEntry{Kind: "reset", Details: map[string]any{
				"reason": failureMessage(a.GetFailure()), "base_run_id": a.GetBaseRunId(), "new_run_id": a.GetNewRunId()}})
			return
		}
		add(HistoryEntry{Kind: "workflow_task_failed", Status: a.GetCause().String(),
			Failure: &Error{Type: failureType(a.GetFailure()), Message: failureMessage(a.GetFailure())}})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
		add(HistoryEntry{Kind: "cancel_requested", Details: map[string]any{"cause": ev.GetWorkflowExecutionCancelRequestedEventAttributes().GetCause()}})
	case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
		a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes()
		add(HistoryEntry{Kind: "child_workflow", Name: a.GetWorkflowType().GetName(), Details: map[string]any{"workflow_id": a.GetWorkflowId()}})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
		add(HistoryEntry{Kind: "completed"})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
		f := ev.GetWorkflowExecutionFailedEventAttributes().GetFailure()
		add(HistoryEntry{Kind: "failed", Failure: &Error{Type: failureType(f), Message: failureMessage(f)}})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
		add(HistoryEntry{Kind: "canceled"})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
		add(HistoryEntry{Kind: "terminated", Details: map[string]any{"reason": ev.GetWorkflowExecutionTerminatedEventAttributes().GetReason()}})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
		add(HistoryEntry{Kind: "timed_out"})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		add(HistoryEntry{Kind: "continued_as_new", Details: map[string]any{"new_run_id": ev.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()}})
	}
}

// failureMessage flattens a failure and its causes into one line.
func failureMessage(f *failurepb.Failure) string {
	msg := f.GetMessage()
	for c := f.GetCause(); c != nil; c = c.GetCause() {
		if c.GetMessage() != "" {
			msg += ": " + c.GetMessage()
		}
	}
	return msg
}

func failureType(f *failurepb.Failure) string {
	for ; f != nil; f = f.GetCause() {
		if t := f.GetApplicationFailureInfo().GetType(); t != "" {
			return t
		}
		if f.GetTimeoutFailureInfo() != nil {
			return "Timeout"
		}
		if f.GetCanceledFailureInfo() != nil {
			return "Canceled"
		}
	}
	return ""
}

// ResetTarget picks where a reset goes back to.
type ResetTarget string

// The reset targets.
const (
	ResetFirstWorkflowTask ResetTarget = "first_workflow_task"
	ResetLastWorkflowTask  ResetTarget = "last_workflow_task"
	ResetEvent             ResetTarget = "event"
)

// ResetRequest is an operator's reset: where to, and why (kept in the history).
type ResetRequest struct {
	To      ResetTarget
	EventID int64
	Reason  string
	By      string // who asked, recorded with the reason
}

// ErrBadResetPoint means the requested event is not a completed workflow task of the run.
var ErrBadResetPoint = errors.New("event_id must be the ID of a WorkflowTaskCompleted event of the current run")

// Reset resets the job's workflow to the chosen workflow task: the new run keeps the same
// job ID, replays the history up to that point and runs the rest again, and the two runs
// stay linked in the history and the Temporal UI.
func (s *Service) Reset(ctx context.Context, tenantID, id string, req ResetRequest) (Job, error) {
	job, err := s.fresh(ctx, tenantID, id)
	if err != nil {
		return Job{}, err
	}
	point, err := s.resetPoint(ctx, id, job.RunID, req)
	if err != nil {
		return Job{}, err
	}
	reason := req.Reason
	if req.By != "" {
		reason = fmt.Sprintf("%s (by %s)", req.Reason, req.By)
	}
	resp, err := s.client.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 s.namespace,
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: job.RunID},
		Reason:                    reason,
		WorkflowTaskFinishEventId: point,
		RequestId:                 uuid.NewString(),
	})
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) {
		return Job{}, fmt.Errorf("%w: %s", ErrConflict, invalid.Message)
	}
	if err != nil {
		return Job{}, fmt.Errorf("reset job: %w", err)
	}
	s.forget(id)
	job, err = s.fresh(ctx, tenantID, id)
	if err == nil && job.RunID != resp.GetRunId() {
		// Visibility of the new run can trail the reset by a moment; the run ID is what matters.
		job.RunID = resp.GetRunId()
	}
	return job, err
}

func (s *Service) resetPoint(ctx context.Context, id, runID string, req ResetRequest) (int64, error) {
	var first, last int64
	iter := s.client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return 0, fmt.Errorf("read history: %w", err)
		}
		if ev.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			continue
		}
		if first == 0 {
			first = ev.GetEventId()
		}
		last = ev.GetEventId()
		if req.To == ResetEvent && ev.GetEventId() == req.EventID {
			return req.EventID, nil
		}
	}
	switch req.To {
	case ResetFirstWorkflowTask:
		if first != 0 {
			return first, nil
		}
	case ResetLastWorkflowTask:
		if last != 0 {
			return last, nil
		}
	case ResetEvent:
		return 0, ErrBadResetPoint
	}
	return 0, fmt.Errorf("%w: the job has no completed workflow task to reset to yet", ErrConflict)
}
