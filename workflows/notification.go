package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/notifications"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/notify/providers"
	"github.com/impactflow/impactflow/internal/notify/quota"
	"github.com/impactflow/impactflow/internal/notify/templates"
	"github.com/impactflow/impactflow/internal/store"
)

// Notification statuses as the notifications API shows them.
const (
	NotificationScheduled     = "scheduled"
	NotificationSending       = "sending"
	NotificationDeferred      = "deferred"
	NotificationSent          = "sent"
	NotificationPartiallySent = "partially_sent"
	NotificationFailed        = "failed"
	NotificationCanceled      = "canceled"
)

// NotificationInput starts a NotificationWorkflow. A notification started by the API has
// its ID; one started by a Temporal Schedule or an event trigger has none and takes its
// workflow ID.
type NotificationInput struct {
	TenantID       string         `json:"tenant_id"`
	NotificationID string         `json:"notification_id,omitempty"`
	Channel        string         `json:"channel"`
	Recipients     []string       `json:"recipients"`
	Template       string         `json:"template,omitempty"`
	Locale         string         `json:"locale"`
	Data           map[string]any `json:"data,omitempty"`
	Subject        string         `json:"subject,omitempty"`
	Body           string         `json:"body,omitempty"`
	// SendAt, when later than the start, is when to send: a durable timer waits for it.
	SendAt         *time.Time `json:"send_at,omitempty"`
	ScheduleID     string     `json:"schedule_id,omitempty"`
	TriggerEventID string     `json:"trigger_event_id,omitempty"`
	// Version is the command sequence the workflow follows, fixed by whoever starts it:
	// 0 (absent, as in every input written before it existed) is the original sequence,
	// NotificationVersionFolded the shorter one. It lives in the input rather than behind
	// workflow.GetVersion so that it costs no marker, no TemporalChangeVersion upsert and
	// no visibility write per notification, and a history replays the way it was written.
	Version int `json:"version,omitempty"`
}

// NotificationVersionFolded is the sequence that records, renders and takes quota in one
// local activity (Prepare) and sends each message through a local activity, so that a
// notification due now is one workflow task: the start, three workflow-task events, one
// marker per step and the completion. Version 0 (Begin, Render and TakeQuota as separate
// local activities, each send a task-queue activity and a second workflow task) still runs
// the workflows and schedules started before it.
const NotificationVersionFolded = 1

// NotificationResult is how each message ended.
type NotificationResult struct {
	NotificationID string                              `json:"notification_id"`
	Status         string                              `json:"status"`
	Sent           int                                 `json:"sent"`
	Suppressed     int                                 `json:"suppressed"`
	Failed         int                                 `json:"failed"`
	Deferrals      int                                 `json:"deferrals"`
	Messages       map[string]notifications.SendResult `json:"messages"`
}

// NotificationWorkflow waits for send_at, renders, takes quota (waiting for the next
// window when the day's quota is spent), sends each message through its provider and
// records the outcome. Cancelled before it sends, it sends nothing.
func NotificationWorkflow(ctx workflow.Context, in NotificationInput) (NotificationResult, error) {
	id := in.NotificationID
	if id == "" {
		id = workflow.GetInfo(ctx).WorkflowExecution.ID
	}
	// Bookkeeping, rendering and the quota check are short local activities (no task queue
	// round trip each); they wait out Postgres or Redis being down for as long as it takes:
	// a send is late rather than lost or sent past its quota. The send itself, a call to a
	// provider, is a regular activity.
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{notifications.ErrTypeTemplate, notifications.ErrTypeOverDailyLimit, "Conflict"},
		},
	})
	sendCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			NonRetryableErrorTypes: []string{notifications.ErrTypeProviderRejected},
		},
	})
	// Folded, a send is a local activity with the same retries: no task-queue round trip
	// and no second workflow task. Retries longer than the workflow task are timers
	// the SDK schedules; the message key and the recorded outcome keep them idempotent.
	sendLocalCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			NonRetryableErrorTypes: []string{notifications.ErrTypeProviderRejected},
		},
	})
	res := NotificationResult{NotificationID: id, Messages: map[string]notifications.SendResult{}}
	progress := jobs.Progress{Total: int64(len(in.Recipients)), Step: "begin"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) { return progress, nil }); err != nil {
		return res, err
	}

	var a *notifications.Activities
	folded := in.Version >= NotificationVersionFolded
	status := NotificationSending
	if in.SendAt != nil && in.SendAt.After(workflow.Now(ctx)) {
		status = NotificationScheduled
	}
	record := store.Notification{
		ID: id, TenantID: in.TenantID, Channel: in.Channel, Template: in.Template, Locale: in.Locale, Recipients: in.Recipients,
		Subject: in.Subject, Status: status, SendAt: in.SendAt, ScheduleID: in.ScheduleID, TriggerEventID: in.TriggerEventID,
	}
	// Folded, a send due now is recorded by Prepare below; a scheduled one is recorded now,
	// so that it shows while it waits.
	if !folded || status == NotificationScheduled {
		if err := workflow.ExecuteLocalActivity(ctx, a.Begin, record).Get(ctx, nil); err != nil {
			return res, err
		}
	}

	if status == NotificationScheduled {
		progress.Step = "waiting for send_at"
		if err := workflow.Sleep(ctx, in.SendAt.Sub(workflow.Now(ctx))); err != nil {
			return res, canceled(ctx, a, id, err)
		}
	}

	keys := make([]string, len(in.Recipients))
	for i := range in.Recipients {
		keys[i] = store.MessageKey(id, i)
	}
	renderIn := notifications.RenderInput{Template: in.Template, Locale: in.Locale, Data: in.Data, Subject: in.Subject, Body: in.Body}
	quotaIn := notifications.QuotaInput{TenantID: in.TenantID, Channel: in.Channel, MessageKeys: keys}
	var rendered templates.Rendered
	var d quota.Decision
	decided := false
	if folded {
		progress.Step = "prepare"
		p := notifications.PrepareInput{Render: renderIn, Quota: quotaIn}
		if status == NotificationSending {
			p.Record = &record
		}
		var prepared notifications.Prepared
		if err := workflow.ExecuteLocalActivity(ctx, a.Prepare, p).Get(ctx, &prepared); err != nil {
			var app *temporal.ApplicationError
			switch {
			case temporal.IsCanceledError(err):
				return res, canceled(ctx, a, id, err)
			case errors.As(err, &app) && app.Type() == "Conflict":
				// The ID is another tenant's: nothing of this notification to record.
				return res, err
			}
			return res, finish(ctx, a, &res, NotificationFailed, err)
		}
		rendered, d, decided = prepared.Rendered, prepared.Quota, true
	} else {
		progress.Step = "render"
		if err := workflow.ExecuteLocalActivity(ctx, a.Render, renderIn).Get(ctx, &rendered); err != nil {
			return res, finish(ctx, a, &res, NotificationFailed, err)
		}
	}

	recorded := status
	progress.Step = "quota"
	for {
		if !decided {
			if err := workflow.ExecuteLocalActivity(ctx, a.TakeQuota, quotaIn).Get(ctx, &d); err != nil {
				if temporal.IsCanceledError(err) {
					return res, canceled(ctx, a, id, err)
				}
				return res, finish(ctx, a, &res, NotificationFailed, err)
			}
		}
		decided = false
		if d.Allowed {
			break
		}
		// Over quota: wait for the tenant's next day instead of dropping the message.
		res.Deferrals++
		recorded = NotificationDeferred
		progress.Step = "deferred until " + d.ResetAt.UTC().Format(time.RFC3339)
		if err := workflow.ExecuteLocalActivity(ctx, a.SetStatus, notifications.StatusInput{NotificationID: id, Status: NotificationDeferred,
			Error: "daily quota reached; deferred to the next window"}).Get(ctx, nil); err != nil {
			return res, err
		}
		if err := workflow.Sleep(ctx, d.ResetAt.Sub(workflow.Now(ctx))+time.Second); err != nil {
			return res, canceled(ctx, a, id, err)
		}
	}

	progress.Step = "send"
	if recorded != NotificationSending {
		if err := workflow.ExecuteLocalActivity(ctx, a.SetStatus, notifications.StatusInput{NotificationID: id, Status: NotificationSending}).Get(ctx, nil); err != nil {
			return res, err
		}
	}
	futures := make([]workflow.Future, len(in.Recipients))
	for i, to := range in.Recipients {
		send := notifications.SendInput{Message: providers.Message{
			Key: keys[i], TenantID: in.TenantID, NotificationID: id, Channel: in.Channel, To: to,
			Subject: rendered.Subject, HTML: rendered.HTML, Text: rendered.Text,
		}}
		if folded {
			futures[i] = workflow.ExecuteLocalActivity(sendLocalCtx, a.Send, send)
		} else {
			futures[i] = workflow.ExecuteActivity(sendCtx, a.Send, send)
		}
	}
	var lastErr error
	for i, f := range futures {
		var sr notifications.SendResult
		if err := f.Get(ctx, &sr); err != nil {
			sr = notifications.SendResult{Status: notifications.StatusFailed, Error: errorMessage(err)}
			lastErr = err
		}
		res.Messages[keys[i]] = sr
		switch sr.Status {
		case notifications.StatusSent:
			res.Sent++
		case notifications.StatusSuppressed:
			res.Suppressed++
		default:
			res.Failed++
		}
		progress.Done++
	}
	progress.Step = "done"
	switch {
	case res.Failed == 0:
		return res, finish(ctx, a, &res, NotificationSent, nil)
	case res.Sent > 0:
		return res, finish(ctx, a, &res, NotificationPartiallySent, nil)
	default:
		return res, finish(ctx, a, &res, NotificationFailed, lastErr)
	}
}

// finish records the final status; a failure is returned as the workflow's error.
func finish(ctx workflow.Context, a *notifications.Activities, res *NotificationResult, status string, cause error) error {
	res.Status = status
	in := notifications.StatusInput{NotificationID: res.NotificationID, Status: status}
	if cause != nil {
		in.Error = errorMessage(cause)
	}
	if err := workflow.ExecuteLocalActivity(ctx, a.SetStatus, in).Get(ctx, nil); err != nil {
		return err
	}
	return cause
}

// canceled records a cancelled notification on a context the cancellation does not reach,
// then returns the cancellation.
func canceled(ctx workflow.Context, a *notifications.Activities, id string, cause error) error {
	if !temporal.IsCanceledError(cause) {
		return cause
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.ExecuteLocalActivity(dctx, a.SetStatus, notifications.StatusInput{NotificationID: id, Status: NotificationCanceled}).Get(dctx, nil)
	return cause
}

func errorMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}
