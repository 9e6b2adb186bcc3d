// Package workflows holds impactflow's deterministic workflow code, one workflow per file.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/imports"
	"github.com/impactflow/impactflow/internal/ingest"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
)

// ImportChunksPerActivity sets how much one ImportChunks activity does: 20 chunks of 5,000
// rows. Each activity's completion is a durable checkpoint in the history and a progress
// step. Each start and end also leaves the activity's writers idle (the first chunk is
// read and validated before any write, the last one is written alone): a cost paid per
// activity, so a big import pays it half as often as with 10.
const ImportChunksPerActivity = 20

// chunksPerActivityV0 is how many chunks an activity did for inputs that do not say
// (every import started before ImportInput.ChunksPerActivity existed).
const chunksPerActivityV0 = 10

// ImportInput starts an ImportWorkflow for an upload staged under the job's ID.
type ImportInput struct {
	TenantID string        `json:"tenant_id"`
	JobID    string        `json:"job_id"`
	Target   ingest.Target `json:"target"`
	Rows     int           `json:"rows"`
	Chunks   int           `json:"chunks"`
	// ChunksPerActivity is the size of each ImportChunks activity, fixed by the starter
	// (ImportChunksPerActivity); 0, as in inputs written before it existed, means 10. Like
	// NotificationInput.Version it lives in the input rather than behind workflow.GetVersion:
	// a history replays the way it was written, and no marker is needed.
	ChunksPerActivity int `json:"chunks_per_activity,omitempty"`
}

// ImportResult is what the import did: every row is inserted, updated, unchanged or rejected.
type ImportResult struct {
	Target              ingest.Target      `json:"target"`
	Rows                int                `json:"rows"`
	Inserted            int                `json:"inserted"`
	Updated             int                `json:"updated"`
	Unchanged           int                `json:"unchanged"`
	Rejected            int                `json:"rejected"`
	Rejections          []ingest.Rejection `json:"rejections"`
	RejectionsTruncated bool               `json:"rejections_truncated"`
}

// ImportWorkflow validates an uploaded file and writes its valid rows to Postgres, chunk by
// chunk, answering the progress query as it goes.
func ImportWorkflow(ctx workflow.Context, in ImportInput) (ImportResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		// A batch heartbeats after every chunk; a worker that dies is noticed within this.
		HeartbeatTimeout: 30 * time.Second,
		// Postgres being down is worth waiting out for a while, not forever.
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{imports.ErrTypeUploadMissing},
		},
	})

	progress := jobs.Progress{Total: int64(in.Rows), Step: "import"}
	if err := workflow.SetQueryHandler(ctx, jobs.QueryProgress, func() (jobs.Progress, error) {
		return progress, nil
	}); err != nil {
		return ImportResult{}, err
	}

	var a *imports.Activities
	var total store.ChunkResult
	per := in.ChunksPerActivity
	if per <= 0 {
		per = chunksPerActivityV0
	}
	for first := 0; first < in.Chunks; first += per {
		var res imports.ImportChunksResult
		err := workflow.ExecuteActivity(ctx, a.ImportChunks, imports.ImportChunksInput{
			JobID:      in.JobID,
			TenantID:   in.TenantID,
			Target:     in.Target,
			FirstChunk: first,
			EndChunk:   min(first+per, in.Chunks),
		}).Get(ctx, &res)
		if err != nil {
			return ImportResult{}, err
		}
		total.Add(res.ChunkResult, imports.MaxRejections)
		progress.Done = int64(total.Rows)
	}
	progress.Step = "done"

	rejections := total.Rejections
	if rejections == nil {
		rejections = []ingest.Rejection{}
	}
	return ImportResult{
		Target:              in.Target,
		Rows:                total.Rows,
		Inserted:            total.Inserted,
		Updated:             total.Updated,
		Unchanged:           total.Unchanged,
		Rejected:            total.Rejected,
		Rejections:          rejections,
		RejectionsTruncated: total.Rejected > len(rejections),
	}, nil
}
