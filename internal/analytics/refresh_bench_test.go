package analytics

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// BenchmarkRefresh measures the sync's view refreshes over ANALYTICS_BENCH_EVENTS synthetic
// events (default 1,000,000; loadSynthetic): each view of viewPhases refreshed alone, in
// phase order (so each reads its sources as the sync leaves them), then RefreshViews whole.
// It reports each view's median seconds and the whole refresh's median. Load once and reuse:
//
//	ANALYTICS_TEST_DIR=/tmp/refresh/store ANALYTICS_BENCH_REUSE=1 ANALYTICS_BENCH_EVENTS=5000000 \
//	  go test -run '^$' -bench Refresh -benchtime 3x -timeout 60m ./internal/analytics/
func BenchmarkRefresh(b *testing.B) {
	ctx := context.Background()
	db := testDB
	loadBenchEvents(b, time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1))

	only := os.Getenv("ANALYTICS_BENCH_VIEWS") // comma-separated views to time alone; all when empty
	times := map[string][]time.Duration{}
	for b.Loop() {
		for _, phase := range viewPhases {
			for _, v := range phase {
				if only != "" && !strings.Contains(","+only+",", ","+v+",") {
					continue
				}
				t0 := time.Now()
				if err := db.refresh(ctx, []string{v}, nil); err != nil {
					b.Fatal(err)
				}
				times[v] = append(times[v], time.Since(t0))
			}
		}
		if only == "" {
			t0 := time.Now()
			if err := db.RefreshViews(ctx, nil); err != nil {
				b.Fatal(err)
			}
			times["all"] = append(times["all"], time.Since(t0))
		}
	}
	for v, ts := range times {
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		b.ReportMetric(ts[len(ts)/2].Seconds(), strings.TrimPrefix(v, "mv_")+"-s")
	}
}
