package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// ChunkSource yields an upload's chunks, then io.EOF; Sum is the hash of all it read.
type ChunkSource interface {
	Next() (ingest.Chunk, error)
	Sum() []byte
}

// StageUpload stores an upload's chunks under jobID, in one transaction. If the job ID is
// already staged (a retried request with the same Idempotency-Key) it stores nothing and
// returns the upload staged the first time, or ErrConflict when the body differs. Errors
// from src (a malformed upload) come back as they are, with nothing stored.
func (s *Store) StageUpload(ctx context.Context, jobID, tenantID string, target ingest.Target, src ChunkSource) (Upload, error) {
	up := Upload{JobID: jobID, TenantID: tenantID, Target: target}
	first, err := src.Next()
	if err != nil {
		return Upload{}, err
	}
	second, err := src.Next()
	if errors.Is(err, io.EOF) {
		return s.stageOneChunk(ctx, up, first, src.Sum())
	}
	if err != nil {
		return Upload{}, err
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Upload{}, err
	}
	defer tx.Rollback(ctx)
	// Two requests staging the same job ID serialise here: the second waits for the first.
	tag, err := tx.Exec(ctx, `
		INSERT INTO import_uploads (job_id, tenant_id, target, request_hash) VALUES ($1, $2, $3, '')
		ON CONFLICT (job_id) DO NOTHING`, jobID, tenantID, target)
	if err != nil {
		return Upload{}, err
	}
	exists := tag.RowsAffected() == 0
	for c := first; ; {
		up.Chunks++
		up.Rows += len(c.Lines)
		up.Bytes += int64(len(c.Data))
		if !exists {
			if _, err := tx.Exec(ctx, `INSERT INTO import_chunks (job_id, seq, lines, data) VALUES ($1, $2, $3, $4)`,
				jobID, c.Seq, c.Lines, c.Data); err != nil {
				return Upload{}, err
			}
		}
		if second.Lines != nil {
			c, second = second, ingest.Chunk{}
			continue
		}
		c, err = src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Upload{}, err
		}
	}
	up.RequestHash = src.Sum()
	if exists {
		return s.sameUpload(ctx, up)
	}
	err = tx.QueryRow(ctx, `
		UPDATE import_uploads SET request_hash = $2, rows = $3, bytes = $4, chunks = $5
		WHERE job_id = $1 RETURNING created_at`,
		jobID, up.RequestHash, up.Rows, up.Bytes, up.Chunks).Scan(&up.CreatedAt)
	if err != nil {
		return Upload{}, err
	}
	return up, tx.Commit(ctx)
}

// stageOneChunk stages a one-chunk upload, the common small case, in a single round trip.
func (s *Store) stageOneChunk(ctx context.Context, up Upload, c ingest.Chunk, sum []byte) (Upload, error) {
	up.RequestHash, up.Rows, up.Bytes, up.Chunks = sum, len(c.Lines), int64(len(c.Data)), 1
	err := s.pool.QueryRow(ctx, `
		WITH up AS (
			INSERT INTO import_uploads (job_id, tenant_id, target, request_hash, rows, bytes, chunks)
			VALUES ($1, $2, $3, $4, $5, $6, 1)
			ON CONFLICT (job_id) DO NOTHING
			RETURNING job_id, created_at
		), chunk AS (
			INSERT INTO import_chunks (job_id, seq, lines, data) SELECT job_id, 0, $7, $8 FROM up
		)
		SELECT created_at FROM up`,
		up.JobID, up.TenantID, up.Target, sum, up.Rows, up.Bytes, c.Lines, c.Data).Scan(&up.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return s.sameUpload(ctx, up)
	}
	return up, err
}

// sameUpload returns the upload already staged under up's job ID if it is the same request.
func (s *Store) sameUpload(ctx context.Context, up Upload) (Upload, error) {
	existing, err := s.Upload(ctx, up.JobID)
	if err != nil {
		return Upload{}, err
	}
	if existing.TenantID != up.TenantID || existing.Target != up.Target || !bytes.Equal(existing.RequestHash, up.RequestHash) {
		return Upload{}, fmt.Errorf("%w: this Idempotency-Key was used for a different request", ErrConflict)
	}
	return existing, nil
}

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

// LoadChunk reads chunk seq of the upload; done says an earlier attempt already imported it.
func (s *Store) LoadChunk(ctx context.Context, jobID string, seq int) (c ingest.Chunk, done bool, err error) {
	c.Seq = seq
	err = s.pool.QueryRow(ctx, `
		SELECT lines, CASE WHEN done_at IS NULL THEN data END, done_at IS NOT NULL
		FROM import_chunks WHERE job_id = $1 AND seq = $2`, jobID, seq).Scan(&c.Lines, &c.Data, &done)
	return c, done, notFound(err)
}

// CommitChunk runs write for chunk seq inside one transaction that also marks the chunk done
// with its result. A chunk already done is not written again: its stored result is returned
// with done = true. This is the import's checkpoint. The chunk's staged data goes in the same
// step: nothing reads a done chunk's data again, not a retry and not a reset.
func (s *Store) CommitChunk(ctx context.Context, jobID string, seq int,
	write func(ctx context.Context, tx pgx.Tx) (ChunkResult, error)) (res ChunkResult, done bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return ChunkResult{}, false, err
	}
	defer tx.Rollback(ctx)
	// The rows and the chunk's done mark commit together, so a commit lost in a crash loses
	// both and the chunk is simply imported again: waiting for the WAL flush buys nothing.
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit TO OFF`); err != nil {
		return ChunkResult{}, false, err
	}

	var stored []byte
	err = tx.QueryRow(ctx, `
		SELECT done_at IS NOT NULL, json_build_object('rows', cardinality(lines), 'inserted', inserted,
			'updated', updated, 'unchanged', unchanged, 'rejected', rejected, 'rejections', rejections)
		FROM import_chunks WHERE job_id = $1 AND seq = $2 FOR UPDATE`, jobID, seq).Scan(&done, &stored)
	if err != nil {
		return ChunkResult{}, false, notFound(err)
	}
	if done {
		err = json.Unmarshal(stored, &res)
		return res, true, err
	}
	if res, err = write(ctx, tx); err != nil {
		return ChunkResult{}, false, err
	}
	rejections, err := json.Marshal(res.Rejections)
	if err != nil {
		return ChunkResult{}, false, err
	}
	_, err = tx.Exec(ctx, `
		UPDATE import_chunks SET inserted = $3, updated = $4, unchanged = $5, rejected = $6,
			rejections = $7, done_at = now(), data = ''::bytea
		WHERE job_id = $1 AND seq = $2`, jobID, seq, res.Inserted, res.Updated, res.Unchanged, res.Rejected, rejections)
	if err != nil {
		return ChunkResult{}, false, err
	}
	return res, false, tx.Commit(ctx)
}

// UpsertEvents writes event rows keyed by (tenant, event_id) and says how many were new and
// how many changed; a row identical to the stored one is left alone (unchanged). The
// participant names rows carry fill their participants' records in the same transaction.
func UpsertEvents(ctx context.Context, tx pgx.Tx, tenantID, jobID string, rows []ingest.Event) (inserted, updated int, err error) {
	if len(rows) == 0 {
		return 0, 0, nil
	}
	ids, programs, participants, kinds := make([]string, len(rows)), make([]int64, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	times, values, attrs := make([]time.Time, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	var names participantNames
	for i, r := range rows {
		ids[i], programs[i], participants[i], kinds[i] = r.EventID, r.ProgramID, r.ParticipantID, r.Kind
		times[i], values[i], attrs[i] = r.OccurredAt, r.Value, r.Attributes
		names.add(r.ParticipantID, r.ParticipantName)
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
	if err != nil {
		return 0, 0, err
	}
	return inserted, updated, names.write(ctx, tx, tenantID)
}

// UpsertEvidence writes evidence rows keyed by (tenant, snippet_id), like UpsertEvents.
func UpsertEvidence(ctx context.Context, tx pgx.Tx, tenantID, jobID string, rows []ingest.Evidence) (inserted, updated int, err error) {
	if len(rows) == 0 {
		return 0, 0, nil
	}
	ids, programs, participants := make([]string, len(rows)), make([]int64, len(rows)), make([]string, len(rows))
	texts, sources, times := make([]string, len(rows)), make([]string, len(rows)), make([]time.Time, len(rows))
	var names participantNames
	for i, r := range rows {
		ids[i], programs[i], participants[i] = r.SnippetID, r.ProgramID, r.ParticipantID
		texts[i], sources[i], times[i] = r.Text, r.Source, r.OccurredAt
		names.add(r.ParticipantID, r.ParticipantName)
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
				occurred_at = EXCLUDED.occurred_at, import_job_id = EXCLUDED.import_job_id, updated_at = now(),
				-- a changed text is classified again (its old labels stay until then)
				classified_at = CASE WHEN e.text IS DISTINCT FROM EXCLUDED.text THEN NULL ELSE e.classified_at END
			WHERE (e.program_id, e.participant_id, e.text, e.source, e.occurred_at)
				IS DISTINCT FROM (EXCLUDED.program_id, EXCLUDED.participant_id, EXCLUDED.text,
					EXCLUDED.source, EXCLUDED.occurred_at)
			RETURNING (xmax = 0) AS inserted
		)
		SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written`,
		tenantID, ids, programs, participants, texts, sources, times, jobID).Scan(&inserted, &updated)
	if err != nil {
		return 0, 0, err
	}
	return inserted, updated, names.write(ctx, tx, tenantID)
}
