package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/impactflow/impactflow/migrations"
)

const (
	// deliveryRuns is how many deliveries each end-to-end phase starts.
	deliveryRuns = 600
	// deliveryWaitLimit bounds the wait for a phase's deliveries to finish.
	deliveryWaitLimit = 5 * time.Minute
	// logRows is how many delivery rows the list/stats phases read over.
	logRows = 100_000
	// logReaders is how many clients read the delivery log and stats at once.
	logReaders = 8
	// syntheticHash marks the rows the scenario seeds, so it can remove them afterwards.
	syntheticHash = "bench-synthetic"
)

// The targets of the delivery scenario.
const (
	targetDeliveriesPerSec = 60.0
	targetLogP99           = 20 * time.Millisecond
)

// runDelivery measures deliveries completed per second end to end against the dev Benevity
// sandbox, with no faults and with 30% injected 5xx, then the delivery log and stats
// endpoints' latency over 100,000 rows.
func runDelivery(ctx context.Context, o Options, r *report) error {
	sandbox := o.SandboxURLs["benevity"]
	if sandbox == "" {
		return errors.New("no Benevity sandbox: run `impactflow dev` without BENEVITY_URL (it writes DATA_DIR/partner-sandboxes.json)")
	}
	api := newAPIClient(o)
	defer api.close()
	db, err := connectPostgres(ctx, o)
	if err != nil {
		return err
	}
	defer db.Close(context.Background())
	tenant, err := api.tenantID(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = setFaults(context.Background(), sandbox, 0) }()
	e, err := dialEngine(ctx, o)
	if err != nil {
		return err
	}
	defer e.close()

	for _, ph := range []struct {
		name   string
		errors float64
	}{{"deliver (no faults)", 0}, {"deliver (30% 5xx)", 0.3}} {
		if err := setFaults(ctx, sandbox, ph.errors); err != nil {
			return err
		}
		r.progress("%s: %d deliveries", ph.name, deliveryRuns)
		rate, p, ids, err := deliverBatch(ctx, o, api, db, ph.name)
		r.add(p)
		if err != nil {
			return err
		}
		if w, err := countEngineWork(ctx, e.client, ids); err == nil {
			r.fact("engine work", "%s: %s", ph.name, w)
		} else {
			r.fact("engine work", "%s: not counted: %v", ph.name, err)
		}
		if ph.errors == 0 {
			r.check(fmt.Sprintf("deliveries/s, no faults ≥ %.0f", targetDeliveriesPerSec), rate >= targetDeliveriesPerSec, "%.1f/s", rate)
		} else {
			r.fact("deliveries/s with 30% 5xx", "%.1f/s, all %d delivered", rate, deliveryRuns)
		}
	}
	if err := setFaults(ctx, sandbox, 0); err != nil {
		return err
	}
	var stats struct {
		Deliveries    int      `json:"deliveries"`
		Replays       int      `json:"replays"`
		DuplicateRefs []string `json:"duplicate_refs"`
	}
	if err := getSandboxJSON(ctx, sandbox+"/_sandbox/stats", &stats); err == nil {
		r.fact("benevity sandbox", "%d deliveries recorded, %d answered from the idempotency ledger, %d references accepted twice",
			stats.Deliveries, stats.Replays, len(stats.DuplicateRefs))
		r.check("no delivery accepted twice at the partner", len(stats.DuplicateRefs) == 0, "%d", len(stats.DuplicateRefs))
	}

	seeded, err := seedDeliveryLog(ctx, db, tenant)
	if err != nil {
		return err
	}
	defer func() {
		_, _ = db.Exec(context.Background(), `DELETE FROM deliveries WHERE tenant_id = $1 AND payload_hash = $2`, tenant, syntheticHash)
	}()
	r.fact("delivery rows", "%d for tenant %s (%d seeded for this run, removed afterwards)", seeded.total, tenant, seeded.added)
	filters := []string{"", "?status=failed", "?partner=goodera", "?partner=workday&status=delivered", "?page_size=100",
		"?from=" + url.QueryEscape(time.Now().Add(-72*time.Hour).UTC().Format(time.RFC3339))}
	// Latency at a dashboard's concurrency, not a load test: 50 clients on two shared cores
	// measure the run queue.
	readers := min(o.Concurrency, logReaders)
	list := r.add(runClients(ctx, "GET /v1/impact-in/deliveries", readers, o.Duration/2, 0, func(ctx context.Context, t int) error {
		return api.getOK(ctx, "/v1/impact-in/deliveries"+filters[t%len(filters)])
	}))
	stat := r.add(runClients(ctx, "GET /v1/impact-in/stats", readers, o.Duration/2, 0, func(ctx context.Context, t int) error {
		w := []string{"24h", "168h", "720h"}[t%3]
		return api.getOK(ctx, "/v1/impact-in/stats?window="+w)
	}))
	r.check(fmt.Sprintf("list p99 < %s at %dk rows", targetLogP99, logRows/1000), list.errors == 0 && list.latency.p99 < targetLogP99, "%s ms", millis(list.latency.p99))
	r.check(fmt.Sprintf("stats p99 < %s at %dk rows", targetLogP99, logRows/1000), stat.errors == 0 && stat.latency.p99 < targetLogP99, "%s ms", millis(stat.latency.p99))
	return nil
}

// deliverBatch posts deliveryRuns deliveries with o.Concurrency clients and waits until every
// one is delivered: the rate is deliveries over the time from the first POST to the last close.
// The deliveries' IDs (their workflow IDs) come back with it.
func deliverBatch(ctx context.Context, o Options, api *apiClient, db *pgx.Conn, name string) (float64, phase, []string, error) {
	ids := make([]string, deliveryRuns)
	month := time.Now().UTC().Format("2006-01")
	start := time.Now()
	posts := runClients(ctx, name+": POST", o.Concurrency, time.Hour, deliveryRuns, func(ctx context.Context, t int) error {
		id, err := api.postDelivery(ctx, "benevity", month+"-01", month+"-01")
		ids[t] = id
		return err
	})
	if posts.errors > 0 {
		return 0, posts, nil, fmt.Errorf("%d POSTs failed, first: %v", posts.errors, posts.firstErr)
	}
	deadline := start.Add(deliveryWaitLimit)
	for {
		var done, failed int
		err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status IN ('delivered', 'failed')), count(*) FILTER (WHERE status = 'failed')
			FROM deliveries WHERE id = ANY($1)`, ids).Scan(&done, &failed)
		if err != nil {
			return 0, posts, nil, err
		}
		if failed > 0 {
			return 0, posts, nil, fmt.Errorf("%d deliveries failed", failed)
		}
		if done == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			return 0, posts, nil, fmt.Errorf("%d of %d delivered after %s", done, len(ids), deliveryWaitLimit)
		}
		time.Sleep(50 * time.Millisecond) // polling the rows with a deadline
	}
	elapsed := time.Since(start)
	var ttd []time.Duration
	rows, err := db.Query(ctx, `SELECT extract(epoch FROM finished_at - created_at)::float8 FROM deliveries WHERE id = ANY($1)`, ids)
	if err != nil {
		return 0, posts, nil, err
	}
	for rows.Next() {
		var sec float64
		if err := rows.Scan(&sec); err != nil {
			rows.Close()
			return 0, posts, nil, err
		}
		ttd = append(ttd, time.Duration(sec*float64(time.Second)))
	}
	rows.Close()
	p := phase{name: name + ": end to end", clients: o.Concurrency, elapsed: elapsed, ops: len(ids), latency: summarize(ttd)}
	return perSecond(len(ids), elapsed), p, ids, nil
}

type seededLog struct{ total, added int }

// seedDeliveryLog tops the tenant's delivery rows up to logRows with finished synthetic
// deliveries over the last 30 days, by COPY.
func seedDeliveryLog(ctx context.Context, db *pgx.Conn, tenant string) (seededLog, error) {
	var have int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE tenant_id = $1`, tenant).Scan(&have); err != nil {
		return seededLog{}, err
	}
	need := logRows - have
	if need <= 0 {
		return seededLog{total: have}, nil
	}
	partners := []string{"benevity", "goodera", "workday"}
	statuses := []string{"delivered", "delivered", "delivered", "failed", "in_progress"}
	now := time.Now().UTC()
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([][]any, need)
	for i := range rows {
		created := now.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		status := statuses[rng.IntN(len(statuses))]
		var finished *time.Time
		if status != "in_progress" {
			f := created.Add(time.Duration(rng.Int64N(int64(time.Minute))))
			finished = &f
		}
		period := created.Truncate(24 * time.Hour)
		rows[i] = []any{"delivery-" + uuid.NewString(), tenant, partners[rng.IntN(3)], period, period, status, syntheticHash,
			1 + rng.IntN(4), created, created, finished}
	}
	_, err := db.CopyFrom(ctx, pgx.Identifier{"deliveries"},
		[]string{"id", "tenant_id", "partner", "period_start", "period_end", "status", "payload_hash", "attempts", "created_at", "updated_at", "finished_at"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return seededLog{}, fmt.Errorf("seed delivery rows: %w", err)
	}
	_, _ = db.Exec(ctx, `ANALYZE deliveries`)
	return seededLog{total: logRows, added: need}, nil
}

func setFaults(ctx context.Context, sandbox string, errorRate float64) error {
	b, _ := json.Marshal(map[string]float64{"error_rate": errorRate})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sandbox+"/_sandbox/faults", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("set sandbox faults: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("set sandbox faults: %s", resp.Status)
	}
	return nil
}

func getSandboxJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// postDelivery starts a delivery and returns its ID.
func (a *apiClient) postDelivery(ctx context.Context, partner, start, end string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	b, _ := json.Marshal(map[string]string{"partner": partner, "period_start": start, "period_end": end})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/v1/impact-in/deliveries", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	j, err := a.do(req, http.StatusAccepted)
	return j.ID, err
}

// getOK GETs path and wants a 200, discarding the body.
func (a *apiClient) getOK(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var sink bytes.Buffer
	_, _ = sink.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, apiErrorText(resp.StatusCode, sink.Bytes()))
	}
	return nil
}

// tenantID is the tenant of the bench's API key.
func (a *apiClient) tenantID(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/v1/me", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	resp, err := a.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var me struct {
		Tenant struct {
			ID string `json:"id"`
		} `json:"tenant"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&me) != nil || me.Tenant.ID == "" {
		return "", fmt.Errorf("GET /v1/me: %s", resp.Status)
	}
	return me.Tenant.ID, nil
}

// connectPostgres connects to the dev process's Postgres, for scenarios that seed or read
// rows directly.
func connectPostgres(ctx context.Context, o Options) (*pgx.Conn, error) {
	if o.DatabaseURL == "" {
		return nil, errors.New("no DATABASE_URL")
	}
	cfg, err := migrations.ConnConfig(o.DatabaseURL)
	if err != nil {
		return nil, err
	}
	db, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return db, nil
}
