package imports

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/testsuite"

	"github.com/impactflow/impactflow/internal/demo"
	"github.com/impactflow/impactflow/internal/ingest"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/migrations"
)

const testTenant = "imp-test"

var testPrograms = []string{"mentoring", "volunteering", "scholarships"}

// testDB migrates a database of its own for the test and drops it afterwards; keep names a
// database to use as it is and keep, for benchmarks that fill a big table once.
func testDB(tb testing.TB, keep string) (*store.Store, string) {
	tb.Helper()
	ctx := context.Background()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	name := keep
	if name == "" {
		name = fmt.Sprintf("impactflow_test_imports_%d_%s", os.Getpid(), strings.ToLower(strings.NewReplacer("/", "_", "=", "_").Replace(tb.Name())))
	}
	url := strings.Replace(base, "/postgres?", "/"+name+"?", 1)
	if err := migrations.Postgres(ctx, url); err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		st.Close()
		if keep != "" {
			return
		}
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`)
	})
	if err := st.UpsertTenant(ctx, store.Tenant{ID: testTenant, Name: "Imp", Industry: "x", Region: "eu", SizeBand: "s", Timezone: "UTC", DefaultLocale: "en"}); err != nil {
		tb.Fatal(err)
	}
	var ps []store.Program
	for _, code := range testPrograms {
		ps = append(ps, store.Program{TenantID: testTenant, Code: code, Name: code})
	}
	if err := st.UpsertPrograms(ctx, ps); err != nil {
		tb.Fatal(err)
	}
	return st, url
}

// stage stages body as an events upload under jobID.
func stage(tb testing.TB, st *store.Store, jobID string, body []byte) store.Upload {
	tb.Helper()
	return stageChunks(tb, st, jobID, body, ingest.ChunkRows)
}

func stageChunks(tb testing.TB, st *store.Store, jobID string, body []byte, chunkRows int) store.Upload {
	tb.Helper()
	up, err := st.StageUpload(context.Background(), jobID, testTenant, ingest.TargetEvents, ingest.NewSplitter(bytes.NewReader(body), chunkRows))
	if err != nil {
		tb.Fatal(err)
	}
	return up
}

// importAll runs ImportChunks over the whole upload, as ImportWorkflow does.
func importAll(tb testing.TB, a *Activities, up store.Upload) ImportChunksResult {
	tb.Helper()
	var s testsuite.WorkflowTestSuite
	var total ImportChunksResult
	for first := 0; first < up.Chunks; first += 10 {
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(a)
		v, err := env.ExecuteActivity(a.ImportChunks, ImportChunksInput{JobID: up.JobID, TenantID: testTenant,
			Target: ingest.TargetEvents, FirstChunk: first, EndChunk: min(first+10, up.Chunks)})
		if err != nil {
			tb.Fatal(err)
		}
		var res ImportChunksResult
		if err := v.Get(&res); err != nil {
			tb.Fatal(err)
		}
		total.Add(res.ChunkResult, MaxRejections)
		total.ResumedChunks += res.ResumedChunks
	}
	return total
}

func eventLine(id, program, kind, value string) string {
	return `{"event_id":"` + id + `","program":"` + program + `","participant":"p-1","kind":"` + kind +
		`","occurred_at":"2026-03-01T10:00:00Z","value":` + value + `,"attributes":{"cohort":"2026-03"}}` + "\n"
}

// TestImportChunksCountsEveryRowOnce imports across several chunks, with a key repeated in
// a later chunk, then runs the import again (a retried activity) and imports a second file
// that repeats, changes and adds rows: every row is counted once, as what it was.
func TestImportChunksCountsEveryRowOnce(t *testing.T) {
	st, _ := testDB(t, "")
	ctx := context.Background()
	a := &Activities{Store: st}

	first := eventLine("e1", "mentoring", "signup", "1") + eventLine("e2", "mentoring", "signup", "2") +
		eventLine("e3", "golf", "signup", "3") + eventLine("e4", "volunteering", "napping", "4") +
		eventLine("e5", "volunteering", "donation", "5") + eventLine("e1", "scholarships", "donation", "6.5")
	up := stageChunks(t, st, "import-first", []byte(first), 2)
	if up.Chunks != 3 {
		t.Fatalf("chunks = %d, want 3", up.Chunks)
	}
	want := ImportChunksResult{ChunkResult: store.ChunkResult{Rows: 6, Inserted: 3, Updated: 1, Rejected: 2}}
	got := importAll(t, a, up)
	got.Rejections = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("first import = %+v, want %+v", got, want)
	}
	// e1 is inserted by chunk 0 and rewritten by chunk 2: the later line wins.
	var program, value string
	if err := st.Pool().QueryRow(ctx, `SELECT p.code, e.value::text FROM impact_events e JOIN programs p ON p.id = e.program_id
		WHERE e.tenant_id = $1 AND e.event_id = 'e1'`, testTenant).Scan(&program, &value); err != nil {
		t.Fatal(err)
	}
	if program != "scholarships" || value != "6.5000" {
		t.Errorf("e1 = %s %s, want the file's last line (scholarships 6.5000)", program, value)
	}

	again := importAll(t, a, up)
	again.Rejections = nil
	want.ResumedChunks = 3
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("retried import = %+v, want %+v", again, want)
	}

	second := eventLine("e1", "scholarships", "donation", "6.5") + eventLine("e2", "mentoring", "signup", "2.5") +
		eventLine("e6", "mentoring", "signup", "6")
	got = importAll(t, a, stageChunks(t, st, "import-second", []byte(second), 2))
	got.Rejections = nil
	want = ImportChunksResult{ChunkResult: store.ChunkResult{Rows: 3, Inserted: 1, Updated: 1, Unchanged: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("second import = %+v, want %+v", got, want)
	}
	var n int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM impact_events WHERE tenant_id = $1`, testTenant).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("impact_events holds %d rows, want 4 (e1, e2, e5, e6)", n)
	}
}

func synthetic(tb testing.TB, n int, seed int64) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := demo.WriteSyntheticEvents(&buf, testPrograms, []string{"p-1", "p-2", "p-3"}, n, seed, time.Now().UTC()); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkImportChunks imports 200,000 synthetic events per op into impact_events holding
// `existing` rows already, and reports events/s with the CPU seconds per event of this
// process and of the Postgres backends serving its database (on a shared machine, CPU per
// event is steadier than wall time). IMPORT_BENCH_DB names a database to fill once and
// keep between runs; the table only grows, so run the sizes in increasing order.
func BenchmarkImportChunks(b *testing.B) {
	for _, existing := range []int{0, 2_000_000, 5_000_000} {
		b.Run(fmt.Sprintf("existing=%d", existing), func(b *testing.B) {
			keep := os.Getenv("IMPORT_BENCH_DB")
			st, url := testDB(b, keep)
			ctx := context.Background()
			var have int
			if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM impact_events`).Scan(&have); err != nil {
				b.Fatal(err)
			}
			if keep != "" && have > existing+2_000_000 {
				b.Skipf("%s holds %d rows already", keep, have)
			}
			if have < existing {
				// Rows shaped like the synthetic ones, spread over the same two years.
				_, err := st.Pool().Exec(ctx, `
					INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value, attributes)
					SELECT $1, 'evt-pre-' || md5(random()::text) || '-' || i, (SELECT min(id) FROM programs), 'p-' || (i % 50), 'signup',
						now() - (random() * interval '700 days'), 12.5, '{"location":"Lyon","cohort":"2025-01"}'
					FROM generate_series(1, $2::int) i`, testTenant, existing-have)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := st.Pool().Exec(ctx, `VACUUM ANALYZE impact_events`); err != nil {
					b.Fatal(err)
				}
			}
			dbName := strings.TrimPrefix(url[strings.LastIndex(url[:strings.Index(url, "?")], "/"):strings.Index(url, "?")], "/")
			a := &Activities{Store: st}
			const rows = 200_000
			var elapsed time.Duration
			var goCPU, pgCPU, stageGoCPU, stagePgCPU time.Duration
			for b.Loop() {
				b.StopTimer()
				body := synthetic(b, rows, time.Now().UnixNano())
				g0, p0 := processCPU(), backendCPU(b, dbName)
				up := stage(b, st, jobs.NewID(jobs.KindImport), body)
				stageGoCPU += processCPU() - g0
				stagePgCPU += backendCPU(b, dbName) - p0
				b.StartTimer()
				g0, p0 = processCPU(), backendCPU(b, dbName)
				t0 := time.Now()
				res := importAll(b, a, up)
				elapsed += time.Since(t0)
				goCPU += processCPU() - g0
				pgCPU += backendCPU(b, dbName) - p0
				if res.Inserted != rows {
					b.Fatalf("result = %+v, want %d inserted", res, rows)
				}
			}
			n := float64(rows * b.N)
			b.ReportMetric(n/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(goCPU.Microseconds())/n, "go-cpu-µs/event")
			b.ReportMetric(float64(pgCPU.Microseconds())/n, "pg-cpu-µs/event")
			// Staging (the upload, before the 202) is not timed, but its CPU is part of the cost.
			b.ReportMetric(float64(stageGoCPU.Microseconds())/n, "stage-go-cpu-µs/event")
			b.ReportMetric(float64(stagePgCPU.Microseconds())/n, "stage-pg-cpu-µs/event")
		})
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU is the CPU time used so far by the Postgres backends connected to dbName,
// found by their process titles ("postgres: user db host(port) state").
func backendCPU(tb testing.TB, dbName string) time.Duration {
	tb.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		tb.Fatal(err)
	}
	var ticks int64
	for _, p := range procs {
		cmd, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(cmd, []byte("postgres: ")) || !bytes.Contains(cmd, []byte(" "+dbName+" ")) {
			continue
		}
		stat, err := os.ReadFile(strings.TrimSuffix(p, "cmdline") + "stat")
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state is field 3, utime 14, stime 15.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}
