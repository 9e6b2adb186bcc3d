package workflows

import (
	"errors"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/notifications"
	"github.com/impactflow/impactflow/internal/events"
	"github.com/impactflow/impactflow/internal/jobs"
	tq "github.com/impactflow/impactflow/temporal"
)

// triggerNamespace seeds the IDs of notifications an event starts: one per event and rule,
// the same on every replay and retry.
var triggerNamespace = uuid.MustParse("9a4f1d0e-6b3c-4e8a-a1f2-5c7d9e0b3a61")

// EventTriggerResult lists the notifications the event started.
type EventTriggerResult struct {
	EventID       string   `json:"event_id"`
	Notifications []string `json:"notifications"`
}

// EventTriggerWorkflow handles one event (events.TriggerWorkflow): it looks up the tenant's
// rules for the event type and starts one NotificationWorkflow per matching rule.
func EventTriggerWorkflow(ctx workflow.Context, ev events.Event) (EventTriggerResult, error) {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	res := EventTriggerResult{EventID: ev.ID, Notifications: []string{}}
	var a *notifications.Activities
	var triggers []notifications.Trigger
	if err := workflow.ExecuteLocalActivity(ctx, a.MatchRules, ev).Get(ctx, &triggers); err != nil {
		return res, err
	}
	started := make([]workflow.ChildWorkflowFuture, len(triggers))
	ids := make([]string, len(triggers))
	for i, t := range triggers {
		ids[i] = string(jobs.KindNotification) + "-" + uuid.NewSHA1(triggerNamespace, []byte(ev.ID+"\x00"+t.RuleID)).String()
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: ids[i],
			TaskQueue:  tq.TaskQueueNotifications,
			// The notification lives on its own: this workflow ends once it has started it.
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				tq.SearchAttrTenantID.ValueSet(ev.TenantID),
				tq.SearchAttrJobKind.ValueSet(string(jobs.KindNotification)),
			),
		})
		started[i] = workflow.ExecuteChildWorkflow(cctx, NotificationWorkflow, NotificationInput{
			TenantID: ev.TenantID, NotificationID: ids[i], Channel: t.Channel, Recipients: t.Recipients,
			Template: t.Template, Locale: t.Locale, Data: t.Data, TriggerEventID: ev.ID, Version: NotificationVersionFolded,
		})
	}
	for i, f := range started {
		err := f.GetChildWorkflowExecution().Get(ctx, nil)
		var already *temporal.ChildWorkflowExecutionAlreadyStartedError
		if err != nil && !errors.As(err, &already) {
			return res, err
		}
		res.Notifications = append(res.Notifications, ids[i])
	}
	return res, nil
}
