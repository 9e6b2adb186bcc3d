// Package privacy holds the activities of the privacy jobs (export and erasure of one
// participant, retention purges): thin adapters over internal/privacy and internal/analytics that add
// heartbeats and say which failures are permanent. Inputs and results carry IDs, counts
// and table names; the participant's name, email and phone are looked up in Postgres by
// each step that needs them and never leave it.
package privacy

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/events"
	"github.com/impactflow/impactflow/internal/privacy"
	"github.com/impactflow/impactflow/internal/store"
)

// ErrTypeUnknownParticipant is the non-retryable error type of a request about a
// participant the tenant holds nothing about.
const ErrTypeUnknownParticipant = "UnknownParticipant"

// CachePurger deletes a tenant's cached answers (analytics.Cache).
type CachePurger interface {
	PurgeTenant(ctx context.Context, tenantID string) (int64, error)
}

// Activities are the privacy jobs' side effects.
type Activities struct {
	Postgres  privacy.Postgres
	Analytics *analytics.DB // nil: this platform has no analytics store
	Cache     CachePurger   // nil: nothing cached
	Temporal  privacy.Temporal
	Events    events.Emitter
	// Store runs the retention purges and a tenant's deletion.
	Store *store.Store
	// DataKeys destroys a deleted tenant's payload keys (nil: payloads are not encrypted).
	DataKeys TenantKeys
	// TenantCaches are the Redis stores a tenant's deletion empties of its keys.
	TenantCaches []TenantCaches
	// StopGrace is how long StopExecutions waits for canceled jobs before terminating
	// them (0: a minute).
	StopGrace time.Duration
}

// BuildExport gathers the participant's records from Postgres and ClickHouse into one
// document and stores it under the job ID for download.
func (a *Activities) BuildExport(ctx context.Context, in privacy.ExportInput) (privacy.ExportResult, error) {
	s, known, err := a.Postgres.LoadSubject(ctx, in.TenantID, in.ParticipantID)
	if err != nil {
		return privacy.ExportResult{}, err
	}
	if !known {
		return privacy.ExportResult{}, temporal.NewNonRetryableApplicationError("the tenant holds no record of the participant", ErrTypeUnknownParticipant, nil)
	}
	now := time.Now()
	doc, err := a.Postgres.BuildDocument(ctx, s, now)
	if err != nil {
		return privacy.ExportResult{}, err
	}
	if a.Analytics != nil {
		if doc.ClickHouse, err = a.Analytics.ParticipantRows(ctx, in.TenantID, in.ParticipantID); err != nil {
			return privacy.ExportResult{}, err
		}
	}
	size, expires, err := a.Postgres.SaveExport(ctx, in.JobID, doc, now)
	if err != nil {
		return privacy.ExportResult{}, err
	}
	return privacy.ExportResult{ExportID: in.JobID, Rows: doc.Counts(), Bytes: size, ExpiresAt: expires,
		Links: map[string]string{"download": privacy.ExportLink(in.JobID)}}, nil
}

// EmitExportInput names a finished export.
type EmitExportInput struct {
	TenantID      string    `json:"tenant_id"`
	ExportID      string    `json:"export_id"`
	ParticipantID string    `json:"participant_id"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// EmitExportCompleted emits privacy.export.completed (once per export), which notification
// rules turn into the gdpr_export_ready message. The event carries the download link and
// the pseudonymous participant ID, not the person's name: the template's "name" greets the
// rule's recipients, the tenant's privacy team.
func (a *Activities) EmitExportCompleted(ctx context.Context, in EmitExportInput) error {
	return a.Events.Emit(ctx, events.Event{
		ID: events.IDFor(in.TenantID, events.TypePrivacyExportCompleted, in.ExportID), TenantID: in.TenantID,
		Type: events.TypePrivacyExportCompleted, OccurredAt: time.Now().UTC(),
		Data: map[string]any{"export_id": in.ExportID, "participant_id": in.ParticipantID, "name": "privacy team",
			"download_url": privacy.ExportLink(in.ExportID), "expires_at": in.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")},
	})
}

// ErasePlan is what an erasure will touch beyond the participant's own rows.
type ErasePlan struct {
	// Known is false when the tenant holds nothing about the participant any more.
	Known bool `json:"known"`
	// ErasedBefore is true when another erase job completed for them.
	ErasedBefore bool `json:"erased_before"`
	// Executions are the workflows whose histories may carry their data.
	Executions []privacy.Execution `json:"executions"`
}

// PlanErase finds what the erasure must stop and delete in Temporal: the executions that
// Postgres links to the participant's data, and running reports over their evidence. It
// runs before anything is deleted, while those links still exist.
func (a *Activities) PlanErase(ctx context.Context, in privacy.EraseInput) (ErasePlan, error) {
	_, known, err := a.Postgres.LoadSubject(ctx, in.TenantID, in.ParticipantID)
	if err != nil {
		return ErasePlan{}, err
	}
	plan := ErasePlan{Known: known, Executions: []privacy.Execution{}}
	if plan.ErasedBefore, err = a.Postgres.ErasedBefore(ctx, in.TenantID, in.ParticipantID, in.JobID); err != nil {
		return ErasePlan{}, err
	}
	if !known {
		return plan, nil
	}
	found, err := a.Postgres.ExecutionsFromPostgres(ctx, in.TenantID, in.ParticipantID)
	if err != nil {
		return ErasePlan{}, err
	}
	first, last, ok, err := a.Postgres.EvidencePeriod(ctx, in.TenantID, in.ParticipantID)
	if err != nil {
		return ErasePlan{}, err
	}
	if ok {
		running, err := a.Temporal.RunningReports(ctx, in.TenantID, first, last)
		if err != nil {
			return ErasePlan{}, err
		}
		found = append(found, running...)
	}
	seen := map[string]bool{in.JobID: true}
	for _, e := range found {
		if !seen[e.WorkflowID] {
			seen[e.WorkflowID] = true
			plan.Executions = append(plan.Executions, e)
		}
	}
	return plan, nil
}

// ExecutionsInput names a tenant's executions.
type ExecutionsInput struct {
	TenantID   string              `json:"tenant_id"`
	Executions []privacy.Execution `json:"executions"`
}

// StopExecutions cancels the running ones among the executions, waits for them, and
// terminates those that do not stop in time.
func (a *Activities) StopExecutions(ctx context.Context, in ExecutionsInput) (privacy.StopResult, error) {
	grace := a.StopGrace
	if grace == 0 {
		grace = time.Minute
	}
	return a.Temporal.Stop(ctx, in.TenantID, in.Executions, grace, heartbeat(ctx))
}

// EraseFromSchedules takes the participant out of the tenant's recurring notifications
// (their Temporal Schedules), deleting those left with no recipient.
func (a *Activities) EraseFromSchedules(ctx context.Context, in privacy.EraseInput) (privacy.ScheduleResult, error) {
	return a.Postgres.EraseFromSchedules(ctx, a.Temporal, in.TenantID, in.ParticipantID)
}

// ErasePostgres deletes or anonymises the participant's Postgres records and records the
// erasure; a retry returns the counts the first attempt recorded.
func (a *Activities) ErasePostgres(ctx context.Context, in privacy.EraseInput) (privacy.Counts, error) {
	return a.Postgres.ErasePostgres(ctx, in.TenantID, in.ParticipantID, in.JobID)
}

// EraseAnalytics deletes the participant's ClickHouse rows and recomputes the views
// derived from them. Without an analytics store it does nothing.
func (a *Activities) EraseAnalytics(ctx context.Context, in privacy.EraseInput) (analytics.ParticipantErasure, error) {
	if a.Analytics == nil {
		return analytics.ParticipantErasure{Rows: map[string]int64{}, Refreshed: []string{}}, nil
	}
	return a.Analytics.EraseParticipant(ctx, in.TenantID, in.ParticipantID, heartbeat(ctx))
}

// PurgeCachesInput names the tenant whose caches go.
type PurgeCachesInput struct {
	TenantID string `json:"tenant_id"`
}

// PurgeCaches deletes the tenant's cached analytics answers, which were computed with the
// participant's rows.
func (a *Activities) PurgeCaches(ctx context.Context, in PurgeCachesInput) (int64, error) {
	if a.Cache == nil {
		return 0, nil
	}
	return a.Cache.PurgeTenant(ctx, in.TenantID)
}

// DeleteExecutions deletes every run of the executions from Temporal and waits until they
// are gone; it returns the workflow IDs deleted.
func (a *Activities) DeleteExecutions(ctx context.Context, in ExecutionsInput) ([]string, error) {
	return a.Temporal.Delete(ctx, in.TenantID, in.Executions, heartbeat(ctx))
}

// heartbeat returns a function that records a heartbeat of the activity.
func heartbeat(ctx context.Context) func() {
	return func() { activity.RecordHeartbeat(ctx) }
}
