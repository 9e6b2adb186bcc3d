package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/impactflow/impactflow/internal/store"
)

// The benchmarks below run one request at a time through the whole handler chain (request
// ID, access log, metrics, auth) without a socket, to count the API's own CPU and
// allocations per request: the measure that a shared machine does not blur.

// serve runs one request through the API's handler and checks the status.
func serve(b *testing.B, req *http.Request, want int) {
	rec := httptest.NewRecorder()
	env.api.Config.Handler.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", req.Method, req.URL, rec.Code, rec.Body)
	}
}

func benchGET(b *testing.B, path, key string) {
	start := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		serve(b, req, http.StatusOK)
	}
	reportCPU(b, start)
}

// BenchmarkGetFinishedJob is the job-status scenario's request: a finished import's status.
func BenchmarkGetFinishedJob(b *testing.B) {
	key := env.keys["acme/viewer"]
	r := callB(b, http.MethodPost, "/v1/impact-events", env.keys["acme/operator"], "application/x-ndjson", eventFile("bench-status", 10))
	id, _ := r.Body["id"].(string)
	for deadline := time.Now().Add(time.Minute); ; {
		r = callB(b, http.MethodGet, "/v1/jobs/"+id+"?wait=20s", key, "", "")
		if st := r.Body["status"]; st == "completed" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("import %s: %s", id, r.Raw)
		}
	}
	benchGET(b, "/v1/jobs/"+id, key)
}

// BenchmarkListDeliveries is the delivery scenario's list request over a tenant's 20,000
// deliveries, one filter after another.
func BenchmarkListDeliveries(b *testing.B) {
	ctx := context.Background()
	tenant := "bench-deliveries"
	if err := env.store.UpsertTenant(ctx, store.Tenant{ID: tenant, Name: tenant, Industry: "tech", Region: "eu", SizeBand: "1-50", Timezone: "UTC", DefaultLocale: "en"}); err != nil {
		b.Fatal(err)
	}
	secret := store.NewKeySecret()
	if _, err := env.store.CreateAPIKey(ctx, tenant, "bench", store.RoleViewer, secret); err != nil {
		b.Fatal(err)
	}
	seedDeliveries(b, tenant, 20000)
	filters := []string{"", "?status=failed", "?partner=goodera", "?partner=workday&status=delivered", "?page_size=100",
		"?from=" + time.Now().Add(-72*time.Hour).UTC().Format(time.RFC3339)}
	start := cpuTime()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/v1/impact-in/deliveries"+filters[i%len(filters)], nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		serve(b, req, http.StatusOK)
		i++
	}
	reportCPU(b, start)
}

// BenchmarkGenerateReportOverBudget is the report scenario's POST up to the start of the
// workflow (auth, validation, the budget check), refused with 429 by a zero budget so that
// no workflow runs beside the benchmark.
func BenchmarkGenerateReportOverBudget(b *testing.B) {
	ctx := context.Background()
	tenant := "bench-broke"
	if err := env.store.UpsertTenant(ctx, store.Tenant{ID: tenant, Name: tenant, Industry: "tech", Region: "eu", SizeBand: "1-50", Timezone: "Europe/Paris", DefaultLocale: "en"}); err != nil {
		b.Fatal(err)
	}
	var zero int64
	if err := env.store.SetTenantAISettings(ctx, tenant, store.AISettings{BudgetLimitMicros: &zero}); err != nil {
		b.Fatal(err)
	}
	secret := store.NewKeySecret()
	if _, err := env.store.CreateAPIKey(ctx, tenant, "bench", store.RoleOperator, secret); err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"period":{"from":"2026-01-01","to":"2026-03-31"},"sections":["summary","outcomes","recommendations"],"locale":"en"}`)
	start := cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/gen-reports/generate", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		serve(b, req, http.StatusTooManyRequests)
	}
	reportCPU(b, start)
}

// cpuTime is the CPU the test process has used, every goroutine's: with the API's
// dependencies in other processes (Postgres) or idle (Temporal, the workers), what a
// request costs the API.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64(cpuTime()-since)/float64(b.N), "cpu-ns/op")
}

func callB(b *testing.B, method, path, key, contentType, body string) response {
	b.Helper()
	req, err := http.NewRequest(method, env.api.URL+path, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	r := response{Status: resp.StatusCode}
	r.Raw, _ = io.ReadAll(resp.Body)
	_ = json.Unmarshal(r.Raw, &r.Body)
	if r.Status >= 300 {
		b.Fatalf("%s %s: %d %s", method, path, r.Status, r.Raw)
	}
	return r
}

// seedDeliveries copies n deliveries of the last 30 days into the tenant's log, as the
// delivery scenario does.
func seedDeliveries(b *testing.B, tenant string, n int) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env.dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var have int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE tenant_id = $1`, tenant).Scan(&have); err != nil || have >= n {
		return
	}
	partners := []string{"benevity", "goodera", "workday"}
	statuses := []string{"delivered", "delivered", "delivered", "failed", "in_progress"}
	now := time.Now().UTC()
	rows := make([][]any, n)
	for i := range rows {
		created := now.Add(-time.Duration(i) * 30 * 24 * time.Hour / time.Duration(n))
		status := statuses[i%len(statuses)]
		var finished *time.Time
		if status != "in_progress" {
			f := created.Add(time.Duration(i%60) * time.Second)
			finished = &f
		}
		period := created.Truncate(24 * time.Hour)
		rows[i] = []any{"delivery-" + uuid.NewString(), tenant, partners[(i/5)%3], period, period, status,
			fmt.Sprintf("sha256:%064d", i), 1 + i%4, created, created, finished}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"deliveries"},
		[]string{"id", "tenant_id", "partner", "period_start", "period_end", "status", "payload_hash", "attempts", "created_at", "updated_at", "finished_at"},
		pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE deliveries`); err != nil {
		b.Fatal(err)
	}
}
