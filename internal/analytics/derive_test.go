package analytics

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// derivedSnapshot renders every derived table's contents, merged by key, in a form that does
// not depend on how the rows were split (appended or rebuilt) nor on which numbers the
// participants got: sums, distinct counts and bitmap cardinalities per key, and the cohort
// bitmaps merged over all days too (a numbering that gave two participants one number
// would show there).
func derivedSnapshot(t *testing.T, db *DB) string {
	t.Helper()
	ctx := context.Background()
	agg := func(table, key string) string {
		return "SELECT " + key + ", sum(events), sum(value_sum), uniqExactMerge(participants) FROM impactflow." + table + " GROUP BY " + key + " ORDER BY " + key
	}
	cohort := func(table, key string) string {
		return "SELECT " + key + ", sum(events), sum(value_sum), groupBitmapMerge(participants) FROM impactflow." + table + " GROUP BY " + key + " ORDER BY " + key
	}
	queries := []string{
		"SELECT " + liveColumns + " FROM impactflow.events_live ORDER BY " + liveColumns,
		"SELECT tenant_id, event_id, version FROM impactflow.live_keys ORDER BY tenant_id, event_id",
		agg("agg_daily", "tenant_id, program_id, kind, period"),
		agg("agg_weekly", "tenant_id, program_id, kind, period"),
		agg("agg_monthly", "tenant_id, program_id, kind, period"),
		agg("bench_industry", "peer_group, tenant_id, kind, period"),
		agg("bench_region", "peer_group, tenant_id, kind, period"),
		agg("bench_size_band", "peer_group, tenant_id, kind, period"),
		cohort("cohort_daily", "tenant_id, dimension, value, kind, day"),
		cohort("cohort_monthly", "tenant_id, dimension, value, kind, day"),
		cohort("cohort_daily", "tenant_id, dimension, value, kind"),
		cohort("cohort_monthly", "tenant_id, dimension, value, kind"),
		"SELECT tenant_id, participant_id, entry_at, previous, t2, t3, t4 FROM impactflow.funnel_entries ORDER BY ALL",
		"SELECT tenant_id, participant_id, kind, occurred_at FROM impactflow.funnel_steps ORDER BY ALL",
		"SELECT tenant_id, count(), uniqExact(n), uniqExact(participant_id) FROM impactflow.participant_ids GROUP BY tenant_id ORDER BY tenant_id",
	}
	var b strings.Builder
	for _, q := range queries {
		out, err := db.chdb.run(ctx, q, "TabSeparated")
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		fmt.Fprintf(&b, "-- %s\n%s", q, out)
	}
	return b.String()
}

// checkMatchesRebuild fails when the derived tables differ from a full rebuild's.
func checkMatchesRebuild(t *testing.T, db *DB, step string) {
	t.Helper()
	got := derivedSnapshot(t, db)
	if err := db.RebuildDerived(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := derivedSnapshot(t, db); got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s: derived tables differ from a rebuild at line %d:\n got %s\nwant %s", step, i, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: derived tables differ from a rebuild: %d lines, want %d", step, len(gl), len(wl))
	}
}

func TestIncrementalUpdatesMatchRebuild(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	dims := []TenantDim{{ID: "a", Industry: "x", Region: "r", SizeBand: "s"}, {ID: "b", Industry: "x", Region: "q", SizeBand: "s"}}
	progs := []ProgramDim{{TenantID: "a", ID: 1, Code: "m"}, {TenantID: "b", ID: 1, Code: "n"}}
	if err := db.WriteDimensions(ctx, dims, progs, time.Now()); err != nil {
		t.Fatal(err)
	}
	update := func(step string, batch []Change, want string) {
		t.Helper()
		if len(batch) > 0 {
			if err := db.WriteChanges(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		how, err := db.updateDerived(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if how != want {
			t.Fatalf("%s: the derived tables were %s, want %s", step, how, want)
		}
		checkMatchesRebuild(t, db, step)
	}
	// Events over three months (day0 is 2 March), funnel steps included.
	first := []Change{
		ev("a", "1", "p1", "signup", 0, 0, 1),
		ev("a", "2", "p1", "session_started", 3, 0, 1),
		ev("a", "3", "p2", "volunteer_hours", 20, 4, 1),
		ev("a", "4", "p2", "signup", 35, 0, 1),
		ev("b", "1", "p1", "donation", 40, 25, 1),
		ev("b", "2", "p3", "signup", 61, 0, 1),
	}
	update("first sync", first, derivedRebuilt) // nothing built yet
	// New events: a new participant, more steps of p1's funnel (in a later month) and a new
	// signup of p2 between two of their events.
	second := []Change{
		ev("a", "5", "p1", "session_completed", 33, 0, 2),
		ev("a", "6", "p1", "outcome_measured", 62, 70, 2),
		ev("a", "7", "p4", "signup", 2, 0, 2),
		ev("a", "8", "p2", "signup", 10, 0, 2),
		ev("b", "3", "p3", "session_started", 64, 0, 2),
		ev("b", "4", "p5", "volunteer_hours", 1, 3, 2),
	}
	update("new events", second, derivedAppended)
	update("nothing new", nil, derivedUnchanged)
	update("a batch written again", second, derivedUnchanged)
	update("more new events", []Change{ev("a", "9", "p6", "signup", 15, 0, 3), ev("a", "10", "p6", "session_started", 16, 0, 3)}, derivedAppended)
	// More changes than an update appends: written again, they need nothing; one of them
	// new, everything is rebuilt.
	defer func(n uint64) { maxIncremental = n }(maxIncremental)
	maxIncremental = 2
	update("a large batch written again", second, derivedUnchanged)
	update("a large batch with a new event", append(second, ev("b", "7", "p8", "signup", 9, 0, 3)), derivedRebuilt)
	// An update moving an event to another month, and a delete.
	moved := ev("a", "3", "p2", "volunteer_hours", 50, 6, 4)
	del := ev("a", "5", "", "", 33, 0, 4)
	del.Deleted = true
	update("an update and a delete", []Change{moved, del}, derivedRebuilt)
	update("new events after a rebuild", []Change{ev("b", "5", "p7", "signup", 5, 0, 5)}, derivedAppended)
	// A program's code changes: every cohort row of it must follow.
	progs[1].Code = "n2"
	if err := db.WriteDimensions(ctx, dims, progs, time.Now()); err != nil {
		t.Fatal(err)
	}
	update("a dimension changed", []Change{ev("b", "6", "p7", "session_started", 6, 0, 6)}, derivedRebuilt)

	tr, err := db.Trends(ctx, TrendQuery{TenantID: "a", Metric: Metrics["volunteer_hours"], From: day0, To: day0.AddDate(0, 3, 0), Granularity: Month})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Total != 6 {
		t.Errorf("volunteer hours after the move = %v, want 6", tr.Total)
	}
}

// TestMigrateUpgradesOldDerivedTables checks that a store left by the version with
// refreshable views gets its derived tables replaced and rebuilt.
func TestMigrateUpgradesOldDerivedTables(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	for _, s := range []string{
		"DROP TABLE impactflow.agg_daily",
		"DROP TABLE impactflow.funnel_entries",
		`CREATE TABLE impactflow.agg_daily (tenant_id LowCardinality(String), program_id UInt64, kind LowCardinality(String), period Date,
			events UInt64, value_sum Float64, participants AggregateFunction(uniqExact, String)) ENGINE = MergeTree ORDER BY (tenant_id, kind, period, program_id)`,
		`CREATE TABLE impactflow.funnel_entries (tenant_id LowCardinality(String), entry_at DateTime64(6, 'UTC'), previous Int64, t2 Int64, t3 Int64, t4 Int64)
			ENGINE = MergeTree ORDER BY (tenant_id, entry_at)`,
		`CREATE MATERIALIZED VIEW impactflow.mv_agg_daily REFRESH EVERY 1 DAY TO impactflow.agg_daily AS
			SELECT tenant_id, program_id, kind, toDate(occurred_at) AS period, count() AS events, sum(value) AS value_sum,
			uniqExactState(participant_id) AS participants FROM impactflow.events_live GROUP BY tenant_id, program_id, kind, period`,
	} {
		if err := db.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.WriteChanges(ctx, []Change{ev("a", "1", "p1", "signup", 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var views uint64
	if err := db.Query(ctx, "SELECT toUInt64(count()) FROM system.tables WHERE database = 'impactflow' AND name = 'mv_agg_daily'",
		func(scan scanFunc) error { return scan(&views) }); err != nil {
		t.Fatal(err)
	}
	if s, err := db.staleDerived(ctx); err != nil || len(s) > 0 {
		t.Fatalf("stale derived tables after migrate: %v %v", s, err)
	}
	if views != 0 {
		t.Fatalf("the old refreshable view is still there")
	}
	how, err := db.updateDerived(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if how != derivedRebuilt {
		t.Fatalf("after an upgrade the derived tables were %s, want rebuilt", how)
	}
	var entries uint64
	if err := db.Query(ctx, "SELECT toUInt64(count()) FROM impactflow.funnel_entries WHERE participant_id = 'p1'",
		func(scan scanFunc) error { return scan(&entries) }); err != nil {
		t.Fatal(err)
	}
	if entries != 1 {
		t.Errorf("funnel entries of p1 after the upgrade = %d, want 1", entries)
	}
}
