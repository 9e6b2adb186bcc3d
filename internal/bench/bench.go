// Package bench drives a running `impactflow dev` with concurrent clients and reports
// throughput and exact latency percentiles: `impactflow bench <scenario>`.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Defaults for Options fields left zero.
const (
	defaultConcurrency = 50
	defaultDuration    = 10 * time.Second
	defaultNamespace   = "default"
)

// Options says which running dev process to drive and how hard.
type Options struct {
	APIURL          string            // e.g. http://127.0.0.1:8080
	APIKey          string            // Bearer key (dev writes it to DATA_DIR/dev-api-key)
	TemporalAddress string            // e.g. 127.0.0.1:7233
	Namespace       string            // "" = "default"
	Concurrency     int               // concurrent clients, default 50
	Duration        time.Duration     // how long a timed scenario runs, default 10s
	PID             int               // the dev process (DATA_DIR/impactflow.pid), for memory sampling; 0 = don't sample
	Out             io.Writer         // where the report goes; nil = stdout
	DatabaseURL     string            // the dev Postgres, for scenarios that seed rows directly
	SandboxURLs     map[string]string // running partner sandboxes by partner (dev writes them to DATA_DIR)
}

// scenario is one benchmark: it measures, then fills in its report.
type scenario struct {
	name  string
	about string
	run   func(ctx context.Context, o Options, r *report) error
}

var scenarios = []scenario{
	{"engine", "trivial one-activity workflows straight on the embedded Temporal server: the ceiling", runEngine},
	{"job-start", "POST a 10-row NDJSON import under load, against the engine's start rate", runJobStart},
	{"job-status", "GET /v1/jobs/{id} under load over ~200 finished imports", runJobStatus},
	{"import-1m", "one upload of 1,000,000 events, end to end, with the dev process's peak RSS", runImport1M},
	{"notification", "notifications sent/s through the SendGrid sandbox, quota check latency, 10,000 pending with memory", runNotification},
	{"delivery", "deliveries end to end against the Benevity sandbox, clean and with 30% 5xx; delivery log and stats p99 over 100,000 rows", runDelivery},
	{"analytics-backfill", "backfill the key's tenant into ClickHouse: rows/s and peak RSS (run import-1m first for volume)", runAnalyticsBackfill},
	{"analytics-lag", "sync lag while a writer adds 1,000 events/s and a sync starts every 5 s", runAnalyticsLag},
	{"analytics-api", "analytics API p95 uncached and cached per endpoint, and the cache hit rate under a repeated mix (~6,600 queries of the daily budget)", runAnalyticsAPI},
	{"privacy", "payload codec's share of a job start, 1 MB /codec/decode, a participant's erasure among 1,000,000 events (run import-1m first), retention over 1,000,000 expired events", runPrivacy},
	{"report", "AI report jobs through the OpenAI sandbox: reports/s, 100 at once with 800 ms calls, start p99 at 100 clients", runReport},
}

// Scenarios lists the scenario names Run accepts, for usage text.
func Scenarios() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

// Run runs one scenario against the dev process o points at and writes its report to o.Out.
// It fails when a scenario cannot run, and when a target the scenario checks is missed.
func Run(ctx context.Context, name string, o Options) error {
	var sc *scenario
	for i := range scenarios {
		if scenarios[i].name == name {
			sc = &scenarios[i]
		}
	}
	if sc == nil {
		return fmt.Errorf("bench: unknown scenario %q: choose one of %s", name, strings.Join(Scenarios(), ", "))
	}
	o = o.withDefaults()
	if err := o.checkLoopback(); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "bench %s: %s\n", sc.name, sc.about)
	r := &report{scenario: sc.name, out: o.Out}
	err := sc.run(ctx, o, r)
	r.write(o.Out)
	if err != nil {
		return fmt.Errorf("bench %s: %w", sc.name, err)
	}
	if failed := r.failed(); failed > 0 {
		return fmt.Errorf("bench %s: %d of %d targets missed", sc.name, failed, len(r.checks))
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = defaultConcurrency
	}
	if o.Duration <= 0 {
		o.Duration = defaultDuration
	}
	if o.Namespace == "" {
		o.Namespace = defaultNamespace
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	return o
}

// checkLoopback refuses to load anything but this machine: a benchmark writes millions of
// rows and thousands of workflows into whatever it is pointed at.
func (o Options) checkLoopback() error {
	if o.APIURL != "" {
		u, err := url.Parse(o.APIURL)
		if err != nil || u.Host == "" {
			return fmt.Errorf("bench: API URL %q is not an http://host:port URL", o.APIURL)
		}
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("bench: API URL %q is not a loopback address; bench only drives a local `impactflow dev`", o.APIURL)
		}
	}
	if o.TemporalAddress != "" {
		host, _, err := net.SplitHostPort(o.TemporalAddress)
		if err != nil || !isLoopback(host) {
			return fmt.Errorf("bench: Temporal address %q is not a loopback host:port; bench only drives a local `impactflow dev`", o.TemporalAddress)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// recorder collects the latencies and errors of one phase from many goroutines.
type recorder struct {
	mu       sync.Mutex
	lat      []time.Duration
	errs     int
	firstErr error
}

// observe records one operation: its latency when it succeeded, its error otherwise.
func (r *recorder) observe(d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs++
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.lat = append(r.lat, d)
}

// phase is the measured outcome of one phase of a scenario.
func (r *recorder) phase(name string, clients int, elapsed time.Duration) phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	return phase{name: name, clients: clients, elapsed: elapsed, errors: r.errs, firstErr: r.firstErr, latency: summarize(r.lat)}
}

// runClients runs clients goroutines, each calling op until d has passed since the start,
// limit operations have been started in all (0 = no limit) or ctx ends, and records each
// call's latency. op gets a ticket number unique within the phase. An operation cut short
// by ctx is not counted. elapsed runs until the last operation in flight has returned.
func runClients(ctx context.Context, name string, clients int, d time.Duration, limit int, op func(ctx context.Context, ticket int) error) phase {
	var rec recorder
	var tickets atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t := int(tickets.Add(1)) - 1
				if limit > 0 && t >= limit {
					return
				}
				t0 := time.Now()
				err := op(ctx, t)
				if err != nil && ctx.Err() != nil {
					return
				}
				rec.observe(time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	return rec.phase(name, clients, time.Since(start))
}

// runPaced offers rate operations per second for d, open loop: operation i is due at
// start + i/rate whether or not earlier ones have returned, and clients goroutines serve
// the due operations in order. Latency runs from when an operation was due, so time spent
// waiting for a free client counts (a closed loop, where a slow answer delays the next
// request, would hide it). A closed loop of N clients measures queueing instead: its mean
// latency is N divided by the throughput, whatever the service time, so a latency target
// "at N clients" is measured here, at a stated offered rate.
func runPaced(ctx context.Context, name string, clients int, rate float64, d time.Duration, op func(ctx context.Context, ticket int) error) phase {
	var rec recorder
	n := int(rate * d.Seconds())
	if rate <= 0 || n <= 0 {
		return rec.phase(name, clients, 0)
	}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	due := make(chan int, n)
	for i := range n {
		due <- i
	}
	close(due)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for t := range due {
				at := start.Add(time.Duration(t) * interval)
				// Pacing the offered load, not waiting for async work.
				if wait := time.Until(at); wait > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				}
				err := op(ctx, t)
				if err != nil && ctx.Err() != nil {
					return
				}
				rec.observe(time.Since(at), err)
			}
		})
	}
	wg.Wait()
	return rec.phase(name, clients, time.Since(start))
}

// summary describes a set of latencies exactly.
type summary struct {
	n                  int
	mean               time.Duration
	p50, p95, p99, max time.Duration
}

// summarize sorts a copy of lat and reads its percentiles.
func summarize(lat []time.Duration) summary {
	if len(lat) == 0 {
		return summary{}
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return summary{
		n:    len(sorted),
		mean: sum / time.Duration(len(sorted)),
		p50:  percentile(sorted, 50),
		p95:  percentile(sorted, 95),
		p99:  percentile(sorted, 99),
		max:  sorted[len(sorted)-1],
	}
}

// percentile is the nearest-rank p-th percentile of sorted: the smallest value that at
// least p% of the values are less than or equal to. It is 0 for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// perSecond is n per second of d, 0 when d is not positive.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// phase is one line of a report's table.
type phase struct {
	name     string
	clients  int
	elapsed  time.Duration
	ops      int // successful operations; latency.n when zero
	errors   int
	firstErr error
	latency  summary       // zero when the phase has no per-operation latency
	cpu      time.Duration // the dev process's CPU time during the phase; 0 when not measured
}

// cpuPerOp is the dev process's CPU time per operation of the phase, in milliseconds.
func (p phase) cpuPerOp() (float64, bool) {
	if p.cpu <= 0 || p.count() == 0 {
		return 0, false
	}
	return float64(p.cpu) / float64(time.Millisecond) / float64(p.count()), true
}

// cpuClock reads the dev process's CPU time at the start of a phase.
type cpuClock struct {
	pid    int
	before time.Duration
	err    error
}

// startCPU starts measuring the CPU time of the dev process pid (nothing when pid is 0).
func startCPU(pid int) cpuClock {
	before, err := readProcCPU(pid)
	return cpuClock{pid: pid, before: before, err: err}
}

// stop returns the CPU time the dev process used since startCPU, or 0 when it could not be read.
func (c cpuClock) stop() time.Duration {
	after, err := readProcCPU(c.pid)
	if c.err != nil || err != nil {
		return 0
	}
	return after - c.before
}

func (p phase) count() int {
	if p.ops > 0 {
		return p.ops
	}
	return p.latency.n
}

func (p phase) rate() float64 { return perSecond(p.count(), p.elapsed) }

// check is a target and whether it was met.
type check struct {
	target   string
	measured string
	ok       bool
}

// report is what a scenario measured: a table of phases, facts and checked targets.
type report struct {
	scenario string
	out      io.Writer // progress lines go here as the scenario runs
	phases   []phase
	facts    [][2]string
	checks   []check
}

// progress prints a line while the scenario runs, so a long run shows where it is.
func (r *report) progress(format string, args ...any) {
	if r.out != nil {
		fmt.Fprintf(r.out, "  · "+format+"\n", args...)
	}
}

func (r *report) add(p phase) phase {
	r.phases = append(r.phases, p)
	return p
}

func (r *report) fact(label, format string, args ...any) {
	r.facts = append(r.facts, [2]string{label, fmt.Sprintf(format, args...)})
}

func (r *report) check(target string, ok bool, format string, args ...any) {
	r.checks = append(r.checks, check{target: target, measured: fmt.Sprintf(format, args...), ok: ok})
}

func (r *report) failed() int {
	n := 0
	for _, c := range r.checks {
		if !c.ok {
			n++
		}
	}
	return n
}

// write prints the report: the phase table, then the facts, then the targets.
func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "\nscenario %s\n", r.scenario)
	if len(r.phases) > 0 {
		writeTable(w, r.phases)
	}
	var errs []string
	for _, p := range r.phases {
		if p.firstErr != nil {
			errs = append(errs, fmt.Sprintf("%s: %d errors, first: %v", p.name, p.errors, p.firstErr))
		}
	}
	if len(r.facts) > 0 || len(errs) > 0 {
		fmt.Fprintln(w)
		writeFacts(w, r.facts)
		for _, e := range errs {
			fmt.Fprintf(w, "  error  %s\n", e)
		}
	}
	if len(r.checks) > 0 {
		fmt.Fprintln(w)
		writeChecks(w, r.checks)
	}
}

// writeTable prints phases as aligned columns; cells without a value show "-".
func writeTable(w io.Writer, phases []phase) {
	width := len("phase")
	for _, p := range phases {
		width = max(width, len(p.name))
	}
	fmt.Fprintf(w, "  %-*s %7s %8s %6s %9s %9s %9s %9s %9s\n", width, "phase", "clients", "ops", "errors", "ops/s", "p50 ms", "p95 ms", "p99 ms", "max ms")
	for _, p := range phases {
		clients := "-"
		if p.clients > 0 {
			clients = fmt.Sprint(p.clients)
		}
		lat := [4]string{"-", "-", "-", "-"}
		if p.latency.n > 0 {
			lat = [4]string{millis(p.latency.p50), millis(p.latency.p95), millis(p.latency.p99), millis(p.latency.max)}
		}
		fmt.Fprintf(w, "  %-*s %7s %8d %6d %9.1f %9s %9s %9s %9s\n", width, p.name, clients, p.count(), p.errors, p.rate(), lat[0], lat[1], lat[2], lat[3])
	}
}

func writeFacts(w io.Writer, facts [][2]string) {
	width := 0
	for _, f := range facts {
		width = max(width, len(f[0]))
	}
	for _, f := range facts {
		fmt.Fprintf(w, "  %-*s  %s\n", width, f[0], f[1])
	}
}

func writeChecks(w io.Writer, checks []check) {
	// Widths count runes: targets say "≥".
	width := 0
	for _, c := range checks {
		width = max(width, utf8.RuneCountInString(c.target))
	}
	for _, c := range checks {
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(c.target))
		fmt.Fprintf(w, "  %s  %s%s  %s\n", verdict(c.ok), c.target, pad, c.measured)
	}
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// millis formats d in milliseconds with two decimals.
func millis(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

// randomHex returns n random bytes in hex, for names that must not collide between runs.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
