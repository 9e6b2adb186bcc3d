package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// ScheduleResult says what happened to the recurring notifications addressed to the person.
type ScheduleResult struct {
	// Recreated still run, for their other recipients, without the person.
	Recreated []string `json:"recreated"`
	// Deleted had no other recipient.
	Deleted []string `json:"deleted"`
}

// schedulerPrefix is the workflow ID prefix of the server's scheduler workflow of a
// schedule, whose history holds the schedule's action (the notification's input).
const schedulerPrefix = "temporal-sys-scheduler:"

// EraseFromSchedules takes the participant's email and phone out of the tenant's recurring
// notifications. A Temporal Schedule holds the notification's input (recipients, template
// data) in its action and in its scheduler workflow's history, so an update in place would
// leave the old input readable there: each schedule naming them is deleted with that
// history, then created again under the same ID, spec and state without them when other
// recipients remain (else marked deleted in Postgres). It must run before ErasePostgres,
// which removes the participant's record, and with it what to look for.
func (p Postgres) EraseFromSchedules(ctx context.Context, t Temporal, tenantID, participantID string) (ScheduleResult, error) {
	res := ScheduleResult{Recreated: []string{}, Deleted: []string{}}
	s, _, err := p.LoadSubject(ctx, tenantID, participantID)
	if err != nil {
		return res, err
	}
	addrs := s.addresses()
	if len(addrs) == 0 {
		return res, nil
	}
	rows, err := p.Pool.Query(ctx, `SELECT id FROM notification_schedules
		WHERE tenant_id = $1 AND deleted_at IS NULL AND EXISTS (
			SELECT 1 FROM jsonb_array_elements_text(coalesce(request -> 'to', '[]')) AS r(a) WHERE r.a = ANY($2::text[]))`,
		tenantID, addrs)
	if err != nil {
		return res, fmt.Errorf("find schedules: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return res, fmt.Errorf("find schedules: %w", err)
	}
	sc := newScrubber(s, nil)
	for _, id := range ids {
		recreated, err := t.recreateWithout(ctx, tenantID, id, addrs, sc)
		if err != nil {
			return res, err
		}
		if recreated {
			res.Recreated = append(res.Recreated, id)
			continue
		}
		if _, err := p.Pool.Exec(ctx, `UPDATE notification_schedules SET deleted_at = now() WHERE id = $1 AND tenant_id = $2`, id, tenantID); err != nil {
			return res, fmt.Errorf("mark schedule %s deleted: %w", id, err)
		}
		res.Deleted = append(res.Deleted, id)
	}
	return res, nil
}

// recreateWithout deletes the schedule and its scheduler's history, and creates it again
// without the addresses when it has other recipients. A schedule already gone (a retried
// attempt that deleted it before failing) is created again from nothing: false.
func (t Temporal) recreateWithout(ctx context.Context, tenantID, id string, addrs []string, sc scrubber) (bool, error) {
	h := t.Client.ScheduleClient().GetHandle(ctx, id)
	d, err := h.Describe(ctx)
	if isNotFound(err) {
		return false, t.deleteScheduler(ctx, tenantID, id)
	}
	if err != nil {
		return false, fmt.Errorf("describe schedule %s: %w", id, err)
	}
	// An input that cannot be read (not a workflow action, or encoded with a key this
	// process does not hold) cannot be stripped of them: the schedule is deleted then.
	var scrubbed map[string]any
	kept := []any{}
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if ok && len(action.Args) > 0 {
		if payload, ok := action.Args[0].(*commonpb.Payload); ok {
			var input map[string]any
			if err := t.dc().FromPayload(payload, &input); err == nil {
				recipients, _ := input["recipients"].([]any)
				for _, r := range recipients {
					if a, _ := r.(string); !slices.Contains(addrs, a) {
						kept = append(kept, r)
					}
				}
				input["recipients"] = kept
				// What else names them (template data, a subject) loses their strings.
				b, _ := json.Marshal(input)
				if err := json.Unmarshal([]byte(sc.text(string(b))), &scrubbed); err != nil {
					scrubbed = nil
				}
			}
		}
	}
	if scrubbed == nil {
		kept = nil
	}

	if err := h.Delete(ctx); err != nil && !isNotFound(err) {
		return false, fmt.Errorf("delete schedule %s: %w", id, err)
	}
	if err := t.deleteScheduler(ctx, tenantID, id); err != nil {
		return false, err
	}
	if len(kept) == 0 {
		return false, nil
	}
	action.Args = []any{scrubbed}
	opts := client.ScheduleOptions{ID: id, Spec: *d.Schedule.Spec, Action: action, TypedSearchAttributes: d.TypedSearchAttributes}
	if p := d.Schedule.Policy; p != nil {
		opts.Overlap, opts.CatchupWindow, opts.PauseOnFailure = p.Overlap, p.CatchupWindow, p.PauseOnFailure
	}
	if st := d.Schedule.State; st != nil {
		opts.Note, opts.Paused, opts.RemainingActions = st.Note, st.Paused, st.RemainingActions
	}
	if _, err := t.Client.ScheduleClient().Create(ctx, opts); err != nil {
		return false, fmt.Errorf("create schedule %s again: %w", id, err)
	}
	return true, nil
}

// deleteScheduler deletes every run of the schedule's scheduler workflow and waits until
// none is left, so that the schedule's ID can be created again.
func (t Temporal) deleteScheduler(ctx context.Context, tenantID, id string) error {
	wid := schedulerPrefix + id
	for {
		_, err := t.Client.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
			Namespace: t.Namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: wid}})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete scheduler of %s: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
