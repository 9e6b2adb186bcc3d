package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/deliveries"
	"github.com/impactflow/impactflow/internal/connectors"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
	itemporal "github.com/impactflow/impactflow/temporal"
)

// DeliveryInput starts a DeliveryWorkflow for a delivery row created by the API. No
// credentials and no payload travel here: the activities load them from Postgres.
type DeliveryInput struct {
	DeliveryID string            `json:"delivery_id"`
	TenantID   string            `json:"tenant_id"`
	Partner    string            `json:"partner"`
	Period     deliveries.Period `json:"period"`
	// AttemptTimeout bounds one send attempt (the HTTP exchange plus loading); 0 means 1 minute.
	AttemptTimeout time.Duration `json:"attempt_timeout"`
	// Budget is how long to keep retrying; 0 means the partner's default (deliveryBudget).
	Budget time.Duration `json:"budget"`
	// RetryMaxInterval caps the backoff between send attempts; 0 means 10 minutes.
	RetryMaxInterval time.Duration `json:"retry_max_interval,omitempty"`
	// StatusAtStart says the starter set Partner and DeliveryStatus=in_progress with the
	// start, so the workflow does not upsert them first. Like NotificationInput.Version it
	// lives in the input rather than behind workflow.GetVersion, which would cost a marker
	// and a TemporalChangeVersion upsert: one visibility write more to save one.
	StatusAtStart bool `json:"status_at_start,omitempty"`
}

// DeliveryStartAttributes are the search attributes a delivery starts with when its input
// has StatusAtStart.
func DeliveryStartAttributes(partner string) []temporal.SearchAttributeUpdate {
	return []temporal.SearchAttributeUpdate{
		itemporal.SearchAttrPartner.ValueSet(partner), itemporal.SearchAttrDeliveryStatus.ValueSet(store.DeliveryInProgress),
	}
}

// DeliveryResult is the partner's receipt.
type DeliveryResult struct {
	DeliveryID  string `json:"delivery_id"`
	Partner     string `json:"partner"`
	Status      string `json:"status"`
	ReceiptID   string `json:"receipt_id"`
	Duplicate   bool   `json:"duplicate"`
	Attempts    int32  `json:"attempts"`
	PayloadHash string `json:"payload_hash"`
}

// PartnerRateLimited reports whether the partner's sends are rate limited by their task
// queue (Goodera's 100 a minute, TaskQueueActivitiesPerSecond on its workers).
func PartnerRateLimited(partner string) bool { return partner == string(connectors.Goodera) }

// DeliveryTaskQueue is the queue a new delivery's workflow runs on. For most partners it is
// the partner's own queue, the one its sends run on: the worker then gets the send with
// the workflow task that schedules it (eager activity execution), skipping a trip through
// matching, which on the embedded engine is a good part of a delivery's cost. A partner
// whose queue is rate limited keeps its workflows on TaskQueueDeliveries, because the
// server does not rate-limit sends dispatched eagerly.
func DeliveryTaskQueue(partner string) string {
	if PartnerRateLimited(partner) {
		return itemporal.TaskQueueDeliveries
	}
	return itemporal.TaskQueuePartner(partner)
}

// deliveryBudget is how long a partner's send is retried before the delivery fails:
// partners' outages can last a day; Goodera's rate limit also queues sends.
func deliveryBudget(partner string) time.Duration {
	if partner == string(connectors.Goodera) {
		return 48 * time.Hour
	}
	return 24 * time.Hour
}

// DeliveryWorkflow pushes a tenant's impact data for a period to a partner: build the
// payload, send it on the partner's own task queue (retried by the RetryPolicy with
// exponential backoff within the partner's budget, the partner's rate limit enforced by
// that queue's workers), then record the outcome on the delivery row. A failed delivery is
// replayed by resetting this workflow; the delivery ID, the partner's idempotency key,
// does not change, so the partner records it once.
func DeliveryWorkflow(ctx workflow.Context, in DeliveryInput) (DeliveryResult, error) {
	// Building the payload and recording the outcome are short Postgres calls: local
	// activities, run by the workflow's own worker without a round trip through a task
	// queue (each is still a marker in the history, and still retried).
	local := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{deliveries.ErrTypeNoCredentials, deliveries.ErrTypeBadDelivery},
		},
	})
	attempt := in.AttemptTimeout
	if attempt <= 0 {
		attempt = time.Minute
	}
	budget := in.Budget
	if budget <= 0 {
		budget = deliveryBudget(in.Partner)
	}
	maxInterval := in.RetryMaxInterval
	if maxInterval <= 0 {
		maxInterval = 10 * time.Minute
	}
	send := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              itemporal.TaskQueuePartner(in.Partner),
		StartToCloseTimeout:    attempt + 10*time.Second,
		ScheduleToCloseTimeout: budget,
		// Only a send taken from its queue waits for the queue's rate limit.
		DisableEagerExecution: PartnerRateLimited(in.Partner),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: maxInterval,
			NonRetryableErrorTypes: []string{deliveries.ErrTypeRejected, deliveries.ErrTypeUnauthorized,
				deliveries.ErrTypeNoCredentials, deliveries.ErrTypeBadDelivery},
		},
	})

	progress := jobs.Progress{Total: 3, Step: "build"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) { return progress, nil }); err != nil {
		return DeliveryResult{}, err
	}
	setStatus := func(status string) error {
		return workflow.UpsertTypedSearchAttributes(ctx,
			itemporal.SearchAttrPartner.ValueSet(in.Partner), itemporal.SearchAttrDeliveryStatus.ValueSet(status))
	}
	if !in.StatusAtStart {
		if err := setStatus(store.DeliveryInProgress); err != nil {
			return DeliveryResult{}, err
		}
	}

	var a *deliveries.Activities
	result := DeliveryResult{DeliveryID: in.DeliveryID, Partner: in.Partner}
	var built deliveries.BuildResult
	err := workflow.ExecuteLocalActivity(local, a.BuildPayload, deliveries.BuildInput{
		DeliveryID: in.DeliveryID, TenantID: in.TenantID, Partner: in.Partner, Period: in.Period,
	}).Get(ctx, &built)
	if err == nil {
		result.PayloadHash = built.PayloadHash
		progress.Done, progress.Step = 1, "send"
		var sent deliveries.SendResult
		err = workflow.ExecuteActivity(send, a.Send, deliveries.SendInput{
			DeliveryID: in.DeliveryID, TenantID: in.TenantID, Partner: in.Partner,
		}).Get(ctx, &sent)
		result.ReceiptID, result.Duplicate, result.Attempts = sent.ReceiptID, sent.Duplicate, sent.Attempt
	}
	progress.Done, progress.Step = 2, "record"

	outcome := deliveries.OutcomeInput{DeliveryID: in.DeliveryID, Status: store.DeliveryDelivered, ReceiptID: result.ReceiptID}
	if err != nil {
		outcome.Status, outcome.ReceiptID = store.DeliveryFailed, ""
		outcome.Error, outcome.LastHTTPStatus = failureOf(err)
	}
	// The outcome is recorded even when the workflow was asked to stop.
	recordCtx, _ := workflow.NewDisconnectedContext(local)
	if rerr := workflow.ExecuteLocalActivity(recordCtx, a.RecordOutcome, outcome).Get(recordCtx, nil); rerr != nil {
		return result, rerr
	}
	result.Status = outcome.Status
	if serr := setStatus(outcome.Status); serr != nil {
		return result, serr
	}
	progress.Done, progress.Step = 3, outcome.Status
	if temporal.IsCanceledError(err) {
		return result, err // an operator canceled the job: it ends canceled, its row failed
	}
	if err != nil {
		var typ string
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			typ = app.Type()
		}
		return result, temporal.NewNonRetryableApplicationError(outcome.Error, typ, nil)
	}
	return result, nil
}

// failureOf is the message and HTTP status of the last failed attempt.
func failureOf(err error) (string, int) {
	var app *temporal.ApplicationError
	var f deliveries.AttemptFailure
	if errors.As(err, &app) && app.HasDetails() {
		_ = app.Details(&f)
	}
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &timeout) || (app != nil && !app.NonRetryable()):
		// A retryable failure that ended the activity: the retry budget ran out.
		msg := "gave up: the retry budget ran out"
		if app != nil {
			msg += "; last attempt: " + app.Message()
		}
		return msg, f.HTTPStatus
	case app != nil:
		return app.Message(), f.HTTPStatus
	}
	return err.Error(), 0
}
