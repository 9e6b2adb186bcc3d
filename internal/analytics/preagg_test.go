package analytics

import (
	"context"
	"math"
	"testing"
	"time"
)

// TestPreaggregatesMatchLiveEvents checks that the cohort and funnel queries over the
// pre-aggregates (cohort_daily, funnel_entries) give the answers of the queries over
// the live events they replaced, on synthetic data with re-synced, updated and deleted rows
// and a few hand-made edge cases.
func TestPreaggregatesMatchLiveEvents(t *testing.T) {
	ctx := context.Background()
	db := testDB
	end := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	loadSynthetic(t, db, 120_000, 3, end)

	at := func(day int, h time.Duration) time.Time { return end.AddDate(0, 0, -day).Add(h) }
	v1 := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	e := func(id, p, kind string, occurred time.Time, program int64, updated time.Time) Change {
		return Change{TenantID: "t0", EventID: id, ProgramID: program, ParticipantID: p, Kind: kind, OccurredAt: occurred,
			Value: 2.5, Location: "city1", Cohort: "C1", Attributes: "{}", UpdatedAt: updated}
	}
	edge := []Change{
		// x1: a step at the entry's very time, one before the entry, one past a 60-day window.
		e("x1a", "x1", "signup", at(100, 0), 1, v1),
		e("x1b", "x1", "session_started", at(100, 0), 1, v1),
		e("x1c", "x1", "session_completed", at(101, 0), 1, v1),
		e("x1d", "x1", "session_completed", at(39, time.Microsecond), 1, v1),
		e("x1e", "x1", "outcome_measured", at(50, 0), 1, v1),
		// x2: the first signup is deleted and another moved by an update.
		e("x2a", "x2", "signup", at(90, 0), 2, v1),
		e("x2b", "x2", "signup", at(80, 0), 2, v1),
		e("x2c", "x2", "session_started", at(85, 0), 2, v1),
		e("x2d", "x2", "session_started", at(70, 0), 2, v1),
		// x4: signs up twice, 100 days apart, and twice at one time
		e("x4a", "x4", "signup", at(120, 0), 1, v1),
		e("x4b", "x4", "signup", at(20, 0), 1, v1),
		e("x4c", "x4", "signup", at(20, 0), 1, v1),
		e("x4d", "x4", "session_started", at(19, 0), 1, v1),
		e("x4e", "x4", "session_completed", at(110, 0), 1, v1),
		// an event of a program the programs table does not know
		e("x3a", "x3", "signup", at(60, 0), 99, v1),
		e("x3b", "x3", "volunteer_hours", at(60, 0), 99, v1),
	}
	del := e("x2a", "x2", "signup", at(90, 0), 2, v1.Add(time.Second))
	del.Deleted = true
	moved := e("x2b", "x2", "signup", at(75, 0), 2, v1.Add(time.Second))
	for _, batch := range [][]Change{edge, edge, {del, moved}} {
		if err := db.WriteChanges(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RefreshViews(ctx, nil); err != nil {
		t.Fatal(err)
	}

	var all []Metric
	for _, n := range MetricNames() {
		all = append(all, Metrics[n])
	}
	periods := [][2]time.Time{
		{end.AddDate(0, 0, -30), end},
		{end.AddDate(0, 0, -100), end.AddDate(0, 0, -40)},
		{end.AddDate(-1, 0, 0), end.AddDate(0, 0, 5)},
		{end.AddDate(-2, 0, 0), end.AddDate(0, 0, -360)},
		{end.AddDate(0, 0, -115), end.AddDate(0, 0, -15)},
		{end.AddDate(0, 0, -47), end.AddDate(0, 0, -9)},
		{end.AddDate(0, 0, -200), end.AddDate(0, 0, -3)},
		{end.AddDate(0, 0, -12), end.AddDate(0, 0, -2)},
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	cohorts := map[CohortDimension][]string{
		ByProgram:  synthProgramCodes,
		ByLocation: {"city0", "city1", "city6", "nowhere"},
		ByCohort:   {"C0", "C1", "C2", "C3"},
	}
	checked := 0
	for _, tenant := range []string{"t0", "t1"} {
		for _, p := range periods {
			for dim, names := range cohorts {
				q := CohortQuery{TenantID: tenant, Dimension: dim, Cohorts: names, Metrics: all, From: p[0], To: p[1]}
				got, err := db.Cohorts(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				want, err := db.cohortsFromEvents(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					for m, w := range want[i].Metrics {
						if g := got[i].Metrics[m]; !near(g, w) {
							t.Errorf("%s %s %s..%s %s %s = %v, events say %v", tenant, dim, p[0].Format(time.DateOnly), p[1].Format(time.DateOnly), want[i].Cohort, m, g, w)
						}
						if w != 0 {
							checked++
						}
					}
				}
			}
			for _, f := range []FunnelQuery{
				{Steps: []string{"signup", "session_started", "session_completed", "outcome_measured"}, Window: 60 * 24 * time.Hour},
				{Steps: []string{"signup", "session_started", "session_completed", "outcome_measured"}, Window: 24 * time.Hour},
				{Steps: []string{"session_completed", "session_started", "donation"}, Window: 7 * 24 * time.Hour},
				{Steps: []string{"signup", "session_started"}, Window: 366 * 24 * time.Hour},
				{Steps: []string{"signup", "session_started", "session_completed"}, Window: 7*24*time.Hour + time.Microsecond},
			} {
				f.TenantID, f.From, f.To = tenant, p[0].Add(7*time.Hour), p[1].Add(-time.Microsecond) // not only whole days
				got, err := db.Funnel(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				want, err := db.funnelFromEvents(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Errorf("%s funnel %v window %s from %s: step %d = %+v, events say %+v", tenant, f.Steps, f.Window, f.From, i, got[i], want[i])
					}
					if want[i].Participants != 0 {
						checked++
					}
				}
			}
		}
	}
	for _, tenant := range []string{"t0", "t1", "t2"} {
		for _, p := range periods {
			q := BenchmarkQuery{TenantID: tenant, Metric: Metrics["participants"], From: p[0], To: p[1]}
			q.From, q.To = Month.Align(q.From, q.To)
			got, err := db.Benchmarks(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			db.benchFromStates = true
			want, err := db.Benchmarks(ctx, q)
			db.benchFromStates = false
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				// Three tenants are too few peers for medians: each tenant's own value is compared.
				if got[i].Value != want[i].Value || got[i].Peers != want[i].Peers || got[i].Available != want[i].Available {
					t.Errorf("%s benchmark %s from %s = %+v, the bench views say %+v", tenant, want[i].Dimension, q.From, got[i], want[i])
				}
				if want[i].Value != 0 {
					checked++
				}
			}
		}
	}
	if !Metrics["participants"].countsParticipants() || Metrics["sessions"].countsParticipants() {
		t.Error("countsParticipants is wrong: a metric counting one kind's participants would read cohort_daily's empty bitmaps")
	}
	if checked < 100 {
		t.Errorf("only %d non-zero figures compared: the data set misses the periods", checked)
	}
}

func TestCohortSpansTileThePeriod(t *testing.T) {
	base := time.Date(2025, 12, 20, 0, 0, 0, 0, time.UTC)
	for a := 0; a < 40; a++ {
		for n := 1; n < 120; n += 3 {
			from := base.AddDate(0, 0, a)
			to := from.AddDate(0, 0, n)
			at := from
			for _, sp := range cohortSpans(from, to) {
				ok := sp.from.Equal(at) && sp.from.Before(sp.to)
				switch sp.table {
				case "impactflow.cohort_monthly":
					ok = ok && sp.from.Day() == 1 && sp.to.Day() == 1
				}
				if !ok {
					t.Fatalf("%s..%s: bad span %+v in %+v", from.Format(time.DateOnly), to.Format(time.DateOnly), sp, cohortSpans(from, to))
				}
				at = sp.to
			}
			if !at.Equal(to) {
				t.Fatalf("%s..%s: spans end at %s", from.Format(time.DateOnly), to.Format(time.DateOnly), at)
			}
		}
	}
}
