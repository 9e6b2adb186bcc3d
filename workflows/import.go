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
	// Local runs the whole import as one local activity, set by the starter for uploads of
	// at most ImportLocalMaxChunks chunks (see ImportLocalMaxChunks). Inputs without it, as
	// all those written before it existed, run ImportChunks as regular activities.
	Local bool `json:"local,omitempty"`
}

// ImportLocalMaxChunks is the largest upload, in chunks of ingest.ChunkRows rows, that the
// API imports in a local activity: one chunk, written in one transaction within tens of
// milliseconds. A local activity runs in the worker that runs the workflow task, so a
// small import is one workflow task from start (eager) to completion, and the server skips
// the activity's dispatch through matching, its started and completed events and a second
// workflow task: about half its work per import, which is what bounds how many imports it
// starts per second while it also runs them. A worker that dies mid-import loses nothing:
// the workflow task times out and the next one runs the activity again, and a chunk is
// committed once (store.CommitChunk). Bigger imports keep regular activities, which
// heartbeat and checkpoint every chunk.
const ImportLocalMaxChunks = 1

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

// importRetryPolicy retries ImportChunks, local or not, except when the staged upload is gone.
func importRetryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{imports.ErrTypeUploadMissing},
	}
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
		RetryPolicy:            importRetryPolicy(),
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
	if in.Local {
		per = max(in.Chunks, 1)
	}
	for first := 0; first < in.Chunks; first += per {
		var res imports.ImportChunksResult
		chunks := imports.ImportChunksInput{
			JobID:      in.JobID,
			TenantID:   in.TenantID,
			Target:     in.Target,
			FirstChunk: first,
			EndChunk:   min(first+per, in.Chunks),
		}
		var err error
		if in.Local {
			err = workflow.ExecuteLocalActivity(localImportOptions(ctx), a.ImportChunks, chunks).Get(ctx, &res)
		} else {
			err = workflow.ExecuteActivity(ctx, a.ImportChunks, chunks).Get(ctx, &res)
		}
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

// localImportOptions are the options of a local ImportChunks: the regular activity's
// retries and hour-long bound on waiting out Postgres, with a shorter attempt, as fits a
// single chunk.
func localImportOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy:            importRetryPolicy(),
	})
}
