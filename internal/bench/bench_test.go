package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/impactflow/impactflow/internal/jobs"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(float64(i + 1))
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{ms(7)}, 99, ms(7)},
		{"p0 is the minimum", hundred, 0, ms(1)},
		{"p50 of 1..100", hundred, 50, ms(50)},
		{"p95 of 1..100", hundred, 95, ms(95)},
		{"p99 of 1..100", hundred, 99, ms(99)},
		{"p100 is the maximum", hundred, 100, ms(100)},
		{"p50 of two is the lower", []time.Duration{ms(1), ms(2)}, 50, ms(1)},
		{"p50 of three is the middle", []time.Duration{ms(1), ms(2), ms(3)}, 50, ms(2)},
		{"p99 of ten is the maximum", hundred[:10], 99, ms(10)},
		{"p90 of ten is the ninth", hundred[:10], 90, ms(9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		lat  []time.Duration
		want summary
	}{
		{"empty", nil, summary{}},
		{"unsorted input", []time.Duration{ms(30), ms(10), ms(20)},
			summary{n: 3, mean: ms(20), p50: ms(20), p95: ms(30), p99: ms(30), max: ms(30)}},
		{"one slow outlier in 100", append(repeat(ms(2), 99), ms(500)),
			summary{n: 100, mean: ms(6.98), p50: ms(2), p95: ms(2), p99: ms(2), max: ms(500)}},
		{"two slow outliers in 100", append(repeat(ms(2), 98), ms(400), ms(500)),
			summary{n: 100, mean: ms(10.96), p50: ms(2), p95: ms(2), p99: ms(400), max: ms(500)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.lat...)
			if got := summarize(tt.lat); got != tt.want {
				t.Errorf("summarize = %+v, want %+v", got, tt.want)
			}
			for i := range in {
				if in[i] != tt.lat[i] {
					t.Fatalf("summarize reordered its input")
				}
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestPerSecond(t *testing.T) {
	tests := []struct {
		n    int
		d    time.Duration
		want float64
	}{
		{0, time.Second, 0},
		{100, 0, 0},
		{100, -time.Second, 0},
		{500, 2 * time.Second, 250},
		{3, 1500 * time.Millisecond, 2},
	}
	for _, tt := range tests {
		if got := perSecond(tt.n, tt.d); got != tt.want {
			t.Errorf("perSecond(%d, %v) = %v, want %v", tt.n, tt.d, got, tt.want)
		}
	}
}

func TestMillisAndVerdict(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0.00"},
		{1500 * time.Microsecond, "1.50"},
		{ms(99.994), "99.99"},
		{2 * time.Second, "2000.00"},
	}
	for _, tt := range tests {
		if got := millis(tt.d); got != tt.want {
			t.Errorf("millis(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if verdict(true) != "PASS" || verdict(false) != "FAIL" {
		t.Errorf("verdict(true), verdict(false) = %s, %s", verdict(true), verdict(false))
	}
}

func TestWriteTable(t *testing.T) {
	phases := []phase{
		{name: "start, no worker", clients: 50, elapsed: 4 * time.Second, errors: 1,
			latency: summary{n: 2000, p50: ms(95.2), p95: ms(210), p99: ms(480.3), max: ms(510)}},
		{name: "drain backlog", elapsed: 16 * time.Second, ops: 2000},
	}
	var b bytes.Buffer
	writeTable(&b, phases)
	want := "" +
		"  phase            clients      ops errors     ops/s    p50 ms    p95 ms    p99 ms    max ms\n" +
		"  start, no worker      50     2000      1     500.0     95.20    210.00    480.30    510.00\n" +
		"  drain backlog          -     2000      0     125.0         -         -         -         -\n"
	if b.String() != want {
		t.Errorf("writeTable:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestReportWrite(t *testing.T) {
	r := &report{scenario: "job-status"}
	r.add(phase{name: "GET job, 50 clients", clients: 50, elapsed: time.Second, errors: 2, firstErr: errors.New("boom"),
		latency: summary{n: 100, p50: ms(1), p95: ms(2), p99: ms(3), max: ms(4)}})
	r.fact("jobs read", "%d distinct", 200)
	r.fact("x", "y")
	r.check("GET p99 < 10 ms", true, "p99 %s ms", "3.00")
	r.check("every import completes", false, "%d of %d", 1, 2)
	r.check("rate ≥ 70%", true, "80%%")
	var b bytes.Buffer
	r.write(&b)
	out := b.String()
	for _, want := range []string{
		"scenario job-status\n",
		"  GET job, 50 clients      50      100      2     100.0      1.00      2.00      3.00      4.00\n",
		"  jobs read  200 distinct\n",
		"  x          y\n",
		"  error  GET job, 50 clients: 2 errors, first: boom\n",
		"  PASS  GET p99 < 10 ms         p99 3.00 ms\n",
		"  FAIL  every import completes  1 of 2\n",
		"  PASS  rate ≥ 70%              80%\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if r.failed() != 1 {
		t.Errorf("failed() = %d, want 1", r.failed())
	}
}

func TestRunClients(t *testing.T) {
	t.Run("stops at the limit", func(t *testing.T) {
		var calls atomic.Int64
		seen := make([]atomic.Bool, 25)
		p := runClients(context.Background(), "limited", 4, time.Minute, 25, func(_ context.Context, ticket int) error {
			calls.Add(1)
			if seen[ticket].Swap(true) {
				return fmt.Errorf("ticket %d twice", ticket)
			}
			if ticket%5 == 0 {
				return errors.New("every fifth fails")
			}
			return nil
		})
		if calls.Load() != 25 || p.latency.n != 20 || p.errors != 5 || p.firstErr == nil || p.clients != 4 {
			t.Errorf("calls %d, phase %+v; want 25 calls, 20 ok, 5 errors", calls.Load(), p)
		}
	})
	t.Run("stops at the deadline", func(t *testing.T) {
		start := time.Now()
		p := runClients(context.Background(), "timed", 2, 50*time.Millisecond, 0, func(ctx context.Context, _ int) error {
			select {
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
			}
			return nil
		})
		if took := time.Since(start); took > 2*time.Second || p.latency.n == 0 || p.errors != 0 {
			t.Errorf("took %v, phase %+v", took, p)
		}
	})
	t.Run("stops when ctx ends, without counting the cut-short call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		p := runClients(ctx, "canceled", 3, time.Minute, 0, func(ctx context.Context, ticket int) error {
			if ticket == 2 {
				cancel()
			}
			<-ctx.Done()
			return ctx.Err()
		})
		if p.errors != 0 || p.latency.n != 0 {
			t.Errorf("phase %+v, want nothing recorded", p)
		}
	})
}

func TestParseProcStatus(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		rss, hwm int64
		wantErr  bool
	}{
		{"typical", "Name:\timpactflow\nVmPeak:\t 2000000 kB\nVmHWM:\t  524288 kB\nVmRSS:\t  262144 kB\nThreads:\t42\n", 256 << 20, 512 << 20, false},
		{"no trailing newline", "VmRSS:\t1 kB\nVmHWM:\t2 kB", 1024, 2048, false},
		{"kernel thread", "Name:\tkthreadd\nThreads:\t1\n", 0, 0, true},
		{"bad number", "VmRSS:\tx kB\nVmHWM:\t2 kB\n", 0, 0, true},
		{"unknown unit", "VmRSS:\t1 MB\nVmHWM:\t2 kB\n", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rss, hwm, err := parseProcStatus([]byte(tt.data))
			if (err != nil) != tt.wantErr || rss != tt.rss || hwm != tt.hwm {
				t.Errorf("parseProcStatus = %d, %d, %v; want %d, %d, error %v", rss, hwm, err, tt.rss, tt.hwm, tt.wantErr)
			}
		})
	}
}

func TestMemoryPeak(t *testing.T) {
	tests := []struct {
		name string
		m    memory
		want int64
	}{
		{"VmHWM rose during the run: the kernel's peak", memory{sampledPeak: 700, hwmBefore: 500, hwmAfter: 800}, 800},
		{"VmHWM set before the run: the sampled peak", memory{sampledPeak: 300, hwmBefore: 900, hwmAfter: 900}, 300},
		{"VmHWM rose, a sample saw more", memory{sampledPeak: 801, hwmBefore: 500, hwmAfter: 800}, 801},
	}
	for _, tt := range tests {
		if got := tt.m.peak(); got != tt.want {
			t.Errorf("%s: peak = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{150 << 20, "150.0 MiB"},
		{1 << 30, "1.0 GiB"},
		{5 << 40, "5.0 TiB"},
	}
	for _, tt := range tests {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{999, "999"},
		{1000, "1,000"},
		{50_000, "50,000"},
		{1_000_000, "1,000,000"},
		{-1234567, "-1,234,567"},
	}
	for _, tt := range tests {
		if got := thousands(tt.n); got != tt.want {
			t.Errorf("thousands(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestJobImported(t *testing.T) {
	tests := []struct {
		name    string
		j       job
		wantErr string
	}{
		{"all inserted", job{ID: "j", Status: "completed", Result: &importResult{Rows: 10, Inserted: 10}}, ""},
		{"mixed inserted and unchanged", job{ID: "j", Status: "completed", Result: &importResult{Rows: 10, Inserted: 4, Unchanged: 6}}, ""},
		{"a rejected row", job{ID: "j", Status: "completed", Result: &importResult{Rows: 10, Inserted: 9, Rejected: 1}}, "1 rejected"},
		{"rows missing", job{ID: "j", Status: "completed", Result: &importResult{Rows: 9, Inserted: 9}}, "want 10 rows"},
		{"no result", job{ID: "j", Status: "completed"}, "without a result"},
		{"failed", job{ID: "j", Status: "failed", Error: &jobs.Error{Message: "postgres is down"}}, "job j failed: postgres is down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.j.imported(10)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("imported = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestJobClosed(t *testing.T) {
	for status, want := range map[string]bool{"": false, "queued": false, "running": false, "completed": true, "failed": true, "canceled": true, "timed_out": true} {
		if got := (job{Status: status}).closed(); got != want {
			t.Errorf("closed(%q) = %v, want %v", status, got, want)
		}
	}
}

func TestAPIErrorText(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"error":{"code":"malformed_upload","message":"line 3: invalid JSON"}}`, "400 malformed_upload: line 3: invalid JSON"},
		{502, "Bad Gateway\n", "502 Bad Gateway"},
		{500, strings.Repeat("x", 300), "500 " + strings.Repeat("x", 200) + "…"},
	}
	for _, tt := range tests {
		if got := apiErrorText(tt.status, []byte(tt.body)); got != tt.want {
			t.Errorf("apiErrorText(%d, %q) = %q, want %q", tt.status, tt.body, got, tt.want)
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		api, temporal string
		ok            bool
	}{
		{"http://127.0.0.1:8080", "127.0.0.1:7233", true},
		{"http://localhost:8080/", "[::1]:7233", true},
		{"", "", true},
		{"http://example.com:8080", "127.0.0.1:7233", false},
		{"http://127.0.0.1:8080", "10.0.0.5:7233", false},
		{"127.0.0.1:8080", "127.0.0.1:7233", false},
		{"http://127.0.0.1:8080", "127.0.0.1", false},
	}
	for _, tt := range tests {
		err := Options{APIURL: tt.api, TemporalAddress: tt.temporal}.checkLoopback()
		if (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q, %q) = %v, want ok %v", tt.api, tt.temporal, err, tt.ok)
		}
	}
}

func TestRunUnknownScenario(t *testing.T) {
	err := Run(context.Background(), "nope", Options{})
	if err == nil || !strings.Contains(err.Error(), strings.Join(Scenarios(), ", ")) {
		t.Errorf("Run(nope) = %v, want the scenario names", err)
	}
}

// TestWaitJob drives the HTTP client against a stand-in for GET /v1/jobs/{id}?wait=.
func TestWaitJob(t *testing.T) {
	var polls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" || r.URL.Path != "/v1/jobs/import-1" || r.URL.Query().Get("wait") != "1s" {
			http.Error(w, `{"error":{"code":"bad","message":"unexpected request"}}`, http.StatusBadRequest)
			return
		}
		status := "running"
		if polls.Add(1) == 3 {
			status = "completed"
		}
		fmt.Fprintf(w, `{"id":"import-1","kind":"import","status":%q,"result":{"rows":10,"inserted":10}}`, status)
	}))
	defer srv.Close()
	a := newAPIClient(Options{APIURL: srv.URL + "/", APIKey: "k", Concurrency: 2})
	defer a.close()
	j, err := a.waitJob(context.Background(), "import-1", time.Second, time.Minute, nil)
	if err != nil || j.Status != "completed" || polls.Load() != 3 || j.imported(10) != nil {
		t.Errorf("waitJob = %+v, %v after %d polls", j, err, polls.Load())
	}
	if _, err := a.getJob(context.Background(), "import-1", 0); err == nil || !strings.Contains(err.Error(), "400 bad: unexpected request") {
		t.Errorf("getJob without wait = %v, want the 400", err)
	}
}

// TestRunPacedCountsQueueing: an open-loop phase runs every due operation once, and when
// the clients cannot keep up, the wait for a free client is part of the latency.
func TestRunPacedCountsQueueing(t *testing.T) {
	var seen sync.Map
	p := runPaced(context.Background(), "fast", 4, 200, 100*time.Millisecond, func(_ context.Context, ticket int) error {
		if _, dup := seen.LoadOrStore(ticket, true); dup {
			t.Errorf("ticket %d served twice", ticket)
		}
		return nil
	})
	if p.count() != 20 || p.errors != 0 {
		t.Fatalf("fast phase: %d ops, %d errors; want 20, 0", p.count(), p.errors)
	}

	// One client, 10 operations due 10 ms apart, each taking 40 ms: the last is due at 90 ms
	// and starts at about 360 ms.
	p = runPaced(context.Background(), "slow", 1, 100, 100*time.Millisecond, func(context.Context, int) error {
		time.Sleep(40 * time.Millisecond) // the operation's own service time
		return nil
	})
	if p.count() != 10 {
		t.Fatalf("slow phase: %d ops, want 10", p.count())
	}
	if p.latency.max < 250*time.Millisecond {
		t.Fatalf("slow phase max latency %s: the wait for the busy client was not counted", p.latency.max)
	}
}
