package privacy

import (
	"context"
	"time"

	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/temporal"
)

// ExportInput is a privacy_export job's input: whose records, never the records.
type ExportInput struct {
	TenantID      string `json:"tenant_id"`
	JobID         string `json:"job_id"`
	ParticipantID string `json:"participant_id"`
}

// ExportResult is a finished export: where to download it and how many rows per table it holds.
type ExportResult struct {
	ExportID  string            `json:"export_id"`
	Rows      map[string]int    `json:"rows"`
	Bytes     int               `json:"bytes"`
	ExpiresAt time.Time         `json:"expires_at"`
	Links     map[string]string `json:"links"`
}

// EraseInput is a privacy_erase job's input. The reason is not in it: it is the admin's
// free text, kept in privacy_erasures (see RecordEraseRequest), while the job's history holds
// only the pseudonymous participant ID, counts and table names.
type EraseInput struct {
	TenantID      string `json:"tenant_id"`
	JobID         string `json:"job_id"`
	ParticipantID string `json:"participant_id"`
}

// ExportLink is where an export is downloaded.
func ExportLink(id string) string { return "/v1/privacy/exports/" + id }

// Service starts the privacy jobs and serves exports; the API calls it.
type Service struct {
	Postgres Postgres
	Jobs     *jobs.Service
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (s Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// StartExport starts a privacy_export job for the tenant's participant with job ID id;
// store.ErrNotFound (ErrUnknownParticipant) when the tenant holds nothing about them.
func (s Service) StartExport(ctx context.Context, tenantID, participantID, id string) (jobs.Job, error) {
	if _, known, err := s.Postgres.LoadSubject(ctx, tenantID, participantID); err != nil {
		return jobs.Job{}, err
	} else if !known {
		return jobs.Job{}, ErrUnknownParticipant
	}
	return s.Jobs.Start(ctx, tenantID, id, jobs.StartOptions{TaskQueue: temporal.TaskQueuePrivacy, Workflow: ExportWorkflow,
		Input: ExportInput{TenantID: tenantID, JobID: id, ParticipantID: participantID}})
}

// StartErase records the request with its reason and starts a privacy_erase job with job
// ID id. A participant the tenant holds nothing about is unknown (ErrUnknownParticipant)
// unless they were erased before: then the job runs and says there was nothing left.
func (s Service) StartErase(ctx context.Context, tenantID, participantID, reason, id string) (jobs.Job, error) {
	_, known, err := s.Postgres.LoadSubject(ctx, tenantID, participantID)
	if err != nil {
		return jobs.Job{}, err
	}
	if !known {
		// Any erasure counts, this job's included: a retried request of an erasure that
		// finished finds its job rather than a 404.
		erased, err := s.Postgres.ErasedBefore(ctx, tenantID, participantID, "")
		if err != nil {
			return jobs.Job{}, err
		}
		if !erased {
			return jobs.Job{}, ErrUnknownParticipant
		}
	}
	if err := s.Postgres.RecordEraseRequest(ctx, tenantID, participantID, id, reason); err != nil {
		return jobs.Job{}, err
	}
	return s.Jobs.Start(ctx, tenantID, id, jobs.StartOptions{TaskQueue: temporal.TaskQueuePrivacy, Workflow: EraseWorkflow,
		Input: EraseInput{TenantID: tenantID, JobID: id, ParticipantID: participantID}})
}

// Export returns the tenant's export while it can be downloaded; store.ErrNotFound after
// it expired, for another tenant's, and for none.
func (s Service) Export(ctx context.Context, tenantID, id string) (Export, error) {
	return s.Postgres.LoadExport(ctx, tenantID, id, s.now())
}
