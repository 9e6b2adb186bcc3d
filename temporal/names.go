// Package temporal holds what every part of impactflow shares about Temporal: task queue
// names, search attributes, and how clients are made. The embedded server lives in
// temporal/devserver so that importing this package stays cheap.
package temporal

import (
	enumspb "go.temporal.io/api/enums/v1"
	sdktemporal "go.temporal.io/sdk/temporal"
)

// Task queues. Each job kind polls its own so that one kind's backlog cannot starve another,
// and so that a kind's rate limits are worker options on its queue.
const (
	// TaskQueueImports runs ImportWorkflow and its activities.
	TaskQueueImports = "impactflow-imports"
	// TaskQueueReports runs ReportWorkflow, ClassifyWorkflow and their activities (and the
	// budget workflows started before TaskQueueBudget).
	TaskQueueReports = "impactflow-reports"
	// TaskQueueBudget runs the per-tenant AI budget workflows: every report waits on its
	// tenant's for a reservation and a settle, so its workflow tasks must not queue behind
	// a burst of report workflow tasks.
	TaskQueueBudget = "impactflow-budget"
	// TaskQueueDeliveries runs the replay batch workflow, the partner-independent delivery
	// activities, and DeliveryWorkflow for a rate-limited partner (Goodera) and for runs
	// started before workflows.DeliveryTaskQueue; other partners' deliveries, and every
	// send, run on the partner's own queue (TaskQueuePartner).
	TaskQueueDeliveries = "impactflow-deliveries"
	// TaskQueueNotifications runs NotificationWorkflow, EventTriggerWorkflow and their activities.
	TaskQueueNotifications = "impactflow-notifications"
	// TaskQueueAnalytics runs ClickHouseSyncWorkflow and its activities.
	TaskQueueAnalytics = "impactflow-analytics"
	// TaskQueuePrivacy runs the privacy jobs: export and erasure of a participant, retention purges.
	TaskQueuePrivacy = "impactflow-privacy"
)

// PlatformTenant is the TenantId of platform-wide workflows (the scheduled sync and
// retention, a tenant's deletion), which no tenant's key can list.
const PlatformTenant = "_platform"

// Custom search attributes every workflow the platform starts sets, so operators can filter
// by them in the Temporal UI (TenantId = 'demo' AND JobKind = 'import') and the jobs API can
// list a tenant's jobs from visibility.
var (
	// SearchAttrTenantID is the tenant that owns the workflow.
	SearchAttrTenantID = sdktemporal.NewSearchAttributeKeyKeyword("TenantId")
	// SearchAttrJobKind is the job kind (import, report, delivery, ...).
	SearchAttrJobKind = sdktemporal.NewSearchAttributeKeyKeyword("JobKind")
	// SearchAttrPartner is the partner a delivery goes to (benevity, goodera, workday).
	SearchAttrPartner = sdktemporal.NewSearchAttributeKeyKeyword("Partner")
	// SearchAttrDeliveryStatus is a delivery's status (in_progress, delivered, failed),
	// upserted by DeliveryWorkflow as it goes.
	SearchAttrDeliveryStatus = sdktemporal.NewSearchAttributeKeyKeyword("DeliveryStatus")
)

// TaskQueuePartner is the queue on which sends to one partner run, so that the partner's
// rate limit is a worker option on that queue (e.g. impactflow-partner-goodera).
func TaskQueuePartner(partner string) string { return "impactflow-partner-" + partner }

// SearchAttributes is the full set registered on the namespace at start, idempotently.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SearchAttrTenantID.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrJobKind.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrPartner.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrDeliveryStatus.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}
