package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/demo"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/temporal"
)

// The privacy scenario's sizes and targets.
const (
	// codecRounds alternate plaintext and encrypted job starts, codecStarts each, so that
	// both see the same drift of the machine.
	codecRounds = 3
	codecStarts = 300
	// codecInput is the size of a job's input as a small import's is (IDs, counts, options).
	codecInputBytes = 400
	// decodeSamples 1 MB payloads go through /codec/decode one at a time.
	decodeSamples  = 30
	decodePayloadB = 1 << 20
	// eraseAmong is how many events the tenant must hold around the erased participant.
	eraseAmong  = 1_000_000
	eraseEvents = 20
	// retentionRows expired events are seeded in a tenant of their own and purged.
	retentionRows = 1_000_000

	targetCodecRatio = 0.90
	targetErase      = 10 * time.Second
)

// runPrivacy measures what privacy costs: the payload codec's share of a job start, the
// remote codec on a 1 MB payload, a participant's erasure among a million events, and a
// retention run over a million expired events.
func runPrivacy(ctx context.Context, o Options, r *report) error {
	a := newAPIClient(o)
	defer a.close()
	db, err := connectPostgres(ctx, o)
	if err != nil {
		return err
	}
	defer db.Close(context.Background())

	if err := codecOverhead(ctx, o, r); err != nil {
		return err
	}
	if err := codecDecode1MB(ctx, a, r); err != nil {
		return err
	}
	if err := eraseAmongAMillion(ctx, a, db, r); err != nil {
		return err
	}
	return retentionOverAMillion(ctx, o, db, r)
}

// codecOverhead runs first-task workflows with an import-sized input, start to result,
// through two clients and workers alike but for the payload codec, in alternating rounds.
func codecOverhead(ctx context.Context, o Options, r *report) error {
	plain, err := dialEngineWith(ctx, o, nil)
	if err != nil {
		return err
	}
	defer plain.close()
	sealed, err := dialEngine(ctx, o)
	if err != nil {
		return err
	}
	defer sealed.close()
	for _, e := range []*engine{plain, sealed} {
		if err := e.startWorker(); err != nil {
			return err
		}
	}
	input := strings.Repeat("x", codecInputBytes)
	var plainRates, sealedRates []float64
	for round := 1; round <= codecRounds; round++ {
		for _, side := range []struct {
			name  string
			e     *engine
			rates *[]float64
		}{{"plaintext", plain, &plainRates}, {"encrypted", sealed, &sealedRates}} {
			r.progress("round %d: %d %s job starts, start to result, %d clients", round, codecStarts, side.name, o.Concurrency)
			p := r.add(runClients(ctx, fmt.Sprintf("job start, %s payloads, round %d", side.name, round), o.Concurrency, drainLimit, codecStarts,
				func(ctx context.Context, _ int) error { return side.e.firstTask(ctx, input) }))
			if err := ctx.Err(); err != nil {
				return err
			}
			*side.rates = append(*side.rates, p.rate())
		}
	}
	pm, sm := median(plainRates), median(sealedRates)
	ratio := 0.0
	if pm > 0 {
		ratio = sm / pm
	}
	r.fact("codec on job start", "median %.0f jobs/s encrypted against %.0f/s plaintext over %d rounds (%.0f%%); "+
		"each job is an eager start of a first-task workflow with a %d-byte input and its result, as a one-chunk import is",
		sm, pm, codecRounds, 100*ratio, codecInputBytes)
	r.check(fmt.Sprintf("encrypted job starts ≥ %.0f%% of plaintext", 100*targetCodecRatio), ratio >= targetCodecRatio, "%.0f%%", 100*ratio)
	return nil
}

// firstTask starts a first-task workflow with input and waits for its result.
func (e *engine) firstTask(ctx context.Context, input string) error {
	id := fmt.Sprintf("%s-%d", e.queue, e.seq.Add(1))
	ctx, cancel := context.WithTimeout(ctx, engineOpTimeout)
	defer cancel()
	run, err := e.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: e.queue, EnableEagerStart: true, WorkflowExecutionTimeout: engineWorkflowTimeout,
	}, engineFirstTaskName, input)
	if err != nil {
		return err
	}
	var out string
	return run.Get(ctx, &out)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// codecDecode1MB encrypts a 1 MB payload through POST /codec/encode under the key's tenant,
// then decodes it through POST /codec/decode, as the Temporal UI does for a large input.
func codecDecode1MB(ctx context.Context, a *apiClient, r *report) error {
	data := bytes.Repeat([]byte(`{"snippet":"invented evidence text"},`), decodePayloadB/37)
	body, _ := json.Marshal(map[string]any{"payloads": []map[string]any{{
		"metadata": map[string]string{"encoding": base64.StdEncoding.EncodeToString([]byte("json/plain"))},
		"data":     base64.StdEncoding.EncodeToString(data),
	}}})
	encoded, err := a.codec(ctx, "/codec/encode", body)
	if err != nil {
		return err
	}
	r.progress("%d decodes of a %s payload through /codec/decode", decodeSamples, formatBytes(int64(len(data))))
	p := r.add(runClients(ctx, fmt.Sprintf("POST /codec/decode, %s payload", formatBytes(int64(len(data)))), 1, drainLimit, decodeSamples,
		func(ctx context.Context, _ int) error {
			out, err := a.codec(ctx, "/codec/decode", encoded)
			if err == nil && !bytes.Contains(out, []byte(base64.StdEncoding.EncodeToString(data[:999]))) {
				err = errors.New("/codec/decode did not give the payload back")
			}
			return err
		}))
	r.fact("1 MB decode", "p50 %s, p99 %s through the API (HTTP, JSON and base64 included)", millis(p.latency.p50), millis(p.latency.p99))
	return nil
}

// codec posts a remote codec request and returns the answer's body.
func (a *apiClient) codec(ctx context.Context, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %s", path, apiErrorText(resp.StatusCode, data))
	}
	return data, nil
}

// eraseAmongAMillion gives one new participant of the key's tenant events, evidence and a
// row in ClickHouse, then times their erasure job from the request to its completion.
func eraseAmongAMillion(ctx context.Context, a *apiClient, db *pgx.Conn, r *report) error {
	tenant, err := a.tenantID(ctx)
	if err != nil {
		return err
	}
	var total int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM impact_events WHERE tenant_id = $1`, tenant).Scan(&total); err != nil {
		return err
	}
	if total < eraseAmong {
		return fmt.Errorf("tenant %s holds %s events, fewer than %s: run `impactflow bench import-1m` first", tenant, thousands(total), thousands(eraseAmong))
	}
	ev, err := newEvents(time.Now().UnixNano())
	if err != nil {
		return err
	}
	subject := "bench-erase-" + randomHex(6)
	name := "Benedikta Ørsted-Nakamura"
	person := []map[string]any{{"id": subject, "full_name": name, "email": subject + "@example.org", "phone": "+447700900512"}}
	if err := a.call(ctx, http.MethodPost, "/v1/participants", person, http.StatusOK, nil); err != nil {
		return err
	}
	var rows bytes.Buffer
	if err := demo.WriteSyntheticEvents(&rows, ev.programs, []string{subject}, eraseEvents, ev.seed, ev.now); err != nil {
		return err
	}
	j, err := a.postImport(ctx, bytes.NewReader(rows.Bytes()), int64(rows.Len()), requestTimeout)
	if err == nil {
		j, err = a.waitJob(ctx, j.ID, longPoll, jobWaitLimit, nil)
	}
	if err != nil {
		return fmt.Errorf("import the participant's events: %w", err)
	}
	sync, err := a.startSync(ctx, "incremental")
	if err == nil {
		sync, err = a.waitJob(ctx, sync.ID, longPoll, jobWaitLimit, nil)
	}
	if err != nil {
		return fmt.Errorf("sync before the erasure: %w", err)
	}
	r.progress("erasing %s among %s events of %s", subject, thousands(total+eraseEvents), tenant)
	start := time.Now()
	var erase job
	if err := a.call(ctx, http.MethodPost, "/v1/privacy/participants/"+subject+"/erase", map[string]string{"reason": "bench privacy"}, http.StatusAccepted, &erase); err != nil {
		return err
	}
	done, err := a.waitJob(ctx, erase.ID, time.Second, jobWaitLimit, nil)
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	if done.Status != string(jobs.StatusCompleted) {
		return fmt.Errorf("erase job %s: %s", erase.ID, done.Status)
	}
	var res struct {
		Result struct {
			Postgres   map[string]int64 `json:"postgres"`
			ClickHouse map[string]any   `json:"clickhouse"`
			Deleted    []string         `json:"deleted_executions"`
		} `json:"result"`
	}
	if err := a.call(ctx, http.MethodGet, "/v1/jobs/"+erase.ID, nil, http.StatusOK, &res); err != nil {
		return err
	}
	r.fact("erase", "%s end to end (request to completed job), among %s events: %d events in Postgres, %d executions deleted, ClickHouse %v",
		millis(elapsed), thousands(total+eraseEvents), res.Result.Postgres["impact_events"], len(res.Result.Deleted), res.Result.ClickHouse)
	r.check(fmt.Sprintf("erase < %s", targetErase), elapsed < targetErase, "%s", millis(elapsed))
	return nil
}

// retentionOverAMillion seeds a tenant of its own with a million events past a 30-day
// retention and times its retention job.
func retentionOverAMillion(ctx context.Context, o Options, db *pgx.Conn, r *report) error {
	tenant := "bench-retention-" + randomHex(4)
	r.progress("seeding %s expired events for %s", thousands(retentionRows), tenant)
	for _, q := range []string{
		`INSERT INTO tenants (id, name, industry, region, size_band) VALUES ($1, $1, 'bench', 'eu', '1-50')`,
		`INSERT INTO programs (tenant_id, code, name) VALUES ($1, 'bench', 'Bench')`,
		`INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value)
			SELECT $1, 'ret-' || g, (SELECT id FROM programs WHERE tenant_id = $1), 'p-' || (g % 5000), 'session_completed',
				now() - interval '400 days' + g * interval '1 second', 1
			FROM generate_series(1, ` + fmt.Sprint(retentionRows) + `) g`,
		`INSERT INTO tenant_retention (tenant_id, class, days) VALUES ($1, 'events', 30)`,
	} {
		if _, err := db.Exec(ctx, q, tenant); err != nil {
			return fmt.Errorf("seed %s: %w", tenant, err)
		}
	}
	defer func() {
		// The purge left a tombstone per event for the sync; the tenant goes with them.
		c := context.Background()
		for _, q := range []string{`DELETE FROM impact_events WHERE tenant_id = $1`, `DELETE FROM impact_event_tombstones WHERE tenant_id = $1`,
			`DELETE FROM tenant_retention WHERE tenant_id = $1`, `DELETE FROM programs WHERE tenant_id = $1`, `DELETE FROM tenants WHERE id = $1`} {
			_, _ = db.Exec(c, q, tenant)
		}
	}()
	// A plaintext input: the workers' codec reads payloads from before encryption, and a
	// tenant ID and an instant are no personal data.
	plain, err := dialEngineWith(ctx, o, nil)
	if err != nil {
		return err
	}
	defer plain.close()
	start := time.Now()
	run, err := plain.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: jobs.NewID(jobs.KindRetention), TaskQueue: temporal.TaskQueuePrivacy,
		TypedSearchAttributes: sdktemporal.NewSearchAttributes(
			temporal.SearchAttrTenantID.ValueSet(tenant), temporal.SearchAttrJobKind.ValueSet(string(jobs.KindRetention))),
	}, "TenantRetentionWorkflow", map[string]any{"tenant_id": tenant, "as_of": start.UTC()})
	if err != nil {
		return err
	}
	r.progress("retention job %s running", run.GetID())
	// The result is encrypted under the tenant's key, which this process does not hold:
	// what was deleted is read from Postgres instead.
	if err := run.Get(ctx, nil); err != nil {
		return fmt.Errorf("retention job %s: %w", run.GetID(), err)
	}
	elapsed := time.Since(start)
	var left int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM impact_events WHERE tenant_id = $1`, tenant).Scan(&left); err != nil {
		return err
	}
	deleted := retentionRows - left
	r.fact("retention", "%s expired events deleted in %s: %.0f rows/s (batches of 10,000, a tombstone each for the sync)",
		thousands(deleted), millis(elapsed), float64(deleted)/elapsed.Seconds())
	r.check("retention deleted every expired event", deleted == retentionRows, "%s of %s", thousands(deleted), thousands(retentionRows))
	return nil
}
