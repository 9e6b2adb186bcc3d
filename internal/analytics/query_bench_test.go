package analytics

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"
)

// BenchmarkQueries measures the four APIs' uncached queries (no Redis, no HTTP) over a
// fixed data set: ANALYTICS_BENCH_EVENTS events (default 1,000,000) of 10 tenants in 5
// industries, 2 regions and 2 size bands, 20,000 participants and 3 programs per tenant,
// six event kinds over a year, 5% of the events written twice. Each sub-benchmark reports
// the median and p95 of its queries, which vary the tenant, metric and period.
//
//	go test -run '^$' -bench Queries -benchtime 200x -count 3 ./internal/analytics/
func BenchmarkQueries(b *testing.B) {
	ctx := context.Background()
	db := testDB
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if err := db.Reset(ctx); err != nil {
		b.Fatal(err)
	}
	n := envInt("ANALYTICS_BENCH_EVENTS", 1_000_000)
	const tenants, batch = 10, 100_000
	var dims []TenantDim
	var progs []ProgramDim
	for t := range tenants {
		id := fmt.Sprintf("t%d", t)
		dims = append(dims, TenantDim{ID: id, Industry: fmt.Sprintf("i%d", t%5), Region: fmt.Sprintf("r%d", t%2), SizeBand: fmt.Sprintf("s%d", t%2)})
		for p := 1; p <= 3; p++ {
			progs = append(progs, ProgramDim{TenantID: id, ID: int64(t*10 + p), Code: fmt.Sprintf("p%d", p)})
		}
	}
	if err := db.WriteDimensions(ctx, dims, progs, time.Now()); err != nil {
		b.Fatal(err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	kinds := []string{"signup", "session_started", "session_completed", "volunteer_hours", "outcome_measured", "donation"}
	for lo := 0; lo < n; lo += batch {
		rows := make([]Change, 0, batch)
		for i := lo; i < lo+batch && i < n; i++ {
			t := i % tenants
			p := (i / tenants) % 20000
			// A participant's events follow the funnel's order in time.
			rows = append(rows, Change{TenantID: fmt.Sprintf("t%d", t), EventID: fmt.Sprintf("e%d", i), ProgramID: int64(t*10 + p%3 + 1),
				ParticipantID: fmt.Sprintf("p%d", p), Kind: kinds[(i/(tenants*20000))%6],
				OccurredAt: base.Add(time.Duration(p%300)*24*time.Hour + time.Duration(i/(tenants*20000))*36*time.Hour + time.Duration(i%3600)*time.Second),
				Value:      float64(i%100) / 4, Location: fmt.Sprintf("city%d", p%7), Cohort: fmt.Sprintf("C%d", p%4), Attributes: "{}",
				UpdatedAt: base.Add(time.Duration(i) * time.Microsecond)})
		}
		if err := db.WriteChanges(ctx, rows); err != nil {
			b.Fatal(err)
		}
		if lo%(20*batch) == 0 {
			if err := db.WriteChanges(ctx, rows[:batch/2]); err != nil {
				b.Fatal(err)
			}
		}
	}
	start := time.Now()
	if err := db.RefreshViews(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d events, views refreshed in %s", n, time.Since(start))
	// Measure the steady state: background merges of the fresh inserts finished.
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		var merging uint64
		if err := db.Query(ctx, "SELECT toUInt64(count()) FROM system.merges", func(scan scanFunc) error { return scan(&merging) }); err != nil {
			b.Fatal(err)
		}
		if merging == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	metrics := []string{"participants", "sessions", "volunteer_hours", "donations", "avg_outcome_score"}
	month := func(k int) (time.Time, time.Time) {
		from := base.AddDate(0, k%9, 0)
		return from, from.AddDate(0, 3, 0)
	}
	cases := []struct {
		name string
		run  func(k int) error
	}{
		{"trends", func(k int) error {
			from, to := month(k)
			_, err := db.Trends(ctx, TrendQuery{TenantID: fmt.Sprintf("t%d", k%tenants), Metric: Metrics[metrics[k%5]], From: from, To: to,
				Granularity: []Granularity{Day, Week, Month}[k%3]})
			return err
		}},
		{"trends_cohort", func(k int) error {
			from, to := month(k)
			_, err := db.Trends(ctx, TrendQuery{TenantID: fmt.Sprintf("t%d", k%tenants), Metric: Metrics[metrics[k%5]], From: from, To: to,
				Granularity: Week, Cohort: fmt.Sprintf("C%d", k%4)})
			return err
		}},
		{"cohorts", func(k int) error {
			from, to := month(k)
			_, err := db.Cohorts(ctx, CohortQuery{TenantID: fmt.Sprintf("t%d", k%tenants), Dimension: []CohortDimension{ByProgram, ByLocation, ByCohort}[k%3],
				Cohorts: [][]string{{"p1", "p2", "p3"}, {"city0", "city1", "city2", "city3"}, {"C0", "C1", "C2"}}[k%3],
				Metrics: []Metric{Metrics["participants"], Metrics["sessions"], Metrics["volunteer_hours"]}, From: from, To: to})
			return err
		}},
		{"funnels", func(k int) error {
			from, to := month(k)
			_, err := db.Funnel(ctx, FunnelQuery{TenantID: fmt.Sprintf("t%d", k%tenants), Steps: []string{"signup", "session_started", "session_completed", "outcome_measured"},
				From: from, To: to, Window: 30 * 24 * time.Hour})
			return err
		}},
		{"benchmarks", func(k int) error {
			from, to := month(k)
			_, err := db.Benchmarks(ctx, BenchmarkQuery{TenantID: fmt.Sprintf("t%d", k%tenants), Metric: Metrics[metrics[k%5]], From: from, To: to})
			return err
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var lat []time.Duration
			k := 0
			for b.Loop() {
				t0 := time.Now()
				if err := c.run(k); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				if os.Getenv("ANALYTICS_BENCH_SLOW") != "" && time.Since(t0) > 30*time.Millisecond {
					b.Logf("slow %s k=%d metric=%s: %s", c.name, k, metrics[k%5], time.Since(t0))
				}
				k++
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[(len(lat)*95)/100].Microseconds())/1000, "p95-ms")
		})
	}
}
