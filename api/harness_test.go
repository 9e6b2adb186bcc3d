package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"

	analyticsact "github.com/impactflow/impactflow/activities/analytics"
	"github.com/impactflow/impactflow/api"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/metrics"
	openaisandbox "github.com/impactflow/impactflow/internal/sandbox/openai"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/migrations"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/temporal/codec"
	"github.com/impactflow/impactflow/temporal/devserver"
	"github.com/impactflow/impactflow/workers"
)

// env is one platform for the whole package: a real Temporal server (in-memory SQLite),
// a Postgres database of its own, Redis, the workers and the API.
var env struct {
	dbURL    string
	store    *store.Store
	temporal client.Client
	// payloads encrypts every payload, with data keys in env.store wrapped by a test key
	// (or, when recording replay histories, the test-only keys committed beside them).
	payloads *codec.DataConverter
	keyring  *codec.Keyring // nil when recording
	jobs     *jobs.Service
	api      *httptest.Server
	keys     map[string]string // name → secret
	llm      *openaisandbox.Server
	metrics  *metrics.Registry
	workers  *workers.Workers
	// workerDeps is what env.workers were started with; tests that restart workers reuse it.
	workerDeps workers.Deps

	// Analytics: the package's one chDB engine (one per process) in a temp dir, and the
	// Redis key prefix of this run.
	analytics   *analytics.DB
	cache       *analytics.Cache
	redisPrefix string
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	dbName := fmt.Sprintf("impactflow_test_api_%d", os.Getpid())
	env.dbURL = strings.Replace(base, "/postgres?", "/"+dbName+"?", 1)
	if err := migrations.Postgres(ctx, env.dbURL); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		return 1
	}
	defer dropDatabase(base, dbName)

	srv, err := devserver.Start(ctx, devserver.Options{Ephemeral: true, FrontendAddr: "127.0.0.1:0", Namespace: "default", Retention: 24 * time.Hour, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "temporal:", err)
		return 1
	}
	defer srv.Stop()

	if env.store, err = store.Open(ctx, env.dbURL); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.store.Close()
	reg := metrics.New()
	if env.payloads, err = payloadConverter(); err != nil {
		fmt.Fprintln(os.Stderr, "payload keys:", err)
		return 1
	}
	defer saveRecordedKeys()
	if env.temporal, err = temporal.NewClient(temporal.ClientOptions{Address: srv.FrontendAddr(), Namespace: "default", Logger: log, Metrics: reg.TemporalHandler(),
		DataConverter: env.payloads}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.temporal.Close()
	// Reports write through go-openai against the OpenAI sandbox.
	env.llm = openaisandbox.New("sk-sandbox")
	llmSrv := httptest.NewServer(env.llm)
	defer llmSrv.Close()
	prices := llm.DefaultPrices()
	prices.Models[budgetTestModel] = llm.Price{InputPerMillion: 0, OutputPerMillion: 1000}
	env.metrics = reg
	env.jobs = jobs.NewService(env.temporal, "default", env.payloads)
	stopPartners, err := startPartners()
	if err != nil {
		fmt.Fprintln(os.Stderr, "partners:", err)
		return 1
	}
	defer stopPartners()
	notify, notifyAPI, stopNotify, err := startNotifications()
	if err != nil {
		fmt.Fprintln(os.Stderr, "notifications:", err)
		return 1
	}
	defer stopNotify()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	chdbDir, err := os.MkdirTemp("", "impactflow-api-chdb-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(chdbDir)
	if env.analytics, err = analytics.Open(ctx, analytics.Options{LibPath: chdbLibPath(), DataDir: chdbDir}); err != nil {
		fmt.Fprintln(os.Stderr, "chdb:", err)
		return 1
	}
	defer env.analytics.Close()
	if err := env.analytics.Migrate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chdb migrate:", err)
		return 1
	}
	env.redisPrefix = fmt.Sprintf("impactflow-test-api-%d:", os.Getpid())
	defer cleanRedis(rdb, env.redisPrefix)
	env.cache = &analytics.Cache{Redis: rdb, Prefix: env.redisPrefix}
	env.workerDeps = workers.Deps{Client: env.temporal, Store: env.store, DataConverter: env.payloads,
		Writer: llm.NewOpenAI(llm.OpenAIConfig{BaseURL: llmSrv.URL + "/v1", APIKey: "sk-sandbox", Model: "gpt-4o-mini", Prices: prices}),
		Prices: prices, Metrics: reg, Logger: log,
		Deliveries: partnerEnv.deps, Notifications: notify,
		Analytics: env.analytics, AnalyticsCache: env.cache, SyncMetrics: analyticsact.NewMetrics(reg.Prometheus())}
	if env.keyring != nil { // nil when recording, with static keys
		env.workerDeps.DataKeys = env.keyring
	}
	if env.workers, err = workers.Start(env.workerDeps); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { env.workers.Stop() }()

	env.api = httptest.NewServer(api.New(api.Deps{
		Store: env.store, Jobs: env.jobs, Temporal: env.temporal, Redis: rdb, Metrics: reg, Logger: log,
		MaxBodyBytes: 1 << 20, MaxImportBytes: 8 << 20, Version: "test", Notifications: notifyAPI,
		Reports:   api.ReportsConfig{Model: "gpt-4o-mini", Prices: prices},
		SecretBox: partnerEnv.deps.Box, DeliveryAttemptTimeout: partnerEnv.deps.AttemptTimeout, DeliveryRetryMaxInterval: testRetryMaxInterval,
		Analytics: env.analytics, AnalyticsCache: env.cache,
		AnalyticsBudget: &analytics.Budget{Redis: rdb, Prefix: env.redisPrefix, Limit: testAnalyticsBudget},
		Codec:           api.CodecConfig{Keys: env.payloads.Keys(), Namespace: "default", AllowedOrigins: []string{testUIOrigin}},
	}))
	defer env.api.Close()

	if err := seed(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		return 1
	}
	return m.Run()
}

func dropDatabase(base, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// seed makes two tenants, acme and globex, each with a program and keys of every role.
func seed(ctx context.Context) error {
	env.keys = map[string]string{}
	for _, tenant := range []string{"acme", "globex"} {
		if err := env.store.UpsertTenant(ctx, store.Tenant{ID: tenant, Name: tenant, Industry: "tech", Region: "eu", SizeBand: "1-50", Timezone: "UTC", DefaultLocale: "en"}); err != nil {
			return err
		}
		if err := env.store.UpsertPrograms(ctx, []store.Program{{TenantID: tenant, Code: "mentoring", Name: "Mentoring"}}); err != nil {
			return err
		}
		for _, role := range []store.Role{store.RoleAdmin, store.RoleOperator, store.RoleViewer} {
			secret := store.NewKeySecret()
			if _, err := env.store.CreateAPIKey(ctx, tenant, string(role), role, secret); err != nil {
				return err
			}
			env.keys[tenant+"/"+string(role)] = secret
		}
	}
	return nil
}

// response is an API answer with its decoded JSON body.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

func (r response) errorCode() string {
	e, _ := r.Body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r response) errorField() string {
	e, _ := r.Body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	f, _ := d["field"].(string)
	return f
}

func call(t *testing.T, method, path, key, contentType string, body io.Reader, headers ...string) response {
	t.Helper()
	return callAt(t, env.api.URL, method, path, key, contentType, body, headers...)
}

// callAt is call against another API server (one built with a dependency down).
func callAt(t *testing.T, base, method, path, key, contentType string, body io.Reader, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

func getJSON(t *testing.T, path, key string) response {
	t.Helper()
	return call(t, http.MethodGet, path, key, "", nil)
}

func postJSON(t *testing.T, path, key string, v any) response {
	t.Helper()
	b, _ := json.Marshal(v)
	return call(t, http.MethodPost, path, key, "application/json", bytes.NewReader(b))
}

func upload(t *testing.T, path, key, ndjson string, headers ...string) response {
	t.Helper()
	return call(t, http.MethodPost, path, key, "application/x-ndjson", strings.NewReader(ndjson), headers...)
}

func eventRow(id string, value float64) string {
	return fmt.Sprintf(`{"event_id":%q,"program":"mentoring","participant":"p-1","kind":"volunteer_hours","occurred_at":"2026-03-01T10:00:00Z","value":%g,"attributes":{"cohort":"A"}}`, id, value)
}

func eventFile(prefix string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(eventRow(fmt.Sprintf("%s-%d", prefix, i), float64(i%8)+0.5))
		b.WriteByte('\n')
	}
	return b.String()
}

// waitJob long-polls the job until it is closed.
func waitJob(t *testing.T, id, key string) response {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r := getJSON(t, "/v1/jobs/"+id+"?wait=20s", key)
		if r.Status != http.StatusOK {
			t.Fatalf("GET job: %d %s", r.Status, r.Raw)
		}
		if st := r.Body["status"]; st != "queued" && st != "running" {
			return r
		}
	}
	t.Fatalf("job %s did not finish in time", id)
	return response{}
}

func result(r response) map[string]any {
	m, _ := r.Body["result"].(map[string]any)
	return m
}

func num(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}
