// Package imports holds the activities of ImportWorkflow: thin adapters from Temporal to
// internal/ingest (parsing and validation) and internal/store (staged chunks, upserts).
package imports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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

// readAhead is how many chunks are read and validated ahead of the ones being written, so
// that Go parses while Postgres writes.
const readAhead = 3

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

// validated is one chunk read and checked, ready to write.
type validated struct {
	seq      int
	done     bool // an earlier attempt imported it
	rows     int
	events   []ingest.Event
	evidence []ingest.Evidence
	rejected []ingest.Rejection
	err      error
}

// ImportChunks validates and upserts each chunk in the range, one transaction per chunk.
// The chunk's row in Postgres records it as done in that same transaction, so an attempt
// after a crash, a retry or a workflow reset skips what is done and nothing is written twice.
//
// Chunks are read and validated ahead of the writes, and up to `writers` chunks are written
// at once: one write is a chain of round trips that leaves both Postgres and this process
// half idle. A chunk that shares a key with an earlier chunk still being written waits for
// it, so the later line in the file still wins.
func (a *Activities) ImportChunks(ctx context.Context, in ImportChunksInput) (ImportChunksResult, error) {
	if in.Target != ingest.TargetEvents && in.Target != ingest.TargetEvidence {
		return ImportChunksResult{}, temporal.NewNonRetryableApplicationError("unknown import target "+string(in.Target), "BadTarget", nil)
	}
	programs, err := a.Store.ProgramIDs(ctx, in.TenantID)
	if err != nil {
		return ImportChunksResult{}, fmt.Errorf("load programs: %w", err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chunks := a.readAhead(ctx, in, ingest.Validator{Programs: programs, Now: time.Now()})

	n := in.EndChunk - in.FirstChunk
	results, resumed := make([]store.ChunkResult, n), make([]bool, n)
	slots := make(chan struct{}, writers)
	var wg sync.WaitGroup
	var active []*inflight
	for v := range chunks {
		if v.err != nil {
			cancel(v.err)
			break
		}
		keys := v.keys()
		for _, f := range active {
			if f.overlaps(keys) {
				<-f.done
			}
		}
		active = slices.DeleteFunc(active, (*inflight).finished)
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		f := &inflight{keys: keys, done: make(chan struct{})}
		active = append(active, f)
		wg.Go(func() {
			defer close(f.done)
			defer func() { <-slots }()
			res, already, err := a.Store.CommitChunk(ctx, in.JobID, v.seq, func(ctx context.Context, tx pgx.Tx) (store.ChunkResult, error) {
				return write(ctx, tx, in, v)
			})
			if err != nil {
				cancel(a.chunkError(in, v.seq, err))
				return
			}
			results[v.seq-in.FirstChunk], resumed[v.seq-in.FirstChunk] = res, already
			activity.RecordHeartbeat(ctx, v.seq)
			if a.OnChunkDone != nil {
				a.OnChunkDone(ctx, v.seq)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return ImportChunksResult{}, err
	}
	// Summed in chunk order, so the listed rejections are the first ones in the file.
	var total ImportChunksResult
	for i, res := range results {
		total.Add(res, MaxRejections)
		if resumed[i] {
			total.ResumedChunks++
		}
	}
	return total, nil
}

// writers is how many chunks of one import are written at once.
const writers = 2

// inflight is a chunk being written, with the keys it writes.
type inflight struct {
	keys map[string]struct{}
	done chan struct{}
}

func (f *inflight) finished() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

func (f *inflight) overlaps(keys map[string]struct{}) bool {
	small, big := f.keys, keys
	if len(small) > len(big) {
		small, big = big, small
	}
	for k := range small {
		if _, ok := big[k]; ok {
			return true
		}
	}
	return false
}

// keys are the row keys the chunk writes.
func (v validated) keys() map[string]struct{} {
	keys := make(map[string]struct{}, len(v.events)+len(v.evidence))
	for _, e := range v.events {
		keys[e.EventID] = struct{}{}
	}
	for _, e := range v.evidence {
		keys[e.SnippetID] = struct{}{}
	}
	return keys
}

// readAhead loads and validates the range's chunks in order on its own goroutine.
func (a *Activities) readAhead(ctx context.Context, in ImportChunksInput, val ingest.Validator) <-chan validated {
	out := make(chan validated, readAhead)
	go func() {
		defer close(out)
		for seq := in.FirstChunk; seq < in.EndChunk; seq++ {
			v := validated{seq: seq}
			c, done, err := a.Store.LoadChunk(ctx, in.JobID, seq)
			switch {
			case err != nil:
				v.err = a.chunkError(in, seq, err)
			case done:
				v.done = true
			case in.Target == ingest.TargetEvents:
				v.events, v.rejected = val.Events(c)
			default:
				v.evidence, v.rejected = val.Evidence(c)
			}
			v.rows = len(c.Lines)
			select {
			case out <- v:
			case <-ctx.Done():
				return
			}
			if v.err != nil {
				return
			}
		}
	}()
	return out
}

func write(ctx context.Context, tx pgx.Tx, in ImportChunksInput, v validated) (store.ChunkResult, error) {
	res := store.ChunkResult{Rows: v.rows, Rejections: v.rejected, Rejected: len(v.rejected)}
	var valid int
	var err error
	if in.Target == ingest.TargetEvents {
		valid = len(v.events)
		res.Inserted, res.Updated, err = store.UpsertEvents(ctx, tx, in.TenantID, in.JobID, v.events)
	} else {
		valid = len(v.evidence)
		res.Inserted, res.Updated, err = store.UpsertEvidence(ctx, tx, in.TenantID, in.JobID, v.evidence)
	}
	res.Unchanged = valid - res.Inserted - res.Updated
	return res, err
}

func (a *Activities) chunkError(in ImportChunksInput, seq int, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("chunk %d of upload %s is missing", seq, in.JobID), ErrTypeUploadMissing, err)
	}
	return fmt.Errorf("import chunk %d: %w", seq, err)
}
