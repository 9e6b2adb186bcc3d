package analytics

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkDerived measures bringing the derived tables up to date over
// ANALYTICS_BENCH_EVENTS synthetic events (default 1,000,000) of 4 tenants: a full rebuild,
// comparing live_keys with events (all a backfill of events already synced costs), and a
// sync's worth of new events (5,000, spread over the past year as the lag benchmark's
// writer spreads them) appended. It reports the process's peak and current resident memory
// (chDB's included) after the runs.
//
//	ANALYTICS_BENCH_EVENTS=5000000 go test -run '^$' -bench Derived -benchtime 3x -timeout 30m ./internal/analytics/
func BenchmarkDerived(b *testing.B) {
	ctx := context.Background()
	db := testDB
	n := envInt("ANALYTICS_BENCH_EVENTS", 1_000_000)
	loadSynthetic(b, db, n, 4, time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1))
	b.Run("rebuild", func(b *testing.B) {
		for b.Loop() {
			if err := db.RebuildDerived(ctx); err != nil {
				b.Fatal(err)
			}
		}
		reportMemory(b)
	})
	// What a backfill that wrote again every event the tables hold costs.
	b.Run("compare-live-keys", func(b *testing.B) {
		for b.Loop() {
			same, err := db.liveKeysMatch(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !same {
				b.Fatal("live_keys differ from events after a rebuild")
			}
		}
		reportMemory(b)
	})
	b.Run("append-5000", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			writeNewEvents(b, db, 5000)
			b.StartTimer()
			how, err := db.updateDerived(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if how != derivedAppended {
				b.Fatalf("derived tables %s, want appended", how)
			}
		}
		reportMemory(b)
	})
}

// writeNewEvents writes n events with new IDs for the synthetic tenants' participants, at
// times spread over the past year.
func writeNewEvents(tb testing.TB, db *DB, n int) {
	tb.Helper()
	sql := fmt.Sprintf(`INSERT INTO impactflow.events (%s)
		SELECT 't' || toString(number %% 4), 'new-' || toString(now64(6)) || '-' || toString(number), 1 + number %% 3,
		       'p' || toString(cityHash64(number, now64(6)) %% 70000),
		       ['signup', 'session_started', 'session_completed', 'outcome_measured', 'volunteer_hours', 'donation'][1 + number %% 6],
		       now64(6) - toIntervalSecond(cityHash64(number, 1) %% (365 * 86400)), number %% 10, 'city1', 'C1', '{}',
		       now64(6), toUInt64(toUnixTimestamp64Micro(now64(6))), 0
		FROM numbers(%d)`, strings.Join(eventColumns, ", "), n)
	if err := db.Exec(context.Background(), sql); err != nil {
		tb.Fatal(err)
	}
}

// reportMemory reports VmHWM and VmRSS of /proc/self/status in MB.
func reportMemory(b *testing.B) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && (f[0] == "VmHWM:" || f[0] == "VmRSS:") {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				b.ReportMetric(kb/1024, strings.TrimSuffix(f[0], ":")+"-MB")
			}
		}
	}
}
