package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	analyticsact "github.com/impactflow/impactflow/activities/analytics"
	"github.com/impactflow/impactflow/api"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/metrics"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/workers"
	"github.com/impactflow/impactflow/workflows"
)

// testAnalyticsBudget is the daily analytics query budget of the test API.
const testAnalyticsBudget = 100000

func chdbLibPath() string {
	if p := os.Getenv("CHDB_LIB_PATH"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "impactflow", "chdb", "libchdb.so")
}

func cleanRedis(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}

// The analytics tenant, its peers for benchmarks, and a period holding all their events.
const anTenant = "analytica"

var (
	anFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	anTo   = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
)

// seedAnalytics makes the analytica tenant with two programs and 6,000 events of every
// kind, and six peer tenants in its industry (none in its region), with donations.
func seedAnalytics(t *testing.T) (viewer, operator string) {
	t.Helper()
	ctx := context.Background()
	st := env.store
	if err := st.UpsertTenant(ctx, store.Tenant{ID: anTenant, Name: "Analytica", Industry: "bench-ind", Region: "solo-region", SizeBand: "50-250", Timezone: "UTC", DefaultLocale: "en"}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertPrograms(ctx, []store.Program{{TenantID: anTenant, Code: "mentoring", Name: "Mentoring"}, {TenantID: anTenant, Code: "tutoring", Name: "Tutoring"}}); err != nil {
		t.Fatal(err)
	}
	viewer, operator = store.NewKeySecret(), store.NewKeySecret()
	if _, err := st.CreateAPIKey(ctx, anTenant, "viewer", store.RoleViewer, viewer); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAPIKey(ctx, anTenant, "operator", store.RoleOperator, operator); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		id := fmt.Sprintf("peer-%d", i)
		if err := st.UpsertTenant(ctx, store.Tenant{ID: id, Name: id, Industry: "bench-ind", Region: "peer-region", SizeBand: "50-250", Timezone: "UTC", DefaultLocale: "en"}); err != nil {
			t.Fatal(err)
		}
		if err := st.UpsertPrograms(ctx, []store.Program{{TenantID: id, Code: "giving", Name: "Giving"}}); err != nil {
			t.Fatal(err)
		}
	}
	pgExec(t, `
		INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value, attributes)
		SELECT $1, 'an-' || i,
		       (SELECT id FROM programs WHERE tenant_id = $1 AND code = CASE WHEN (i / 5) % 3 = 0 THEN 'tutoring' ELSE 'mentoring' END),
		       'p-' || ((i * 31) % 200),
		       (ARRAY['signup','session_started','session_completed','volunteer_hours','outcome_measured','donation'])[1 + (i * 7 + i / 11) % 6],
		       $2::timestamptz + (i * 37 % (140 * 24)) * interval '1 hour' + (i % 60) * interval '1 minute',
		       ((i * 13) % 100) / 4.0,
		       jsonb_build_object('cohort', 'C' || ((i / 7) % 4), 'location', 'L' || (i % 3))
		FROM generate_series(1, 6000) i`, anTenant, anFrom)
	pgExec(t, `
		INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value)
		SELECT t.id, 'd-' || i, (SELECT id FROM programs WHERE tenant_id = t.id), 'q-' || (i % 7), 'donation',
		       $1::timestamptz + i * interval '1 day', (length(t.id) * 10 + substr(t.id, 6)::int * 17 + i % 5)::numeric
		FROM tenants t, generate_series(1, 50) i WHERE t.id LIKE 'peer-%'`, anFrom)
	return viewer, operator
}

func pgExec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := env.store.Pool().Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// syncNow runs an incremental sync job through the API and waits for it.
func syncNow(t *testing.T, key string) string {
	t.Helper()
	r := postJSON(t, "/v1/analytics/sync", key, map[string]string{"mode": "incremental"})
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST sync: %d %s", r.Status, r.Raw)
	}
	id, _ := r.Body["id"].(string)
	if done := waitJob(t, id, key); done.Body["status"] != "completed" {
		t.Fatalf("sync job: %s", done.Raw)
	}
	return id
}

// pgSeries is the metric by period computed directly in Postgres.
func pgSeries(t *testing.T, metric, trunc, program, cohort string, from, to time.Time) map[string]float64 {
	t.Helper()
	kinds := map[string]string{"participants": "", "signups": "signup", "sessions": "session_completed", "volunteer_hours": "volunteer_hours",
		"donations": "donation", "avg_outcome_score": "outcome_measured"}
	expr := map[string]string{"participants": "count(DISTINCT participant_id)", "signups": "count(*)", "sessions": "count(*)",
		"volunteer_hours": "sum(value)", "donations": "sum(value)", "avg_outcome_score": "avg(value)"}[metric]
	rows, err := env.store.Pool().Query(context.Background(), `
		SELECT to_char(date_trunc($1, e.occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), (`+expr+`)::float8
		FROM impact_events e JOIN programs p ON p.id = e.program_id
		WHERE e.tenant_id = $2 AND e.occurred_at >= $3 AND e.occurred_at < $4 AND ($5 = '' OR e.kind = $5)
		  AND ($6 = '' OR p.code = $6) AND ($7 = '' OR e.attributes->>'cohort' = $7)
		GROUP BY 1`, trunc, anTenant, from, to, kinds[metric], program, cohort)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var p string
		var v float64
		if err := rows.Scan(&p, &v); err != nil {
			t.Fatal(err)
		}
		out[p] = v
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

// checkTrend asserts that the trends API answers exactly what Postgres computes.
func checkTrend(t *testing.T, key, metric, gran, program, cohort string) {
	t.Helper()
	q := fmt.Sprintf("/v1/analytics/trends?metric=%s&granularity=%s&from=%s&to=%s&program=%s&cohort=%s",
		metric, gran, anFrom.Format(time.DateOnly), anTo.Format(time.DateOnly), program, cohort)
	r := getJSON(t, q, key)
	if r.Status != http.StatusOK {
		t.Fatalf("%s: %d %s", q, r.Status, r.Raw)
	}
	want := pgSeries(t, metric, gran, program, cohort, anFrom, anTo)
	points, _ := r.Body["points"].([]any)
	got := map[string]float64{}
	for _, p := range points {
		m := p.(map[string]any)
		got[m["period"].(string)] = m["value"].(float64)
	}
	if len(got) != len(want) || len(want) == 0 {
		t.Errorf("%s: %d periods, Postgres has %d", q, len(got), len(want))
	}
	for p, v := range want {
		if !near(got[p], v) {
			t.Errorf("%s: period %s = %v, Postgres %v", q, p, got[p], v)
		}
	}
}

func checkAllTrends(t *testing.T, key string) {
	t.Helper()
	for _, c := range []struct{ metric, gran, program, cohort string }{
		{"volunteer_hours", "day", "", ""},
		{"volunteer_hours", "week", "tutoring", ""},
		{"participants", "month", "", ""},
		{"participants", "week", "mentoring", ""},
		{"sessions", "month", "", "C1"},
		{"avg_outcome_score", "month", "", ""},
		{"donations", "week", "", "C2"},
		{"signups", "day", "mentoring", ""},
	} {
		checkTrend(t, key, c.metric, c.gran, c.program, c.cohort)
	}
}

// pgFunnel computes the funnel the API defines, in Postgres.
func pgFunnel(t *testing.T, steps []string, from, to time.Time, window time.Duration) []int64 {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `WITH ev AS (SELECT participant_id, kind, occurred_at FROM impact_events WHERE tenant_id = $1
		AND occurred_at >= $2 AND occurred_at < $3::timestamptz + $4::interval),
		s0 AS (SELECT participant_id, min(occurred_at) t, min(occurred_at) t0 FROM ev WHERE kind = '%s' AND occurred_at < $3 GROUP BY 1)`, steps[0])
	for i := 1; i < len(steps); i++ {
		fmt.Fprintf(&b, `, s%d AS (SELECT s.participant_id, min(e.occurred_at) t, min(s.t0) t0 FROM s%d s JOIN ev e ON e.participant_id = s.participant_id
			WHERE e.kind = '%s' AND e.occurred_at >= s.t AND e.occurred_at <= s.t0 + $4::interval GROUP BY 1)`, i, i-1, steps[i])
	}
	var counts []string
	for i := range steps {
		counts = append(counts, fmt.Sprintf("(SELECT count(*) FROM s%d)", i))
	}
	b.WriteString(" SELECT " + strings.Join(counts, ", "))
	out := make([]int64, len(steps))
	dest := make([]any, len(steps))
	for i := range out {
		dest[i] = &out[i]
	}
	if err := env.store.Pool().QueryRow(context.Background(), b.String(), anTenant, from, to, window).Scan(dest...); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAnalytics(t *testing.T) {
	ctx := context.Background()
	viewer, operator := seedAnalytics(t)

	first := syncNow(t, operator)
	recordHistory(t, first, "clickhouse_sync")

	t.Run("sync status", func(t *testing.T) {
		r := getJSON(t, "/v1/analytics/sync", viewer)
		last, _ := r.Body["last_run"].(map[string]any)
		if r.Status != http.StatusOK || r.Body["watermark"] == nil || r.Body["lag_seconds"] == nil || num(last, "rows") == 0 {
			t.Errorf("GET sync: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("trends equal Postgres", func(t *testing.T) { checkAllTrends(t, viewer) })

	t.Run("cohorts equal Postgres", func(t *testing.T) {
		r := getJSON(t, "/v1/analytics/cohorts?dimension=cohort&cohorts=C0,C1,C3,none&metrics=participants,volunteer_hours,avg_outcome_score&from=2026-01-01&to=2026-06-01", viewer)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		cohorts, _ := r.Body["cohorts"].([]any)
		if len(cohorts) != 4 {
			t.Fatalf("cohorts = %s", r.Raw)
		}
		for _, c := range cohorts {
			m := c.(map[string]any)
			name := m["cohort"].(string)
			metrics := m["metrics"].(map[string]any)
			for metric, v := range metrics {
				var want float64
				for _, x := range pgSeries(t, metric, "year", "", name, anFrom, anTo) {
					want += x // one year bucket
				}
				if !near(v.(float64), want) {
					t.Errorf("cohort %s %s = %v, Postgres %v", name, metric, v, want)
				}
			}
		}
	})

	t.Run("funnels equal Postgres", func(t *testing.T) {
		steps := []string{"signup", "session_started", "session_completed", "outcome_measured"}
		r := getJSON(t, "/v1/analytics/funnels?steps="+strings.Join(steps, ",")+"&window_days=10&from=2026-02-01&to=2026-04-01", viewer)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		want := pgFunnel(t, steps, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), 10*24*time.Hour)
		got, _ := r.Body["steps"].([]any)
		if len(got) != len(steps) || want[0] == 0 || want[len(want)-1] == want[0] {
			t.Fatalf("funnel %s, Postgres %v (want a non-trivial funnel)", r.Raw, want)
		}
		for i, s := range got {
			m := s.(map[string]any)
			if int64(m["participants"].(float64)) != want[i] {
				t.Errorf("step %d = %v, Postgres %d", i, m["participants"], want[i])
			}
			if i > 0 && int64(m["drop_off"].(float64)) != want[i-1]-want[i] {
				t.Errorf("step %d drop-off = %v", i, m["drop_off"])
			}
		}
	})

	t.Run("benchmarks equal Postgres and keep k-anonymity", func(t *testing.T) {
		r := getJSON(t, "/v1/analytics/benchmarks?metric=donations&from=2026-01-01&to=2026-06-01", viewer)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		rows, err := env.store.Pool().Query(ctx, `SELECT e.tenant_id, sum(value)::float8 FROM impact_events e JOIN tenants t ON t.id = e.tenant_id
			WHERE t.industry = 'bench-ind' AND kind = 'donation' AND occurred_at >= $1 AND occurred_at < $2 GROUP BY 1`, anFrom, anTo)
		if err != nil {
			t.Fatal(err)
		}
		var peers []float64
		var own float64
		for rows.Next() {
			var id string
			var v float64
			_ = rows.Scan(&id, &v)
			if id == anTenant {
				own = v
			} else {
				peers = append(peers, v)
			}
		}
		rows.Close()
		sort.Float64s(peers)
		if len(peers) != 6 {
			t.Fatalf("%d peers in Postgres", len(peers))
		}
		below := 0
		for _, v := range peers {
			if v < own {
				below++
			}
		}
		list, _ := r.Body["benchmarks"].([]any)
		for _, b := range list {
			m := b.(map[string]any)
			switch m["dimension"] {
			case "industry":
				if m["available"] != true || !near(m["peer_median"].(float64), (peers[2]+peers[3])/2) ||
					!near(m["value"].(float64), own) || !near(m["percentile"].(float64), math.Round(float64(below)/6*10000)/100) {
					t.Errorf("industry benchmark = %v; Postgres peers %v, own %v", m, peers, own)
				}
			case "region":
				if m["available"] != false || m["peer_median"] != nil || m["percentile"] != nil || num(m, "peers") != 0 {
					t.Errorf("a peer group of 0 others must be refused: %v", m)
				}
			}
		}
		// No other tenant's own figure appears anywhere in the answer.
		for _, v := range peers {
			if strings.Contains(string(r.Raw), fmt.Sprintf(":%g,", v)) && v != (peers[2]+peers[3])/2 {
				t.Errorf("a peer's figure %v appears in %s", v, r.Raw)
			}
		}
	})

	t.Run("bad parameters are 400s naming the field", func(t *testing.T) {
		for path, field := range map[string]string{
			"/v1/analytics/trends?metric=nope":                                                   "metric",
			"/v1/analytics/trends?metric=sessions&from=2026-05-01&to=2026-04-01":                 "from",
			"/v1/analytics/trends?metric=sessions&granularity=day&from=2024-01-01&to=2026-01-01": "granularity",
			"/v1/analytics/trends?metric=sessions&granularity=hour":                              "granularity",
			"/v1/analytics/trends?metric=sessions&program=nope":                                  "program",
			"/v1/analytics/cohorts?cohorts=a,b,c,d,e,f,g,h,i,j,k&metrics=sessions":               "cohorts",
			"/v1/analytics/cohorts?cohorts=a&metrics=sessions,nope":                              "metrics",
			"/v1/analytics/funnels?steps=signup,nope":                                            "steps",
			"/v1/analytics/benchmarks?metric=sessions&from=2026-13-01":                           "from",
		} {
			r := getJSON(t, path, viewer)
			if r.Status != http.StatusBadRequest || r.errorField() != field {
				t.Errorf("%s: %d field %q, want 400 naming %q (%s)", path, r.Status, r.errorField(), field, r.Raw)
			}
		}
		r := postJSON(t, "/v1/analytics/sync", operator, map[string]string{"mode": "sideways"})
		if r.Status != http.StatusBadRequest || r.errorField() != "mode" {
			t.Errorf("POST sync mode: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("cache hit, then invalidated when a sync brings new data", func(t *testing.T) {
		path := "/v1/analytics/trends?metric=volunteer_hours&granularity=month&from=2026-01-01&to=2026-06-01"
		a := getJSON(t, path, viewer)
		b := getJSON(t, path, viewer)
		if b.Header.Get("X-Cache") != "hit" || string(a.Raw) != string(b.Raw) {
			t.Fatalf("second read: X-Cache %q", b.Header.Get("X-Cache"))
		}
		pgExec(t, `INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value)
			SELECT $1, 'late-1', id, 'p-1', 'volunteer_hours', '2026-02-10T10:00:00Z', 1000 FROM programs WHERE tenant_id = $1 AND code = 'mentoring'`, anTenant)
		syncNow(t, operator)
		c := getJSON(t, path, viewer)
		if c.Header.Get("X-Cache") != "miss" || !near(c.Body["total"].(float64), a.Body["total"].(float64)+1000) {
			t.Errorf("after the sync: X-Cache %q total %v, before %v", c.Header.Get("X-Cache"), c.Body["total"], a.Body["total"])
		}
		h := getJSON(t, "/health/cache", "")
		an, _ := h.Body["analytics"].(map[string]any)
		if num(an, "hits") < 1 || num(an, "misses") < 1 || num(an, "keys") < 1 || an["hit_rate"] == nil {
			t.Errorf("/health/cache = %s", h.Raw)
		}
	})

	t.Run("exact after updates and deletes", func(t *testing.T) {
		pgExec(t, `UPDATE impact_events SET value = value + 3, updated_at = now() WHERE tenant_id = $1 AND event_id IN ('an-3', 'an-9', 'an-27', 'late-1')`, anTenant)
		pgExec(t, `UPDATE impact_events SET attributes = jsonb_set(attributes, '{cohort}', '"C2"'), updated_at = now() WHERE tenant_id = $1 AND event_id LIKE 'an-1__'`, anTenant)
		pgExec(t, `DELETE FROM impact_events WHERE tenant_id = $1 AND event_id LIKE 'an-2%'`, anTenant)
		syncNow(t, operator)
		checkAllTrends(t, viewer)
	})

	t.Run("exact after a worker dies mid-batch", func(t *testing.T) {
		pgExec(t, `UPDATE impact_events SET value = value + 1, updated_at = now() WHERE tenant_id = $1 AND event_id LIKE 'an-5%'`, anTenant)
		pgExec(t, `DELETE FROM impact_events WHERE tenant_id = $1 AND event_id LIKE 'an-4%'`, anTenant)
		queue := "sync-kill-" + jobs.NewID(jobs.KindClickHouseSync)
		stuck := make(chan struct{})
		var once sync.Once
		src := analytics.Source{Pool: env.store.Pool()}
		w1 := worker.New(env.temporal, queue, worker.Options{WorkerStopTimeout: time.Second})
		w1.RegisterWorkflow(workflows.ClickHouseSyncWorkflow)
		w1.RegisterActivity(&analyticsact.Activities{Source: src, DB: env.analytics, Cache: env.cache, AfterWrite: func(ctx context.Context, batch int) {
			if batch == 2 { // the third batch is written but never checkpointed
				once.Do(func() { close(stuck) })
				<-ctx.Done()
			}
		}})
		if err := w1.Start(); err != nil {
			t.Fatal(err)
		}
		id := jobs.NewID(jobs.KindClickHouseSync)
		run, err := env.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, workflows.ClickHouseSyncWorkflow,
			workflows.ClickHouseSyncInput{Scope: analyticsact.Scope{Mode: analyticsact.ModeIncremental}, BatchSize: 50})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-stuck:
		case <-time.After(30 * time.Second):
			t.Fatal("the first worker never reached batch 2")
		}
		w1.Stop()
		w2 := worker.New(env.temporal, queue, worker.Options{})
		w2.RegisterWorkflow(workflows.ClickHouseSyncWorkflow)
		w2.RegisterActivity(&analyticsact.Activities{Source: src, DB: env.analytics, Cache: env.cache})
		if err := w2.Start(); err != nil {
			t.Fatal(err)
		}
		defer w2.Stop()
		var res workflows.ClickHouseSyncResult
		if err := run.Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		if res.Deletes == 0 || res.Upserts == 0 {
			t.Errorf("result %+v", res)
		}
		checkAllTrends(t, viewer)
	})

	t.Run("exact after a workflow reset", func(t *testing.T) {
		pgExec(t, `UPDATE impact_events SET value = value + 2, updated_at = now() WHERE tenant_id = $1 AND event_id LIKE 'an-6%'`, anTenant)
		id := syncNow(t, operator)
		r := postJSON(t, "/v1/jobs/"+id+"/reset", operator, map[string]any{"reason": "analytics test: re-run the sync"})
		if r.Status != http.StatusAccepted {
			t.Fatalf("reset: %d %s", r.Status, r.Raw)
		}
		if done := waitJob(t, id, operator); done.Body["status"] != "completed" {
			t.Fatalf("reset sync: %s", done.Raw)
		}
		checkAllTrends(t, viewer)
	})

	t.Run("exact after ClickHouse is emptied", func(t *testing.T) {
		if err := env.analytics.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		syncNow(t, operator)
		checkAllTrends(t, viewer)
	})

	t.Run("backfill of the tenant is idempotent", func(t *testing.T) {
		r := postJSON(t, "/v1/analytics/sync", operator, map[string]string{"mode": "backfill", "from": "2026-02-01", "to": "2026-03-01"})
		if r.Status != http.StatusAccepted {
			t.Fatalf("backfill: %d %s", r.Status, r.Raw)
		}
		done := waitJob(t, r.Body["id"].(string), operator)
		if done.Body["status"] != "completed" || num(result(done), "rows") == 0 {
			t.Fatalf("backfill: %s", done.Raw)
		}
		checkAllTrends(t, viewer)
	})

	t.Run("query budget is 429 with Retry-After", func(t *testing.T) {
		key := env.redisPrefix + "analytics:budget:" + anTenant + ":" + time.Now().UTC().Format("20060102")
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
		defer rdb.Close()
		if err := rdb.Set(ctx, key, testAnalyticsBudget, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		defer rdb.Del(ctx, key)
		r := getJSON(t, "/v1/analytics/trends?metric=sessions", viewer)
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("over budget: %d %s (Retry-After %q)", r.Status, r.Raw, r.Header.Get("Retry-After"))
		}
	})

	t.Run("schedule fires and skips overlaps", func(t *testing.T) {
		// The schedule's runs go to a queue with no worker yet: the first stays running, so
		// the second tick overlaps it and must be skipped.
		sched := workers.SyncSchedule{ID: "sync-schedule-test-" + jobs.NewID(jobs.KindClickHouseSync), Interval: time.Hour,
			TaskQueue: "sync-schedule-test-" + jobs.NewID(jobs.KindClickHouseSync)}
		if err := workers.EnsureSyncSchedule(ctx, env.temporal, sched); err != nil {
			t.Fatal(err)
		}
		if err := workers.EnsureSyncSchedule(ctx, env.temporal, sched); err != nil { // idempotent
			t.Fatal(err)
		}
		h := env.temporal.ScheduleClient().GetHandle(ctx, sched.ID)
		defer h.Delete(ctx)
		describe := func(done func(*client.ScheduleDescription) bool) *client.ScheduleDescription {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for {
				d, err := h.Describe(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if done(d) {
					return d
				}
				if time.Now().After(deadline) {
					t.Fatalf("schedule: %d actions, %d skipped, %d running", d.Info.NumActions, d.Info.NumActionsSkippedOverlap, len(d.Info.RunningWorkflows))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enums.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED}); err != nil {
			t.Fatal(err)
		}
		d := describe(func(d *client.ScheduleDescription) bool { return len(d.Info.RunningWorkflows) == 1 })
		running := d.Info.RunningWorkflows[0].WorkflowID
		if err := h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enums.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED}); err != nil {
			t.Fatal(err)
		}
		d = describe(func(d *client.ScheduleDescription) bool { return d.Info.NumActionsSkippedOverlap >= 1 })
		if d.Info.NumActions != 1 || d.Schedule.Policy.Overlap != enums.SCHEDULE_OVERLAP_POLICY_SKIP {
			t.Errorf("after an overlapping tick: %d actions, policy %v", d.Info.NumActions, d.Schedule.Policy.Overlap)
		}
		w := worker.New(env.temporal, sched.TaskQueue, worker.Options{})
		w.RegisterWorkflow(workflows.ClickHouseSyncWorkflow)
		w.RegisterActivity(&analyticsact.Activities{Source: analytics.Source{Pool: env.store.Pool()}, DB: env.analytics, Cache: env.cache})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		var res workflows.ClickHouseSyncResult
		if err := env.temporal.GetWorkflow(ctx, running, "").Get(ctx, &res); err != nil || res.Mode != analyticsact.ModeIncremental {
			t.Errorf("the scheduled run: %+v, %v", res, err)
		}
	})
}

// TestAnalyticsWithRedisDown: the cache and the budget live in Redis; without it the
// analytics answers are computed every time, never refused.
func TestAnalyticsWithRedisDown(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer dead.Close()
	srv := httptest.NewServer(api.New(api.Deps{
		Store: env.store, Jobs: env.jobs, Temporal: env.temporal, Redis: dead, Metrics: metrics.New(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20, MaxImportBytes: 1 << 20, Version: "test",
		Analytics: env.analytics, AnalyticsCache: &analytics.Cache{Redis: dead, Prefix: env.redisPrefix},
		AnalyticsBudget: &analytics.Budget{Redis: dead, Prefix: env.redisPrefix, Limit: 1},
	}))
	defer srv.Close()
	for range 3 { // over the budget of 1, were Redis up
		r := callAt(t, srv.URL, http.MethodGet, "/v1/analytics/trends?metric=sessions&granularity=week", env.keys["acme/viewer"], "", nil)
		if r.Status != http.StatusOK || r.Header.Get("X-Cache") != "miss" {
			t.Fatalf("with Redis down: %d %s (X-Cache %q)", r.Status, r.Raw, r.Header.Get("X-Cache"))
		}
	}
}

// TestAnalyticsClickHouseDownIs503: a ClickHouse server that cannot be reached is a 503
// naming it, never a 500.
func TestAnalyticsClickHouseDownIs503(t *testing.T) {
	down, err := analytics.Open(context.Background(), analytics.Options{URL: "clickhouse://127.0.0.1:1/default?dial_timeout=200ms"})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	srv := httptest.NewServer(api.New(api.Deps{
		Store: env.store, Jobs: env.jobs, Temporal: env.temporal, Redis: redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}), Metrics: metrics.New(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20, MaxImportBytes: 1 << 20, Version: "test",
		Analytics: down,
	}))
	defer srv.Close()
	for _, path := range []string{"/v1/analytics/trends?metric=sessions", "/v1/analytics/sync"} {
		r := callAt(t, srv.URL, http.MethodGet, path, env.keys["acme/viewer"], "", nil)
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Raw), `"dependency":"clickhouse"`) {
			t.Errorf("%s with ClickHouse down: %d %s", path, r.Status, r.Raw)
		}
	}
}
