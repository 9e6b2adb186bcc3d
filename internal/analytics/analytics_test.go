package analytics

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/impactflow/impactflow/migrations"
)

// testDB is the package's one chDB engine (libchdb allows one per process), in a temp dir.
var testDB *DB

func TestMain(m *testing.M) {
	os.Exit(func() int {
		lib := os.Getenv("CHDB_LIB_PATH")
		if lib == "" {
			home, _ := os.UserHomeDir()
			lib = filepath.Join(home, ".cache", "impactflow", "chdb", "libchdb.so")
		}
		// ANALYTICS_TEST_DIR keeps the store between runs, so that a benchmark can reuse
		// its loaded data (ANALYTICS_BENCH_REUSE).
		dir := os.Getenv("ANALYTICS_TEST_DIR")
		if dir == "" {
			var err error
			if dir, err = os.MkdirTemp("", "analytics-test-"); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
		}
		var err error
		if testDB, err = Open(context.Background(), Options{LibPath: lib, DataDir: dir}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer testDB.Close()
		return m.Run()
	}())
}

func fresh(t *testing.T) *DB {
	t.Helper()
	ctx := context.Background()
	if err := testDB.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := testDB.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if err := testDB.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	return testDB
}

// A start of a migrated store applies no file again, and each file is recorded once.
func TestMigrateRecordsEachFileOnce(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	files, err := migrations.ClickHouse()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, f.Name+" 1")
	}
	var got []string
	if err := db.Query(ctx, "SELECT name, toUInt64(count()) FROM "+schemaMigrations+" GROUP BY name ORDER BY name", func(scan scanFunc) error {
		var name string
		var n uint64
		err := scan(&name, &n)
		got = append(got, fmt.Sprintf("%s %d", name, n))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("applied files after three migrates = %v, want %v", got, want)
	}
}

var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday

func ev(tenant, id, participant, kind string, day int, value float64, ver int) Change {
	return Change{TenantID: tenant, EventID: id, ProgramID: 1, ParticipantID: participant, Kind: kind,
		OccurredAt: day0.AddDate(0, 0, day).Add(10 * time.Hour), Value: value, Cohort: "A", Location: "remote", Attributes: "{}",
		UpdatedAt: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(ver) * time.Second)}
}

func TestDuplicatesUpdatesAndDeletesLeaveExactAggregates(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	if err := db.WriteDimensions(ctx, []TenantDim{{ID: "a", Industry: "x", Region: "r", SizeBand: "s"}}, []ProgramDim{{TenantID: "a", ID: 1, Code: "m"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	batch := []Change{
		ev("a", "1", "p1", "volunteer_hours", 0, 2, 1),
		ev("a", "2", "p2", "volunteer_hours", 1, 3, 1),
		ev("a", "3", "p1", "volunteer_hours", 8, 5, 1),
	}
	for range 2 { // a batch written twice
		if err := db.WriteChanges(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	upd := ev("a", "2", "p2", "volunteer_hours", 1, 4, 2) // updated value
	del := ev("a", "3", "", "", 8, 0, 2)
	del.Deleted = true
	if err := db.WriteChanges(ctx, []Change{upd, del}); err != nil {
		t.Fatal(err)
	}
	if err := db.RefreshViews(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, g := range []Granularity{Day, Week, Month} {
		tr, err := db.Trends(ctx, TrendQuery{TenantID: "a", Metric: Metrics["volunteer_hours"], From: day0, To: day0.AddDate(0, 1, 0), Granularity: g})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Total != 6 {
			t.Errorf("%s: total = %v, want 6 (2 + updated 4, deleted 5 gone, duplicates once): %+v", g, tr.Total, tr)
		}
	}
	tr, err := db.Trends(ctx, TrendQuery{TenantID: "a", Metric: Metrics["participants"], From: day0, To: day0.AddDate(0, 0, 7), Granularity: Day, Cohort: "A"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Total != 2 || len(tr.Points) != 2 {
		t.Errorf("participants with cohort = %+v", tr)
	}
}

func TestFunnelCountsOrderedStepsWithinWindow(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	var rows []Change
	add := func(p, kind string, day int) {
		rows = append(rows, ev("a", fmt.Sprintf("%s-%s-%d", p, kind, day), p, kind, day, 1, 1))
	}
	add("p1", "signup", 0)
	add("p1", "session_started", 1)
	add("p1", "session_completed", 2)
	add("p2", "signup", 0)
	add("p2", "session_started", 20) // outside a 7-day window
	add("p3", "session_started", 0)  // never signed up
	add("p4", "signup", 3)
	add("p4", "session_completed", 4) // skipped a step
	// Written twice: the funnel reads deduplicated events.
	for range 2 {
		if err := db.WriteChanges(ctx, rows); err != nil {
			t.Fatal(err)
		}
	}
	// Funnels read the live events the sync refreshes after writing.
	if err := db.RefreshViews(ctx, nil); err != nil {
		t.Fatal(err)
	}
	steps, err := db.Funnel(ctx, FunnelQuery{TenantID: "a", Steps: []string{"signup", "session_started", "session_completed"},
		From: day0, To: day0.AddDate(0, 0, 30), Window: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{3, 1, 1}
	for i, s := range steps {
		if s.Participants != want[i] {
			t.Errorf("step %d %s = %d, want %d (%+v)", i, s.Step, s.Participants, want[i], steps)
		}
	}
	if steps[1].DropOff != 2 || math.Abs(steps[1].ConversionPct-33.33) > 0.01 {
		t.Errorf("step 1 = %+v", steps[1])
	}
}

func TestBenchmarksNeedFivePeers(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	var tenants []TenantDim
	var rows []Change
	for i := range 6 {
		id := fmt.Sprintf("t%d", i)
		region := "big"
		if i == 0 {
			region = "solo"
		}
		tenants = append(tenants, TenantDim{ID: id, Industry: "energy", Region: region, SizeBand: "s"})
		rows = append(rows, ev(id, "e", "p", "donation", 0, float64(10*(i+1)), 1))
	}
	if err := db.WriteDimensions(ctx, tenants, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteChanges(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := db.RefreshViews(ctx, nil); err != nil {
		t.Fatal(err)
	}
	bs, err := db.Benchmarks(ctx, BenchmarkQuery{TenantID: "t0", Metric: Metrics["donations"], From: day0.AddDate(0, -1, 0), To: day0.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	byDim := map[string]Benchmark{}
	for _, b := range bs {
		byDim[b.Dimension] = b
	}
	ind := byDim["industry"]
	if !ind.Available || ind.Peers != 5 || *ind.PeerMedian != 40 || *ind.Percentile != 0 || ind.Value != 10 {
		t.Errorf("industry = %+v", ind)
	}
	if reg := byDim["region"]; reg.Available || reg.PeerMedian != nil || reg.Peers != 0 {
		t.Errorf("region (no peers) = %+v", reg)
	}
}

// A refresh over millions of events takes minutes: RefreshViews calls back at every phase,
// however fast it runs, so that the sync's activity can heartbeat (its Finish test).
func TestRefreshViewsReportsEachPhase(t *testing.T) {
	db := fresh(t)
	calls := 0
	if err := db.RefreshViews(context.Background(), func() { calls++ }); err != nil {
		t.Fatal(err)
	}
	if calls < len(viewPhases) {
		t.Fatalf("waiting was called %d times over %d phases of refreshes", calls, len(viewPhases))
	}
}
