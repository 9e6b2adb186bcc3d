package analytics

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkReadPaths compares the three ways to read exact figures despite unmerged
// duplicates, over 1,000,000 events of one tenant with 10% of them written twice:
// the refreshed aggregate view, events FINAL, and argMax by version. Run with
// go test -run '^$' -bench ReadPaths -benchtime 20x ./internal/analytics/
func BenchmarkReadPaths(b *testing.B) {
	ctx := context.Background()
	db := testDB
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if err := db.Reset(ctx); err != nil {
		b.Fatal(err)
	}
	const n, batch = 1_000_000, 100_000
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	kinds := []string{"signup", "session_started", "session_completed", "volunteer_hours", "outcome_measured", "donation"}
	start := time.Now()
	for lo := 0; lo < n; lo += batch {
		rows := make([]Change, 0, batch)
		for i := lo; i < lo+batch; i++ {
			rows = append(rows, Change{TenantID: "t", EventID: fmt.Sprintf("e%d", i), ProgramID: int64(i%5 + 1),
				ParticipantID: fmt.Sprintf("p%d", i%20000), Kind: kinds[i%6], OccurredAt: base.Add(time.Duration(i%365*24)*time.Hour + time.Duration(i%3600)*time.Second),
				Value: float64(i%100) / 4, Cohort: fmt.Sprintf("C%d", i%4), Attributes: "{}", UpdatedAt: base.Add(time.Duration(i) * time.Microsecond)})
		}
		if err := db.WriteChanges(ctx, rows); err != nil {
			b.Fatal(err)
		}
		if lo%(10*batch) == 0 { // a re-written batch
			if err := db.WriteChanges(ctx, rows); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("wrote %d events (+%d duplicates) in %s", n, batch, time.Since(start))
	start = time.Now()
	if err := db.RefreshViews(ctx, nil); err != nil {
		b.Fatal(err)
	}
	b.Logf("refreshed the views in %s", time.Since(start))

	from, to := base, base.AddDate(1, 0, 0)
	where := "tenant_id = 't' AND kind = 'volunteer_hours'"
	queries := map[string]string{
		"view": "SELECT toString(period), toFloat64(sum(value_sum)) FROM impactflow.trend_monthly WHERE " + where +
			" AND period >= " + dateLit(from) + " AND period < " + dateLit(to) + " GROUP BY period ORDER BY period",
		"final": "SELECT toString(toStartOfMonth(occurred_at)) AS p, sum(value) FROM impactflow.events FINAL WHERE " + where +
			" AND occurred_at >= " + timeLit(from) + " AND occurred_at < " + timeLit(to) + " GROUP BY p ORDER BY p",
		"argmax": "SELECT toString(toStartOfMonth(o)) AS p, sum(v) FROM (SELECT event_id, argMax(occurred_at, version) AS o, argMax(value, version) AS v, argMax(deleted, version) AS d" +
			" FROM impactflow.events WHERE " + where + " GROUP BY event_id) WHERE d = 0 AND o >= " + timeLit(from) + " AND o < " + timeLit(to) + " GROUP BY p ORDER BY p",
	}
	totals := map[string]float64{}
	for _, name := range []string{"view", "final", "argmax"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var sum float64
				if err := db.Query(ctx, queries[name], func(scan scanFunc) error {
					var p string
					var v float64
					err := scan(&p, &v)
					sum += v
					return err
				}); err != nil {
					b.Fatal(err)
				}
				totals[name] = sum
			}
		})
	}
	if totals["view"] != totals["final"] || totals["view"] != totals["argmax"] {
		b.Errorf("the read paths disagree: %v", totals)
	}
}
