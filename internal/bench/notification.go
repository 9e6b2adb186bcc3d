package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/impactflow/impactflow/internal/notify/quota"
	sgsandbox "github.com/impactflow/impactflow/internal/sandbox/sendgrid"
)

// The notification scenario hosts the SendGrid sandbox itself, so that it can count what
// reaches "SendGrid": the dev process must be started pointing at it, with
//
//	SENDGRID_API_KEY=SG.bench-sandbox SENDGRID_BASE_URL=http://127.0.0.1:8025 impactflow dev
//
// (BENCH_SENDGRID_ADDR moves the sandbox; BENCH_NOTIFICATION_PENDING=0 skips the phase
// with 10,000 notifications pending, e.g. to repeat the send-rate measurement quickly).
const (
	benchSendGridKey      = "SG.bench-sandbox"
	defaultSendGridAddr   = "127.0.0.1:8025"
	notificationSends     = 1000
	pendingNotifications  = 10000
	quotaChecks           = 5000
	targetSentPerSecond   = 80.0
	targetQuotaCheckP95   = 2 * time.Millisecond
	notificationWaitLimit = 5 * time.Minute
)

func runNotification(ctx context.Context, o Options, r *report) error {
	addr := os.Getenv("BENCH_SENDGRID_ADDR")
	if addr == "" {
		addr = defaultSendGridAddr
	}
	sb := sgsandbox.New(benchSendGridKey)
	stop, err := serveSandbox(addr, sb)
	if err != nil {
		return fmt.Errorf("SendGrid sandbox on %s: %w", addr, err)
	}
	defer stop()
	a := newAPIClient(o)
	defer a.close()

	// The benchmark sends more than a day's default quota.
	if err := a.call(ctx, http.MethodPut, "/v1/notifications/quota/email", map[string]any{"daily_limit": 10_000_000}, http.StatusOK, nil); err != nil {
		return err
	}
	run := randomHex(4)
	email := func(i int, extra map[string]any) map[string]any {
		b := map[string]any{"channel": "email", "to": []string{fmt.Sprintf("bench-%s-%d@example.com", run, i)}, "template": "welcome",
			"data": map[string]any{"name": "Bench", "tenant_name": "Demo", "login_url": "https://app.example.com/login"}}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}

	// One probe: the dev process must be sending through this sandbox.
	var probe job
	if err := a.call(ctx, http.MethodPost, "/v1/notifications/send", email(-1, nil), http.StatusAccepted, &probe); err != nil {
		return err
	}
	if _, err := a.waitJob(ctx, probe.ID, longPoll, jobWaitLimit, nil); err != nil {
		return err
	}
	if len(sb.Accepted()) != 1 {
		return fmt.Errorf("the probe notification did not reach the SendGrid sandbox on %s: start dev with SENDGRID_API_KEY=%s SENDGRID_BASE_URL=http://%s", addr, benchSendGridKey, addr)
	}

	// Sends end to end: from the first POST to the sandbox accepting the last message.
	r.progress("sending %d notifications with %d clients", notificationSends, o.Concurrency)
	before := len(sb.Accepted())
	cpu := startCPU(o.PID)
	start := time.Now()
	posts := runClients(ctx, "POST /v1/notifications/send", o.Concurrency, notificationWaitLimit, notificationSends, func(ctx context.Context, i int) error {
		return a.call(ctx, http.MethodPost, "/v1/notifications/send", email(i, nil), http.StatusAccepted, nil)
	})
	r.add(posts)
	deadline := time.Now().Add(notificationWaitLimit)
	for len(sb.Accepted())-before < posts.count() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	sent := len(sb.Accepted()) - before
	e2e := time.Since(start)
	r.add(phase{name: "sent through the SendGrid sandbox", elapsed: e2e, ops: sent})
	rate := perSecond(sent, e2e)
	// CPU time per notification tells the code's cost apart from other processes' load,
	// which moves sent/s on a shared machine.
	if used := cpu.stop(); used > 0 && sent > 0 {
		r.fact("dev CPU per notification", "%.1f ms (%s of CPU over %s for %d sent: API, worker and Temporal server together)",
			float64(used)/float64(time.Millisecond)/float64(sent), used.Round(10*time.Millisecond), e2e.Round(10*time.Millisecond), sent)
	}
	r.check(fmt.Sprintf("sent/s ≥ %.0f", targetSentPerSecond), sent == posts.count() && rate >= targetSentPerSecond,
		"%.1f/s (%d of %d sent in %s)", rate, sent, posts.count(), e2e.Round(time.Millisecond))

	if err := quotaCheck(ctx, r); err != nil {
		return err
	}

	// 10,000 notifications pending at once (send_at an hour out), with the dev process's
	// memory before and after; then they are cancelled so nothing fires later.
	pending := pendingNotifications
	if v, err := strconv.Atoi(os.Getenv("BENCH_NOTIFICATION_PENDING")); err == nil && v >= 0 {
		pending = v
	}
	if pending == 0 {
		return sameRunEngine(ctx, o, r, rate)
	}
	rssBefore, _, _ := readProcStatus(o.PID)
	var mu sync.Mutex
	ids := make([]string, 0, pending)
	sendAt := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r.progress("scheduling %d notifications an hour out", pending)
	sched := runClients(ctx, "POST /v1/notifications/schedule (send_at +1h)", o.Concurrency, notificationWaitLimit, pending, func(ctx context.Context, i int) error {
		var j job
		if err := a.call(ctx, http.MethodPost, "/v1/notifications/schedule", email(100000+i, map[string]any{"send_at": sendAt}), http.StatusAccepted, &j); err != nil {
			return err
		}
		mu.Lock()
		ids = append(ids, j.ID)
		mu.Unlock()
		return nil
	})
	r.add(sched)
	rssAfter, _, _ := readProcStatus(o.PID)
	if o.PID != 0 {
		r.fact("dev RSS", "%s before, %s with %d notifications pending (%+d MiB)", formatBytes(rssBefore), formatBytes(rssAfter), len(ids), (rssAfter-rssBefore)>>20)
	}
	r.progress("cancelling the %d pending notifications", len(ids))
	var next atomic.Int64
	r.add(runClients(ctx, "DELETE /v1/notifications/{id}/cancel", o.Concurrency, notificationWaitLimit, len(ids), func(ctx context.Context, _ int) error {
		id := ids[next.Add(1)-1]
		return a.call(ctx, http.MethodDelete, "/v1/notifications/"+id+"/cancel", nil, http.StatusAccepted, nil)
	}))

	return sameRunEngine(ctx, o, r, rate)
}

// sameRunEngine measures the engine's start rate beside the notifications' send rate.
func sameRunEngine(ctx context.Context, o Options, r *report, rate float64) error {
	engine, _, err := engineStartRate(ctx, o, r, false)
	if err != nil {
		return err
	}
	r.fact("engine (same run)", "%.1f trivial workflow starts/s; its end-to-end rate is the drain line above; notifications sent at %.1f/s", engine, rate)
	return nil
}

// quotaCheck measures the quota script against the same Redis the dev process uses.
func quotaCheck(ctx context.Context, r *report) error {
	u := os.Getenv("REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	prefix := "bench-" + randomHex(6) + ":"
	q := &quota.Quota{Redis: rdb, Prefix: prefix}
	w := quota.Window{TenantID: "bench", Channel: "email", Location: time.UTC, Now: time.Now()}
	p := runClients(ctx, "quota check (Redis Lua)", 1, time.Minute, quotaChecks, func(ctx context.Context, i int) error {
		_, err := q.Take(ctx, w, 1<<40, fmt.Sprint(i))
		return err
	})
	r.add(p)
	if keys, _ := rdb.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
	r.check("quota check p95 < 2 ms", p.latency.n > 0 && p.latency.p95 < targetQuotaCheckP95, "p50 %s ms, p95 %s ms", millis(p.latency.p50), millis(p.latency.p95))
	return nil
}

// call sends a JSON request and decodes a JSON answer into out (when not nil).
func (a *apiClient) call(ctx context.Context, method, path string, body any, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s", method, path, apiErrorText(resp.StatusCode, data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: Linux reports them in USER_HZ,
// 100 a second whatever the kernel's own tick.
const userHZ = 100

// readProcCPU is the user plus system CPU time the process has used, all threads.
func readProcCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, errors.New("no dev process ID")
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read the dev process's CPU time: %w", err)
	}
	return parseProcCPU(data)
}

// parseProcCPU reads utime and stime (fields 14 and 15) from the text of /proc/<pid>/stat.
func parseProcCPU(data []byte) (time.Duration, error) {
	// The command name, in parentheses, may hold spaces and parentheses: fields are
	// counted from the last closing one, whose next field is the third (state).
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	utime, uerr := strconv.ParseInt(f[11], 10, 64)
	stime, serr := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(uerr, serr); err != nil {
		return 0, fmt.Errorf("/proc stat: %w", err)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}
