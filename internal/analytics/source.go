package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Change is one impact event as the sync copies it: its current state, or a tombstone
// (Deleted) when it was deleted in Postgres.
type Change struct {
	TenantID      string
	EventID       string
	ProgramID     int64
	ParticipantID string
	Kind          string
	OccurredAt    time.Time
	Value         float64
	Location      string
	Cohort        string
	Attributes    string
	UpdatedAt     time.Time
	Deleted       bool
}

// Cursor is a position in the change stream. Incremental syncs order changes by
// (UpdatedAt, TenantID, EventID, Src); backfills of one tenant by (EventID, Src). Src is 0
// for a live row and 1 for a tombstone, so an event deleted and re-imported is both.
type Cursor struct {
	UpdatedAt time.Time `json:"updated_at"`
	TenantID  string    `json:"tenant_id"`
	EventID   string    `json:"event_id"`
	Src       int       `json:"src"`
}

// Source reads changes from Postgres in keyset batches.
type Source struct {
	Pool *pgxpool.Pool
}

// Horizon is the newest updated_at the sync may read up to: rows are stamped with their
// transaction's start time (now()), so a transaction still open may yet commit rows older
// than now; nothing older than the oldest open transaction's start can still appear.
func (s Source) Horizon(ctx context.Context) (time.Time, error) {
	var h time.Time
	err := s.Pool.QueryRow(ctx, `
		SELECT least(now(), coalesce((
			SELECT min(xact_start) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()
			  AND backend_type = 'client backend' AND xact_start IS NOT NULL), now()))`).Scan(&h)
	if err != nil {
		return time.Time{}, fmt.Errorf("sync horizon: %w", err)
	}
	return h, nil
}

const changeColumns = `tenant_id, event_id, program_id, participant_id, kind, occurred_at, value::float8,
	coalesce(attributes->>'location', ''), coalesce(attributes->>'cohort', ''), attributes::text, updated_at, 0 AS src`

const tombstoneColumns = `tenant_id, event_id, 0::bigint, '', '', occurred_at, 0::float8, '', '', '{}', updated_at, 1 AS src`

// Count is how many changes lie after the cursor and before the horizon.
func (s Source) Count(ctx context.Context, after Cursor, before time.Time) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM impact_events
		        WHERE (updated_at, tenant_id, event_id) > ($1, $2, $3) AND updated_at < $4)
		     + (SELECT count(*) FROM impact_event_tombstones
		        WHERE (updated_at, tenant_id, event_id) > ($1, $2, $3) AND updated_at < $4)`,
		after.UpdatedAt, after.TenantID, after.EventID, before).Scan(&n)
	return n, err
}

// Changes returns up to limit changes after the cursor and before the horizon, in order.
func (s Source) Changes(ctx context.Context, after Cursor, before time.Time, limit int) ([]Change, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT * FROM (
			(SELECT `+changeColumns+` FROM impact_events
			 WHERE (updated_at, tenant_id, event_id) >= ($1, $2, $3) AND updated_at < $5
			 ORDER BY updated_at, tenant_id, event_id LIMIT $6 + 1)
			UNION ALL
			(SELECT `+tombstoneColumns+` FROM impact_event_tombstones
			 WHERE (updated_at, tenant_id, event_id) >= ($1, $2, $3) AND updated_at < $5
			 ORDER BY updated_at, tenant_id, event_id LIMIT $6 + 1)
		) c
		WHERE (updated_at, tenant_id, event_id, src) > ($1, $2, $3, $4)
		ORDER BY updated_at, tenant_id, event_id, src LIMIT $6`,
		after.UpdatedAt, after.TenantID, after.EventID, after.Src, before, limit)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return collectChanges(rows)
}

// TenantChanges returns up to limit of a tenant's events and tombstones after the cursor
// (by event ID), optionally only those that occurred in [from, to): a backfill.
func (s Source) TenantChanges(ctx context.Context, tenantID string, from, to *time.Time, after Cursor, limit int) ([]Change, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT * FROM (
			(SELECT `+changeColumns+` FROM impact_events
			 WHERE tenant_id = $1 AND event_id >= $2
			   AND ($4::timestamptz IS NULL OR occurred_at >= $4) AND ($5::timestamptz IS NULL OR occurred_at < $5)
			 ORDER BY event_id LIMIT $6 + 1)
			UNION ALL
			(SELECT `+tombstoneColumns+` FROM impact_event_tombstones
			 WHERE tenant_id = $1 AND event_id >= $2
			   AND ($4::timestamptz IS NULL OR occurred_at >= $4) AND ($5::timestamptz IS NULL OR occurred_at < $5)
			 ORDER BY event_id LIMIT $6 + 1)
		) c
		WHERE (event_id, src) > ($2, $3)
		ORDER BY event_id, src LIMIT $6`,
		tenantID, after.EventID, after.Src, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("read tenant changes: %w", err)
	}
	return collectChanges(rows)
}

// TenantCount is how many changes a backfill of the tenant (and range) reads.
func (s Source) TenantCount(ctx context.Context, tenantID string, from, to *time.Time) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM impact_events WHERE tenant_id = $1
		          AND ($2::timestamptz IS NULL OR occurred_at >= $2) AND ($3::timestamptz IS NULL OR occurred_at < $3))
		     + (SELECT count(*) FROM impact_event_tombstones WHERE tenant_id = $1
		          AND ($2::timestamptz IS NULL OR occurred_at >= $2) AND ($3::timestamptz IS NULL OR occurred_at < $3))`,
		tenantID, from, to).Scan(&n)
	return n, err
}

func collectChanges(rows pgx.Rows) ([]Change, error) {
	var out []Change
	for rows.Next() {
		var c Change
		var src int
		if err := rows.Scan(&c.TenantID, &c.EventID, &c.ProgramID, &c.ParticipantID, &c.Kind, &c.OccurredAt, &c.Value,
			&c.Location, &c.Cohort, &c.Attributes, &c.UpdatedAt, &src); err != nil {
			rows.Close()
			return nil, err
		}
		c.Deleted = src == 1
		out = append(out, c)
	}
	return out, rows.Err()
}

// CursorOf is the position just after c.
func CursorOf(c Change) Cursor {
	src := 0
	if c.Deleted {
		src = 1
	}
	return Cursor{UpdatedAt: c.UpdatedAt, TenantID: c.TenantID, EventID: c.EventID, Src: src}
}

// TenantDim is a tenant's profile in ClickHouse.
type TenantDim struct {
	ID, Name, Industry, Region, SizeBand string
}

// ProgramDim is a program in ClickHouse.
type ProgramDim struct {
	TenantID   string
	ID         int64
	Code, Name string
}

// Dimensions reads every tenant and program.
func (s Source) Dimensions(ctx context.Context) ([]TenantDim, []ProgramDim, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, name, industry, region, size_band FROM tenants ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("read tenants: %w", err)
	}
	tenants, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TenantDim, error) {
		var t TenantDim
		return t, r.Scan(&t.ID, &t.Name, &t.Industry, &t.Region, &t.SizeBand)
	})
	if err != nil {
		return nil, nil, err
	}
	rows, err = s.Pool.Query(ctx, `SELECT tenant_id, id, code, name FROM programs ORDER BY tenant_id, id`)
	if err != nil {
		return nil, nil, fmt.Errorf("read programs: %w", err)
	}
	programs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProgramDim, error) {
		var p ProgramDim
		return p, r.Scan(&p.TenantID, &p.ID, &p.Code, &p.Name)
	})
	return tenants, programs, err
}
