// Package events carries platform events (a report was generated, an SLO was breached, a
// user registered...) from the part of the platform that produces them to the notification
// triggers that turn them into messages. An event is delivered by starting one
// EventTriggerWorkflow for it, so its handling is durable, retried and visible in the
// Temporal UI like every other piece of work; there is no second queue.
package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/temporal/codec"
)

// The event types the platform produces and the notification rules can subscribe to.
const (
	TypeReportGenerated        = "reporting.generated"
	TypeSLOBreached            = "slo.breached"
	TypePrivacyExportCompleted = "privacy.export.completed"
	TypeUserRegistered         = "user.registered"
	TypeAIBudgetAlert          = "ai.budget.alert"
)

// Types lists every event type POST /v1/events accepts.
var Types = []string{TypeReportGenerated, TypeSLOBreached, TypePrivacyExportCompleted, TypeUserRegistered, TypeAIBudgetAlert}

// TriggerWorkflow is the workflow type that handles one event (the notifications worker
// registers it on TaskQueueNotifications). Producers start it by name so that they do not
// depend on the notifications package.
const TriggerWorkflow = "EventTriggerWorkflow"

// jobKind is the JobKind search attribute of trigger workflows; it is not a job kind of the
// jobs API, but it lets operators filter them in the UI (JobKind = 'event').
const jobKind = "event"

// Event is one thing that happened to a tenant. Data carries IDs and figures, never secrets
// or personal data: it is stored in the trigger workflow's history.
type Event struct {
	// ID is stable for the same occurrence: producers derive it with IDFor so that emitting
	// twice (an activity retried, a workflow reset) is one event.
	ID         string         `json:"id"`
	TenantID   string         `json:"tenant_id"`
	Type       string         `json:"type"`
	OccurredAt time.Time      `json:"occurred_at"`
	Data       map[string]any `json:"data,omitempty"`
}

var idNamespace = uuid.MustParse("2b8f8f4e-51d2-4c7e-8a0c-6f0f6f3c9e11")

// IDFor returns the stable event ID of the occurrence that key names within its tenant and
// type, e.g. IDFor("acme", TypeReportGenerated, reportID).
func IDFor(tenantID, eventType, key string) string {
	return uuid.NewSHA1(idNamespace, []byte(tenantID+"\x00"+eventType+"\x00"+key)).String()
}

// WorkflowID is the ID of the trigger workflow that handles ev.
func WorkflowID(ev Event) string { return "event-" + ev.ID }

// Emitter delivers events by starting their trigger workflows.
type Emitter struct {
	Client client.Client
}

// Emit starts the trigger workflow for ev. Emitting an event that was already emitted does
// nothing and returns nil: the workflow ID is the event's and duplicates are rejected.
func (e Emitter) Emit(ctx context.Context, ev Event) error {
	if ev.ID == "" || ev.TenantID == "" || ev.Type == "" {
		return errors.New("emit event: id, tenant and type are required")
	}
	ctx = codec.WithTenant(ctx, ev.TenantID) // the event is encrypted with its tenant's key
	_, err := e.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       WorkflowID(ev),
		TaskQueue:                temporal.TaskQueueNotifications,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: sdktemporal.NewSearchAttributes(
			temporal.SearchAttrTenantID.ValueSet(ev.TenantID),
			temporal.SearchAttrJobKind.ValueSet(jobKind),
		),
	}, TriggerWorkflow, ev)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("emit %s event: %w", ev.Type, err)
	}
	return nil
}
