package analytics

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/impactflow/impactflow/migrations"
)

// pgSource makes a Postgres database of its own (dropped at the end) with the migrations
// applied, a tenant "bench" and one program, whose ID it returns.
func pgSource(tb testing.TB, suffix string) (Source, int64) {
	tb.Helper()
	ctx := context.Background()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	name := fmt.Sprintf("impactflow_test_analytics_%s_%d", suffix, os.Getpid())
	url := strings.Replace(base, "/postgres?", "/"+name+"?", 1)
	drop := func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	drop()
	if err := migrations.Postgres(ctx, url); err != nil {
		tb.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pool.Close(); drop() })
	var program int64
	err = pool.QueryRow(ctx, `WITH t AS (INSERT INTO tenants (id, name, industry, region, size_band) VALUES ('bench', 'Bench', 'education', 'eu', 'small'))
		INSERT INTO programs (tenant_id, code, name) VALUES ('bench', 'p1', 'P1') RETURNING id`).Scan(&program)
	if err != nil {
		tb.Fatal(err)
	}
	return Source{Pool: pool}, program
}

// copyAll runs the sync's copy loop over the whole range, checkpointing the watermark after
// every batch as the activity does, and returns the rows copied.
func copyAll(ctx context.Context, tb testing.TB, db *DB, src Source, r Range, limit int) int64 {
	tb.Helper()
	var after Cursor
	var rows int64
	for done := false; !done; {
		var err error
		done, err = db.CopyBatches(ctx, src, r, after, limit, 10, func(_ int, b *Batch) error {
			if b.Rows == 0 {
				return nil
			}
			rows += b.Rows
			after = b.Last
			if r.Backfill {
				return nil
			}
			return db.SetWatermark(ctx, b.Last)
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return rows
}

// TestCopyBatchesCarryRowsExactly: the COPY text path writes exactly what Postgres holds,
// awkward text included, turns deletes into tombstones, resumes from its cursor between
// batches, and a backfill of a time range reads only that range.
func TestCopyBatchesCarryRowsExactly(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	src, program := pgSource(t, "copy")
	odd := "e\t\\'\"\nx é"
	_, err := src.Pool.Exec(ctx, `
		INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value, attributes, updated_at)
		SELECT 'bench', 'e' || lpad(i::text, 3, '0'), $1, 'p' || (i % 7), 'volunteer_hours',
		       timestamptz '2026-03-02 10:00:00.123456+00' + i * interval '1 day', i * 1.25,
		       jsonb_build_object('cohort', 'C' || (i % 2), 'location', 'a\tb'), timestamptz '2026-04-01' + i * interval '1 microsecond'
		FROM generate_series(1, 25) i`, program)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Pool.Exec(ctx, `INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value, attributes, updated_at)
		VALUES ('bench', $1, $2, $3, 'donation', '2026-03-05 01:02:03.000001+00', 7.5, $4, '2026-04-01 00:00:00.000003+00')`,
		odd, program, odd, `{"note": "tab\there \\ back"}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Pool.Exec(ctx, `DELETE FROM impact_events WHERE event_id IN ('e003', 'e010')`); err != nil {
		t.Fatal(err)
	}
	horizon, err := src.Horizon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Batches of 4 rows: the cursor crosses equal updated_at values and the tombstones.
	if n := copyAll(ctx, t, db, src, Range{Horizon: horizon}, 4); n != 26 {
		t.Fatalf("copied %d rows, want 24 live and 2 tombstones", n)
	}
	dump := func(sql string) string {
		var out []string
		if err := db.Query(ctx, sql, func(scan scanFunc) error {
			var s string
			err := scan(&s)
			out = append(out, s)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, "\n")
	}
	got := dump(`SELECT concat(event_id, '|', toString(program_id), '|', participant_id, '|', kind, '|', toString(occurred_at), '|',
		toString(value), '|', location, '|', cohort, '|', attributes, '|', toString(updated_at)) FROM impactflow.events FINAL ORDER BY event_id`)
	var want []string
	rows, err := src.Pool.Query(ctx, `SELECT event_id || '|' || program_id || '|' || participant_id || '|' || kind || '|' ||
		to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '|' || value::float8 || '|' ||
		coalesce(attributes->>'location', '') || '|' || coalesce(attributes->>'cohort', '') || '|' || attributes::text || '|' ||
		to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM impact_events ORDER BY event_id COLLATE "C"`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		want = append(want, s)
	}
	if got != strings.Join(want, "\n") {
		t.Fatalf("ClickHouse holds\n%s\nPostgres holds\n%s", got, strings.Join(want, "\n"))
	}
	wm, err := db.Watermark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	if err := src.Pool.QueryRow(ctx, `SELECT max(updated_at) FROM impact_event_tombstones`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if !wm.UpdatedAt.Equal(last) {
		t.Fatalf("watermark %v, want the newest tombstone's %v", wm.UpdatedAt, last)
	}

	// A backfill of a week of the tenant's events.
	if err := db.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)
	n := copyAll(ctx, t, db, src, Range{Backfill: true, TenantID: "bench", From: &from, To: &to}, 3)
	var wantN int64
	if err := src.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM impact_events WHERE occurred_at >= $1 AND occurred_at < $2)
		+ (SELECT count(*) FROM impact_event_tombstones WHERE occurred_at >= $1 AND occurred_at < $2)`, from, to).Scan(&wantN); err != nil {
		t.Fatal(err)
	}
	if n != wantN || wantN == 0 {
		t.Fatalf("backfill copied %d rows, want %d", n, wantN)
	}
}

// BenchmarkSyncPath measures the sync's copy path end to end, Postgres to chDB, on
// ANALYTICS_BENCH_ROWS events (default 1,000,000, 1% of them deleted, so tombstones too) in
// batches of ANALYTICS_BENCH_BATCH (default the workflow's 100,000): each iteration empties
// ClickHouse and copies everything, checkpointing the watermark after every batch.
//
//	go test -run '^$' -bench SyncPath/copy -benchtime 1x -count 5 ./internal/analytics/
//
// SyncPath/rows (with ANALYTICS_BENCH_ROWPATH=1) measures the row path the sync used before.
func BenchmarkSyncPath(b *testing.B) {
	ctx := context.Background()
	n, batch := envInt("ANALYTICS_BENCH_ROWS", 1_000_000), envInt("ANALYTICS_BENCH_BATCH", 100_000)
	db := testDB
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	src, program := pgSource(b, "sync")
	_, err := src.Pool.Exec(ctx, `
		INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value, attributes, updated_at)
		SELECT 'bench', 'e' || lpad(i::text, 8, '0'), $1, 'p' || (i % 20000),
		  (ARRAY['signup','session_started','session_completed','volunteer_hours','outcome_measured','donation'])[i % 6 + 1],
		  timestamptz '2025-06-01' + (i % 365) * interval '1 day' + (i % 3600) * interval '1 second', (i % 100) / 4.0,
		  jsonb_build_object('cohort', 'C' || (i % 4), 'location', 'city' || (i % 7)),
		  timestamptz '2026-01-01' + i * interval '1 millisecond'
		FROM generate_series(1, $2::int) i`, program, n)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := src.Pool.Exec(ctx, `DELETE FROM impact_events WHERE event_id LIKE '%00'`); err != nil {
		b.Fatal(err)
	}
	if _, err := src.Pool.Exec(ctx, `VACUUM ANALYZE impact_events`); err != nil {
		b.Fatal(err)
	}
	horizon, err := src.Horizon(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("copy", func(b *testing.B) {
		var copied int64
		for b.Loop() {
			b.StopTimer()
			if err := db.Reset(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			copied = copyAll(ctx, b, db, src, Range{Horizon: horizon}, batch)
		}
		b.StopTimer()
		checkCopied(ctx, b, db, copied, n)
		b.ReportMetric(float64(copied)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	// The path before COPY, for comparison: keyset reads scanned into Changes, written as
	// JSON rows (the server backend's read path, chDB's generic insert).
	b.Run("rows", func(b *testing.B) {
		if os.Getenv("ANALYTICS_BENCH_ROWPATH") == "" {
			b.Skip("set ANALYTICS_BENCH_ROWPATH=1 to measure the old row path")
		}
		var copied int64
		for b.Loop() {
			b.StopTimer()
			if err := db.Reset(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			copied = 0
			var after Cursor
			for {
				changes, err := src.Changes(ctx, after, horizon, batch)
				if err != nil {
					b.Fatal(err)
				}
				if err := db.WriteChanges(ctx, changes); err != nil {
					b.Fatal(err)
				}
				copied += int64(len(changes))
				if len(changes) < batch {
					break
				}
				after = CursorOf(changes[len(changes)-1])
				if err := db.SetWatermark(ctx, after); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		checkCopied(ctx, b, db, copied, n)
		b.ReportMetric(float64(copied)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

func checkCopied(ctx context.Context, b *testing.B, db *DB, copied int64, n int) {
	b.Helper()
	if copied != int64(n) {
		b.Fatalf("copied %d rows, want %d", copied, n)
	}
	var live uint64
	if err := db.Query(ctx, "SELECT count() FROM impactflow.events FINAL", func(scan scanFunc) error { return scan(&live) }); err != nil {
		b.Fatal(err)
	}
	if live != uint64(n-n/100) {
		b.Fatalf("ClickHouse holds %d live events, want %d", live, n-n/100)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
