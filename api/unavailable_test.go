package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/impactflow/impactflow/api"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/metrics"
	"github.com/impactflow/impactflow/temporal"
)

// TestDependencyDownIs503 points an API at a Temporal and a Redis that are not there: calls
// that need them answer 503 naming the dependency, and the readiness probe names both.
func TestDependencyDownIs503(t *testing.T) {
	dead, err := temporal.NewClient(temporal.ClientOptions{Address: "127.0.0.1:1", Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	srv := httptest.NewServer(api.New(api.Deps{
		Store: env.store, Jobs: jobs.NewService(dead, "default", nil), Temporal: dead, Redis: rdb, Metrics: metrics.New(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20, MaxImportBytes: 1 << 20, Version: "test",
	}))
	defer srv.Close()

	do := func(method, path, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+env.keys["acme/operator"])
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := do(http.MethodGet, "/v1/jobs/import-00000000-0000-0000-0000-000000000001", "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"dependency":"temporal"`) || resp.Header.Get("Retry-After") == "" {
		t.Errorf("job status with Temporal down: %d %s", resp.StatusCode, body)
	}
	// The upload is staged before Temporal is needed; retried with the same key once
	// Temporal is back, it starts the job from what was kept: nothing is lost.
	resp, body = do(http.MethodPost, "/v1/impact-events", eventFile("down", 2))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("import with Temporal down: %d %s", resp.StatusCode, body)
	}
	resp, body = do(http.MethodGet, "/health/ready", "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"failing":["redis","temporal"]`) {
		t.Errorf("ready: %d %s", resp.StatusCode, body)
	}
}

// TestIdempotentRetryAfterOutage shows the promise above: the same Idempotency-Key sent to
// an API whose Temporal is down, then to a healthy one, yields one job with the rows.
func TestIdempotentRetryAfterOutage(t *testing.T) {
	dead, err := temporal.NewClient(temporal.ClientOptions{Address: "127.0.0.1:1", Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	down := httptest.NewServer(api.New(api.Deps{
		Store: env.store, Jobs: jobs.NewService(dead, "default", nil), Temporal: dead, Redis: redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}),
		Metrics: metrics.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBodyBytes: 1 << 20, MaxImportBytes: 1 << 20, Version: "test",
	}))
	defer down.Close()
	file := eventFile("outage", 3)
	req, _ := http.NewRequest(http.MethodPost, down.URL+"/v1/impact-events", strings.NewReader(file))
	req.Header.Set("Authorization", "Bearer "+env.keys["acme/operator"])
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Idempotency-Key", "outage-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with Temporal down: %d", resp.StatusCode)
	}
	retried := upload(t, "/v1/impact-events", env.keys["acme/operator"], file, "Idempotency-Key", "outage-1")
	if retried.Status != http.StatusAccepted {
		t.Fatalf("retry: %d %s", retried.Status, retried.Raw)
	}
	done := waitJob(t, retried.Body["id"].(string), env.keys["acme/operator"])
	if res := result(done); num(res, "inserted") != 3 {
		t.Fatalf("after the outage: %s", done.Raw)
	}
}
