// Package imports holds the activities of ImportWorkflow: thin adapters from Temporal to
// internal/ingest (parsing and validation) and internal/store (staged chunks, upserts).
package imports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/ingest"
	"github.com/impactflow/impactflow/internal/store"
)

// ErrTypeUploadMissing marks an import whose staged upload is gone: retrying cannot help.
const ErrTypeUploadMissing = "UploadMissing"

// MaxRejections is how many rejected rows a result lists; the counts cover them all.
const MaxRejections = 1000

// Activities imports staged uploads into Postgres.
type Activities struct {
	Store *store.Store
	// OnChunkDone, when set, is called after each chunk commits; tests use it to stop a
	// worker mid-import.
	OnChunkDone func(ctx context.Context, seq int)
}

// ImportChunksInput names a range of an upload's chunks, [FirstChunk, EndChunk).
type ImportChunksInput struct {
	JobID      string        `json:"job_id"`
	TenantID   string        `json:"tenant_id"`
	Target     ingest.Target `json:"target"`
	FirstChunk int           `json:"first_chunk"`
	EndChunk   int           `json:"end_chunk"`
}

// ImportChunksResult is what the range did, and how many of its chunks an earlier attempt
// had already done (they are not written again).
type ImportChunksResult struct {
	store.ChunkResult
	ResumedChunks int `json:"resumed_chunks"`
}

// ImportChunks validates and upserts each chunk in the range, one transaction per chunk.
// The chunk's row in Postgres records it as done in that same transaction, so an attempt
// after a crash, a retry or a workflow reset skips what is done and nothing is written twice.
func (a *Activities) ImportChunks(ctx context.Context, in ImportChunksInput) (ImportChunksResult, error) {
	programs, err := a.Store.ProgramIDs(ctx, in.TenantID)
	if err != nil {
		return ImportChunksResult{}, fmt.Errorf("load programs: %w", err)
	}
	v := ingest.Validator{Programs: programs, Now: time.Now()}
	apply := func(ctx context.Context, tx pgx.Tx, c ingest.Chunk) (store.ChunkResult, error) {
		res := store.ChunkResult{Rows: len(c.Lines)}
		var valid int
		switch in.Target {
		case ingest.TargetEvents:
			rows, rejected := v.Events(c)
			valid, res.Rejections = len(rows), rejected
			res.Inserted, res.Updated, err = store.UpsertEvents(ctx, tx, in.TenantID, in.JobID, rows)
		case ingest.TargetEvidence:
			rows, rejected := v.Evidence(c)
			valid, res.Rejections = len(rows), rejected
			res.Inserted, res.Updated, err = store.UpsertEvidence(ctx, tx, in.TenantID, in.JobID, rows)
		default:
			return res, temporal.NewNonRetryableApplicationError("unknown import target "+string(in.Target), "BadTarget", nil)
		}
		if err != nil {
			return res, err
		}
		res.Rejected = len(res.Rejections)
		res.Unchanged = valid - res.Inserted - res.Updated
		return res, nil
	}

	var total ImportChunksResult
	for seq := in.FirstChunk; seq < in.EndChunk; seq++ {
		res, resumed, err := a.Store.ImportChunk(ctx, in.JobID, seq, apply)
		if errors.Is(err, store.ErrNotFound) {
			return total, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("chunk %d of upload %s is missing", seq, in.JobID), ErrTypeUploadMissing, err)
		}
		if err != nil {
			return total, fmt.Errorf("import chunk %d: %w", seq, err)
		}
		total.Add(res, MaxRejections)
		if resumed {
			total.ResumedChunks++
		}
		activity.RecordHeartbeat(ctx, seq)
		if a.OnChunkDone != nil {
			a.OnChunkDone(ctx, seq)
		}
	}
	return total, nil
}
