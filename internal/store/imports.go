package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/impactflow/impactflow/internal/ingest"
)

// Upload is a staged import file.
type Upload struct {
	JobID       string
	TenantID    string
	Target      ingest.Target
	RequestHash []byte
	Rows        int
	Bytes       int64
	Chunks      int
	CreatedAt   time.Time
}

// Staging writes one upload's chunks in a single transaction. If the job ID is already
// staged (a retried request with the same Idempotency-Key), it writes nothing and Finish
// compares the request with the stored one instead.
type Staging struct {
	tx       pgx.Tx
	existing *Upload
	up       Upload
}

// BeginUpload starts staging an upload for jobID. Two requests staging the same job ID
// serialise on the primary key: the second waits for the first to commit.
func (s *Store) BeginUpload(ctx context.Context, jobID, tenantID string, target ingest.Target) (*Staging, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	st := &Staging{tx: tx, up: Upload{JobID: jobID, TenantID: tenantID, Target: target}}
	tag, err := tx.Exec(ctx, `
		INSERT INTO import_uploads (job_id, tenant_id, target, request_hash) VALUES ($1, $2, $3, '')
		ON CONFLICT (job_id) DO NOTHING`, jobID, tenantID, target)
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, err
	}
	if tag.RowsAffected() == 0 {
		up, err := s.Upload(ctx, jobID)
		if err != nil {
			_ = tx.Rollback(ctx)
			return nil, err
		}
		st.existing = &up
	}
	return st, nil
}

// Add writes a chunk (nothing when the upload already existed).
func (st *Staging) Add(ctx context.Context, c ingest.Chunk) error {
	st.up.Chunks++
	st.up.Rows += len(c.Lines)
	st.up.Bytes += int64(len(c.Data))
	if st.existing != nil {
		return nil
	}
	_, err := st.tx.Exec(ctx, `INSERT INTO import_chunks (job_id, seq, lines, data) VALUES ($1, $2, $3, $4)`,
		st.up.JobID, c.Seq, c.Lines, c.Data)
	return err
}

// Finish commits the staged upload and returns it. For a repeated request it returns the
// upload staged the first time, or ErrConflict when the same job ID came with another body.
func (st *Staging) Finish(ctx context.Context, requestHash []byte) (Upload, error) {
	if st.existing != nil {
		_ = st.tx.Rollback(ctx)
		if st.existing.TenantID != st.up.TenantID || st.existing.Target != st.up.Target || !bytes.Equal(st.existing.RequestHash, requestHash) {
			return Upload{}, fmt.Errorf("%w: this Idempotency-Key was used for a different request", ErrConflict)
		}
		return *st.existing, nil
	}
	st.up.RequestHash = requestHash
	err := st.tx.QueryRow(ctx, `
		UPDATE import_uploads SET request_hash = $2, rows = $3, bytes = $4, chunks = $5
		WHERE job_id = $1 RETURNING created_at`,
		st.up.JobID, requestHash, st.up.Rows, st.up.Bytes, st.up.Chunks).Scan(&st.up.CreatedAt)
	if err != nil {
		_ = st.tx.Rollback(ctx)
		return Upload{}, err
	}
	if err := st.tx.Commit(ctx); err != nil {
		return Upload{}, err
	}
	return st.up, nil
}

// Abort discards the staging; safe after Finish.
func (st *Staging) Abort(ctx context.Context) { _ = st.tx.Rollback(ctx) }

// Upload returns a staged upload.
func (s *Store) Upload(ctx context.Context, jobID string) (Upload, error) {
	var u Upload
	err := s.pool.QueryRow(ctx, `
		SELECT job_id, tenant_id, target, request_hash, rows, bytes, chunks, created_at
		FROM import_uploads WHERE job_id = $1`, jobID).
		Scan(&u.JobID, &u.TenantID, &u.Target, &u.RequestHash, &u.Rows, &u.Bytes, &u.Chunks, &u.CreatedAt)
	return u, notFound(err)
}

// ChunkResult is what importing one chunk did.
type ChunkResult struct {
	Rows       int                `json:"rows"`
	Inserted   int                `json:"inserted"`
	Updated    int                `json:"updated"`
	Unchanged  int                `json:"unchanged"`
	Rejected   int                `json:"rejected"`
	Rejections []ingest.Rejection `json:"rejections,omitempty"`
}

// Add accumulates o into r, keeping at most maxRejections rejections.
func (r *ChunkResult) Add(o ChunkResult, maxRejections int) {
	r.Rows += o.Rows
	r.Inserted += o.Inserted
	r.Updated += o.Updated
	r.Unchanged += o.Unchanged
	r.Rejected += o.Rejected
	if room := maxRejections - len(r.Rejections); room > 0 {
		r.Rejections = append(r.Rejections, o.Rejections[:min(room, len(o.Rejections))]...)
	}
}

// ImportChunk runs apply on chunk seq of the upload inside one transaction that also marks
// the chunk done with its result. A chunk already done is not applied again: its stored
// result is returned with done = true. This is the import's checkpoint.
func (s *Store) ImportChunk(ctx context.Context, jobID string, seq int,
	apply func(ctx context.Context, tx pgx.Tx, c ingest.Chunk) (ChunkResult, error)) (res ChunkResult, done bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return ChunkResult{}, false, err
	}
	defer tx.Rollback(ctx)

	c := ingest.Chunk{Seq: seq}
	var doneAt *time.Time
	var stored []byte
	err = tx.QueryRow(ctx, `
		SELECT lines, data, done_at, json_build_object('rows', cardinality(lines), 'inserted', inserted,
			'updated', updated, 'unchanged', unchanged, 'rejected', rejected, 'rejections', rejections)
		FROM import_chunks WHERE job_id = $1 AND seq = $2 FOR UPDATE`, jobID, seq).
		Scan(&c.Lines, &c.Data, &doneAt, &stored)
	if err != nil {
		return ChunkResult{}, false, notFound(err)
	}
	if doneAt != nil {
		err = json.Unmarshal(stored, &res)
		return res, true, err
	}
	if res, err = apply(ctx, tx, c); err != nil {
		return ChunkResult{}, false, err
	}
	rejections, err := json.Marshal(res.Rejections)
	if err != nil {
		return ChunkResult{}, false, err
	}
	_, err = tx.Exec(ctx, `
		UPDATE import_chunks SET inserted = $3, updated = $4, unchanged = $5, rejected = $6,
			rejections = $7, done_at = now()
		WHERE job_id = $1 AND seq = $2`, jobID, seq, res.Inserted, res.Updated, res.Unchanged, res.Rejected, rejections)
	if err != nil {
		return ChunkResult{}, false, err
	}
	return res, false, tx.Commit(ctx)
}

// UpsertEvents writes event rows keyed by (tenant, event_id) and says how many were new and
// how many changed; a row identical to the stored one is left alone (unchanged).
func UpsertEvents(ctx context.Context, tx pgx.Tx, tenantID, jobID string, rows []ingest.Event) (inserted, updated int, err error) {
	if len(rows) == 0 {
		return 0, 0, nil
	}
	ids, programs, participants, kinds := make([]string, len(rows)), make([]int64, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	times, values, attrs := make([]time.Time, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	for i, r := range rows {
		ids[i], programs[i], participants[i], kinds[i] = r.EventID, r.ProgramID, r.ParticipantID, r.Kind
		times[i], values[i], attrs[i] = r.OccurredAt, r.Value, r.Attributes
	}
	err = tx.QueryRow(ctx, `
		WITH written AS (
			INSERT INTO impact_events AS e (tenant_id, event_id, program_id, participant_id, kind,
				occurred_at, value, attributes, import_job_id)
			SELECT $1, t.event_id, t.program_id, t.participant_id, t.kind, t.occurred_at,
				t.value::numeric, t.attributes::jsonb, $9
			FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[])
				AS t (event_id, program_id, participant_id, kind, occurred_at, value, attributes)
			ON CONFLICT (tenant_id, event_id) DO UPDATE SET program_id = EXCLUDED.program_id,
				participant_id = EXCLUDED.participant_id, kind = EXCLUDED.kind,
				occurred_at = EXCLUDED.occurred_at, value = EXCLUDED.value,
				attributes = EXCLUDED.attributes, import_job_id = EXCLUDED.import_job_id, updated_at = now()
			WHERE (e.program_id, e.participant_id, e.kind, e.occurred_at, e.value, e.attributes)
				IS DISTINCT FROM (EXCLUDED.program_id, EXCLUDED.participant_id, EXCLUDED.kind,
					EXCLUDED.occurred_at, EXCLUDED.value, EXCLUDED.attributes)
			RETURNING (xmax = 0) AS inserted
		)
		SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written`,
		tenantID, ids, programs, participants, kinds, times, values, attrs, jobID).Scan(&inserted, &updated)
	return inserted, updated, err
}

// UpsertEvidence writes evidence rows keyed by (tenant, snippet_id), like UpsertEvents.
func UpsertEvidence(ctx context.Context, tx pgx.Tx, tenantID, jobID string, rows []ingest.Evidence) (inserted, updated int, err error) {
	if len(rows) == 0 {
		return 0, 0, nil
	}
	ids, programs, participants := make([]string, len(rows)), make([]int64, len(rows)), make([]string, len(rows))
	texts, sources, times := make([]string, len(rows)), make([]string, len(rows)), make([]time.Time, len(rows))
	for i, r := range rows {
		ids[i], programs[i], participants[i] = r.SnippetID, r.ProgramID, r.ParticipantID
		texts[i], sources[i], times[i] = r.Text, r.Source, r.OccurredAt
	}
	err = tx.QueryRow(ctx, `
		WITH written AS (
			INSERT INTO evidence_snippets AS e (tenant_id, snippet_id, program_id, participant_id, text,
				source, occurred_at, import_job_id)
			SELECT $1, t.snippet_id, t.program_id, t.participant_id, t.text, t.source, t.occurred_at, $8
			FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
				AS t (snippet_id, program_id, participant_id, text, source, occurred_at)
			ON CONFLICT (tenant_id, snippet_id) DO UPDATE SET program_id = EXCLUDED.program_id,
				participant_id = EXCLUDED.participant_id, text = EXCLUDED.text, source = EXCLUDED.source,
				occurred_at = EXCLUDED.occurred_at, import_job_id = EXCLUDED.import_job_id, updated_at = now()
			WHERE (e.program_id, e.participant_id, e.text, e.source, e.occurred_at)
				IS DISTINCT FROM (EXCLUDED.program_id, EXCLUDED.participant_id, EXCLUDED.text,
					EXCLUDED.source, EXCLUDED.occurred_at)
			RETURNING (xmax = 0) AS inserted
		)
		SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written`,
		tenantID, ids, programs, participants, texts, sources, times, jobID).Scan(&inserted, &updated)
	return inserted, updated, err
}
