// Package jobs defines the job model shared by the API and the workflows: kinds, stable
// IDs, statuses and progress. A job is a Temporal workflow; its ID is the workflow ID.
package jobs

import (
	"strings"

	"github.com/google/uuid"
)

// Kind is the kind of work a job does; it prefixes the job ID and is the JobKind search attribute.
type Kind string

// The job kinds.
const (
	KindImport         Kind = "import"
	KindReport         Kind = "report"
	KindDelivery       Kind = "delivery"
	KindNotification   Kind = "notification"
	KindClickHouseSync Kind = "clickhouse_sync"
	// KindDeliveryReplay is a bulk replay or retry-all-failed of deliveries.
	KindDeliveryReplay Kind = "delivery_replay"
	// KindClassification labels a tenant's unclassified evidence with outcome dimensions.
	KindClassification Kind = "classification"
	// KindPrivacyExport exports one participant's records (GDPR Art. 15/20).
	KindPrivacyExport Kind = "privacy_export"
	// KindPrivacyErase erases one participant from every store (GDPR Art. 17).
	KindPrivacyErase Kind = "privacy_erase"
	// KindRetention deletes what a tenant keeps past its retention periods.
	KindRetention Kind = "retention"
	// KindTenantDeletion deletes a tenant from every store and destroys its data keys.
	KindTenantDeletion Kind = "tenant_deletion"
)

// Kinds lists every kind the jobs API accepts as a filter.
var Kinds = []Kind{KindImport, KindReport, KindDelivery, KindNotification, KindClickHouseSync, KindDeliveryReplay, KindClassification,
	KindPrivacyExport, KindPrivacyErase, KindRetention, KindTenantDeletion}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, known := range Kinds {
		if k == known {
			return true
		}
	}
	return false
}

// Status is a job's state as the API shows it.
type Status string

// The job statuses.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCanceled  Status = "canceled"
	StatusTimedOut  Status = "timed_out"
)

// Statuses lists every status the jobs API accepts as a filter.
var Statuses = []Status{StatusQueued, StatusRunning, StatusCompleted, StatusFailed, StatusCanceled, StatusTimedOut}

// Closed reports whether a job in status s has finished for good.
func (s Status) Closed() bool {
	return s != StatusQueued && s != StatusRunning
}

// idempotencyNamespace seeds the name-based UUIDs of jobs started with an Idempotency-Key.
var idempotencyNamespace = uuid.MustParse("6f1c3a52-9a0e-4c47-9d55-3f0e0f1b7a10")

// NewID returns a fresh job ID such as import-0b9e…; it never changes across resets or retries.
func NewID(kind Kind) string {
	return string(kind) + "-" + uuid.NewString()
}

// IDForKey returns the job ID of the request with this tenant and Idempotency-Key, so a
// retried request finds the job its first attempt started.
func IDForKey(kind Kind, tenantID, key string) string {
	return string(kind) + "-" + uuid.NewSHA1(idempotencyNamespace, []byte(tenantID+"\x00"+string(kind)+"\x00"+key)).String()
}

// KindOf returns the kind encoded in a job ID, and false when the ID is not one of ours.
func KindOf(id string) (Kind, bool) {
	prefix, rest, ok := strings.Cut(id, "-")
	if !ok || !Kind(prefix).Valid() {
		return "", false
	}
	if _, err := uuid.Parse(rest); err != nil {
		return "", false
	}
	return Kind(prefix), true
}

// QueryProgress is the workflow query every job workflow answers with its Progress.
const QueryProgress = "progress"

// Progress is how far a running job has come, e.g. {"done": 40, "total": 100, "step": "write"}.
type Progress struct {
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Step  string `json:"step"`
	// Sections is a report job's state per section (queued, writing, written, ...).
	Sections map[string]string `json:"sections,omitempty"`
}
