package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/workflows"
)

const (
	importPath = "/v1/impact-events"
	// smallImportRows is the size of the file job-start and job-status upload.
	smallImportRows = 10
	// engineBurstForJobStart is the engine start-rate phase of job-start, shorter than engine's.
	engineBurstForJobStart = 500
	// e2eImports is how many single imports job-start runs end to end, one at a time.
	e2eImports = 30
	// statusJobs is how many finished imports job-status reads round-robin.
	statusJobs = 200
	// requestTimeout bounds one short API request; waits and big uploads have their own.
	requestTimeout = 30 * time.Second
	// longPoll is the ?wait= of GET /v1/jobs/{id} while waiting for a job to close.
	longPoll = 20 * time.Second
	// jobWaitLimit bounds the wait for one small import to close.
	jobWaitLimit = 2 * time.Minute
)

// The targets job-start and job-status check.
const (
	targetPostP99    = 100 * time.Millisecond
	targetStartRatio = 0.70
	targetImportP50  = 50 * time.Millisecond
	targetStatusP99  = 10 * time.Millisecond
)

// job is the part of the API's job resource the benchmarks read; the nested shapes are the
// API's own types.
type job struct {
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`
	Status    string         `json:"status"`
	Progress  *jobs.Progress `json:"progress"`
	CreatedAt time.Time      `json:"created_at"`
	ClosedAt  *time.Time     `json:"closed_at"`
	Result    *importResult  `json:"result"`
	Error     *jobs.Error    `json:"error"`
}

// importResult is an import job's result.
type importResult = workflows.ImportResult

// closed reports whether the job has finished for good.
func (j job) closed() bool { return j.Status != "" && jobs.Status(j.Status).Closed() }

// imported checks that a closed import completed and took every one of its rows.
func (j job) imported(rows int) error {
	switch {
	case j.Status != "completed":
		msg := ""
		if j.Error != nil {
			msg = ": " + j.Error.Message
		}
		return fmt.Errorf("job %s %s%s", j.ID, j.Status, msg)
	case j.Result == nil:
		return fmt.Errorf("job %s completed without a result", j.ID)
	case j.Result.Rejected > 0 || j.Result.Inserted+j.Result.Updated+j.Result.Unchanged != rows:
		return fmt.Errorf("job %s: %d rows, %d inserted, %d updated, %d unchanged, %d rejected; want %d rows and none rejected",
			j.ID, j.Result.Rows, j.Result.Inserted, j.Result.Updated, j.Result.Unchanged, j.Result.Rejected, rows)
	}
	return nil
}

// apiClient calls the dev process's HTTP API through one connection pool shared by every client.
type apiClient struct {
	base string
	key  string
	http *http.Client
}

func newAPIClient(o Options) *apiClient {
	idle := 2*o.Concurrency + 8
	return &apiClient{
		base: strings.TrimRight(o.APIURL, "/"),
		key:  o.APIKey,
		http: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // loopback only, never through a proxy
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        idle,
			MaxIdleConnsPerHost: idle,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}},
	}
}

func (a *apiClient) close() { a.http.CloseIdleConnections() }

// postImport uploads size bytes of NDJSON events and returns the job the 202 carries.
func (a *apiClient) postImport(ctx context.Context, body io.Reader, size int64, timeout time.Duration) (job, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+importPath, body)
	if err != nil {
		return job{}, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/x-ndjson")
	j, err := a.do(req, http.StatusAccepted)
	if err == nil && j.ID == "" {
		err = fmt.Errorf("POST %s: 202 without a job ID", importPath)
	}
	return j, err
}

// postSmallImport uploads one fresh file of smallImportRows events.
func (a *apiClient) postSmallImport(ctx context.Context, ev *events) (job, error) {
	var body bytes.Buffer
	if err := ev.write(&body, smallImportRows); err != nil {
		return job{}, err
	}
	return a.postImport(ctx, bytes.NewReader(body.Bytes()), int64(body.Len()), requestTimeout)
}

// getJob reads a job, long-polling up to wait for it to close when wait > 0.
func (a *apiClient) getJob(ctx context.Context, id string, wait time.Duration) (job, error) {
	ctx, cancel := context.WithTimeout(ctx, wait+requestTimeout)
	defer cancel()
	u := a.base + "/v1/jobs/" + url.PathEscape(id)
	if wait > 0 {
		u += "?wait=" + wait.String()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return job{}, err
	}
	return a.do(req, http.StatusOK)
}

// waitJob long-polls a job until it closes, at most limit; onPoll, when set, sees every answer.
func (a *apiClient) waitJob(ctx context.Context, id string, poll, limit time.Duration, onPoll func(job)) (job, error) {
	deadline := time.Now().Add(limit)
	for polls := int(limit/poll) + 2; polls > 0; polls-- {
		wait := min(poll, max(time.Until(deadline), 0))
		j, err := a.getJob(ctx, id, wait.Truncate(time.Second))
		if err != nil {
			return j, err
		}
		if onPoll != nil {
			onPoll(j)
		}
		if j.closed() {
			return j, nil
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	return job{}, fmt.Errorf("job %s still not closed after %s", id, limit)
}

func (a *apiClient) do(req *http.Request, want int) (job, error) {
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Accept", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return job{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return job{}, fmt.Errorf("%s %s: read the answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != want {
		return job{}, fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, apiErrorText(resp.StatusCode, data))
	}
	var j job
	if err := json.Unmarshal(data, &j); err != nil {
		return job{}, fmt.Errorf("%s %s: decode the job: %w", req.Method, req.URL.Path, err)
	}
	return j, nil
}

// apiErrorText renders an error answer: its status and the API's {"error": {code, message}}.
func apiErrorText(status int, body []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return fmt.Sprintf("%d %s: %s", status, e.Error.Code, e.Error.Message)
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return fmt.Sprintf("%d %s", status, text)
}

// jobSet collects the IDs of jobs started by many clients.
type jobSet struct {
	mu  sync.Mutex
	ids []string
}

func (s *jobSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, id)
}

// waitImports waits, with clients long-polling clients, for every import in ids to close,
// and checks that each one took all its rows. The phase runs from since to the last
// close time the server recorded.
func waitImports(ctx context.Context, r *report, a *apiClient, name string, clients int, ids []string, since time.Time) phase {
	r.progress("waiting for %d imports to complete", len(ids))
	var mu sync.Mutex
	var lastClose time.Time
	p := runClients(ctx, name, clients, drainLimit, len(ids), func(ctx context.Context, t int) error {
		j, err := a.waitJob(ctx, ids[t], longPoll, drainLimit, nil)
		if err != nil {
			return err
		}
		if j.ClosedAt != nil {
			mu.Lock()
			if j.ClosedAt.After(lastClose) {
				lastClose = *j.ClosedAt
			}
			mu.Unlock()
		}
		return j.imported(smallImportRows)
	})
	p.clients, p.ops, p.latency = 0, p.latency.n, summary{}
	if !lastClose.IsZero() {
		p.elapsed = lastClose.Sub(since)
	}
	return p
}

// runJobStart measures starting an import through the API against starting a bare workflow.
func runJobStart(ctx context.Context, o Options, r *report) error {
	ev, err := newEvents(time.Now().UnixNano())
	if err != nil {
		return err
	}
	a := newAPIClient(o)
	defer a.close()
	r.fact("event IDs", "fresh per request (seed %d for this run)", ev.seed)

	// The ceiling, measured in the same run so that both figures see the same machine state.
	startRate, floor, err := engineStartRate(ctx, o, r, true)
	if err != nil {
		return err
	}

	r.progress("%d imports of %d rows, one at a time: POST, then GET ?wait=%s until completed", e2eImports, smallImportRows, longPoll)
	e2e := r.add(runClients(ctx, "import end to end, 1 client", 1, drainLimit, e2eImports, func(ctx context.Context, _ int) error {
		j, err := a.postSmallImport(ctx, ev)
		if err != nil {
			return err
		}
		if j, err = a.waitJob(ctx, j.ID, longPoll, jobWaitLimit, nil); err != nil {
			return err
		}
		return j.imported(smallImportRows)
	}))
	if err := ctx.Err(); err != nil {
		return err
	}
	if e2e.latency.n == 0 {
		return fmt.Errorf("no import completed: %w", e2e.firstErr)
	}

	r.progress("%d clients POSTing %d-row imports for %s", o.Concurrency, smallImportRows, o.Duration)
	var started jobSet
	loadStart := time.Now()
	cpu := startCPU(o.PID)
	load := r.add(runClients(ctx, fmt.Sprintf("POST import, %d clients", o.Concurrency), o.Concurrency, o.Duration, 0, func(ctx context.Context, _ int) error {
		j, err := a.postSmallImport(ctx, ev)
		if err == nil {
			started.add(j.ID)
		}
		return err
	}))
	load.cpu = cpu.stop()
	if err := ctx.Err(); err != nil {
		return err
	}
	done := r.add(waitImports(ctx, r, a, "imports completed", o.Concurrency, started.ids, loadStart))
	if err := ctx.Err(); err != nil {
		return err
	}

	// The latency target is read at the throughput target: the same clients offering 70% of
	// the engine's start rate, open loop (see runPaced).
	offered := targetStartRatio * startRate
	r.progress("%d clients offering %.0f imports/s (%.0f%% of the engine's start rate) for %s, open loop", o.Concurrency, offered, 100*targetStartRatio, o.Duration)
	var pacedJobs jobSet
	pacedStart := time.Now()
	paced := r.add(runPaced(ctx, fmt.Sprintf("POST import, %d clients, %.0f/s offered", o.Concurrency, offered), o.Concurrency, offered, o.Duration,
		func(ctx context.Context, _ int) error {
			j, err := a.postSmallImport(ctx, ev)
			if err == nil {
				pacedJobs.add(j.ID)
			}
			return err
		}))
	if err := ctx.Err(); err != nil {
		return err
	}
	pacedDone := r.add(waitImports(ctx, r, a, "paced imports completed", o.Concurrency, pacedJobs.ids, pacedStart))
	if err := ctx.Err(); err != nil {
		return err
	}

	ratio := 0.0
	if startRate > 0 {
		ratio = load.rate() / startRate
	}
	r.fact("job-start throughput", "%.0f imports started/s = %.0f%% of the engine's %.0f starts/s", load.rate(), 100*ratio, startRate)
	if ms, ok := load.cpuPerOp(); ok {
		r.fact("dev CPU per import", "%.2f ms while POSTing (API, worker and server together; the imports run as they are started)", ms)
	}
	if floor.perStart > 0 && floor.perJob > 0 {
		// On a machine where the dev process is CPU-bound, rates go as the inverse of these.
		r.fact("server CPU", "%.2f ms per bare start, %.2f ms per workflow completing in its first task: a job run to completion is at most %.0f%% of the start rate, before any work of its own",
			floor.perStart, floor.perJob, 100*floor.perStart/floor.perJob)
	}
	r.fact("import backlog", "%d imports completed %.2f s after the load began: %.0f imports/s end to end", done.ops, done.elapsed.Seconds(), done.rate())
	r.fact("closed loop", "%d clients each POSTing again as soon as answered: p99 %s ms, which is queueing (%d clients / %.0f/s = %.0f ms mean)",
		o.Concurrency, millis(load.latency.p99), o.Concurrency, load.rate(), 1000*float64(o.Concurrency)/max(load.rate(), 1))
	r.fact("paced", "%.0f imports/s offered, %.0f/s answered; %d completed %.2f s after the load began",
		offered, paced.rate(), pacedDone.ops, pacedDone.elapsed.Seconds())
	r.check(fmt.Sprintf("POST p99 < %d ms at %d clients offering the throughput target", targetPostP99.Milliseconds(), o.Concurrency),
		paced.latency.n > 0 && paced.errors == 0 && paced.latency.p99 < targetPostP99, "p99 %s ms at %.0f/s offered, %d errors", millis(paced.latency.p99), offered, paced.errors)
	r.check(fmt.Sprintf("job-start rate ≥ %.0f%% of engine start rate", 100*targetStartRatio), ratio >= targetStartRatio,
		"%.0f%% (%.0f/s vs %.0f/s)", 100*ratio, load.rate(), startRate)
	r.check(fmt.Sprintf("single import end to end p50 < %d ms", targetImportP50.Milliseconds()),
		e2e.errors == 0 && e2e.latency.p50 < targetImportP50, "p50 %s ms, p99 %s ms, %d errors", millis(e2e.latency.p50), millis(e2e.latency.p99), e2e.errors)
	r.check("every import completes with all its rows", load.errors == 0 && done.errors == 0 && done.ops == len(started.ids) &&
		pacedDone.errors == 0 && pacedDone.ops == len(pacedJobs.ids),
		"%d of %d", done.ops+pacedDone.ops, len(started.ids)+len(pacedJobs.ids))
	return nil
}

// engineStartRate runs a shorter engine burst (and drains it, so it does not weigh on what
// follows) and returns the starts per second. With withCost it also runs a phase of the
// smallest workflows run to completion by the bench's own worker, and returns what the
// server's CPU alone costs per start and per such job, against which the API's figures are
// read.
func engineStartRate(ctx context.Context, o Options, r *report, withCost bool) (float64, serverCost, error) {
	e, err := dialEngine(ctx, o)
	if err != nil {
		return 0, serverCost{}, err
	}
	defer e.close()
	phaseLen := max(o.Duration/2, time.Second)
	burst, err := e.burstAndDrain(ctx, o, r, engineBurstForJobStart, phaseLen)
	if err != nil || !withCost {
		return burst.rate(), serverCost{}, err
	}
	// Started without waiting for the result, as the API answers once a job is started.
	r.progress("%d clients starting workflows that complete in their first task, eager start, for %s", o.Concurrency, phaseLen)
	cpu := startCPU(o.PID)
	floor := r.add(runClients(ctx, fmt.Sprintf("start first-task workflows, %d clients, eager", o.Concurrency), o.Concurrency, phaseLen, 0,
		func(ctx context.Context, _ int) error {
			_, err := e.start(ctx, engineFirstTaskName, true)
			return err
		}))
	// The CPU is counted until the last of them has completed.
	if err := e.waitQueueIdle(ctx, drainLimit); err != nil {
		return 0, serverCost{}, err
	}
	floor.cpu = cpu.stop()
	var c serverCost
	c.perStart, _ = burst.cpuPerOp()
	c.perJob, _ = floor.cpuPerOp()
	return burst.rate(), c, ctx.Err()
}

// serverCost is the dev process's CPU time, in milliseconds, for one bare start and for one
// workflow that completes in its first task (both driven from the bench process, so the
// Temporal server's alone); zero when not measured.
type serverCost struct {
	perStart, perJob float64
}

// runJobStatus measures reading a job: ~200 finished imports, read round-robin.
func runJobStatus(ctx context.Context, o Options, r *report) error {
	ev, err := newEvents(time.Now().UnixNano())
	if err != nil {
		return err
	}
	a := newAPIClient(o)
	defer a.close()

	r.progress("creating %d imports of %d rows", statusJobs, smallImportRows)
	ids := make([]string, statusJobs)
	createStart := time.Now()
	created := r.add(runClients(ctx, "create imports", o.Concurrency, drainLimit, statusJobs, func(ctx context.Context, t int) error {
		j, err := a.postSmallImport(ctx, ev)
		ids[t] = j.ID // each ticket is one goroutine's alone
		return err
	}))
	if err := ctx.Err(); err != nil {
		return err
	}
	var have []string
	for _, id := range ids {
		if id != "" {
			have = append(have, id)
		}
	}
	if len(have) == 0 {
		return fmt.Errorf("no import was created: %w", created.firstErr)
	}
	r.add(waitImports(ctx, r, a, "imports completed", o.Concurrency, have, createStart))
	if err := ctx.Err(); err != nil {
		return err
	}

	r.progress("%d clients reading those %d jobs round-robin for %s", o.Concurrency, len(have), o.Duration)
	read := r.add(runClients(ctx, fmt.Sprintf("GET job, %d clients", o.Concurrency), o.Concurrency, o.Duration, 0, func(ctx context.Context, t int) error {
		_, err := a.getJob(ctx, have[t%len(have)], 0)
		return err
	}))
	if err := ctx.Err(); err != nil {
		return err
	}
	r.fact("jobs read", "%d distinct finished imports, round-robin", len(have))
	r.check(fmt.Sprintf("GET p99 < %d ms at %d clients", targetStatusP99.Milliseconds(), o.Concurrency),
		read.latency.n > 0 && read.errors == 0 && read.latency.p99 < targetStatusP99, "p99 %s ms, %d errors", millis(read.latency.p99), read.errors)
	return nil
}

// serveSandbox serves a third party's sandbox on addr, where the dev process under test was
// told to find it, until stop is called.
func serveSandbox(addr string, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() { _ = srv.Close() }, nil
}
