package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// TestDevRestartKeepsHistory runs the real binary as a user would: `impactflow dev` comes up
// with the demo data, an import job runs, Ctrl-C stops everything within 10 s, and a second
// start finds the same job with the same run and history.
func TestDevRestartKeepsHistory(t *testing.T) {
	// A Redis database of the test's own: the demo tenant's quotas and caches in database 0
	// belong to whoever ran `impactflow dev` (or a benchmark) on this machine today, and a
	// used-up email quota there would defer the test's notification to tomorrow.
	stack := newDevStack(t, "dev", devTestRedisDB)
	bin, envv, dataDir, api := stack.bin, stack.env, stack.dataDir, stack.api

	dev := startDev(t, bin, envv)
	dev.waitReady(t, api)
	dev.waitFor(t, "is running")
	if !strings.Contains(dev.banner(t), stack.ui) {
		t.Errorf("the banner lacks the Temporal UI URL:\n%s", dev.banner(t))
	}
	for _, provider := range []string{"LLM", "email", "SMS", "push", "ClickHouse", "partners"} {
		if !strings.Contains(dev.banner(t), "  "+provider+" ") {
			t.Errorf("the banner does not say whether %s is live or offline:\n%s", provider, dev.banner(t))
		}
	}
	keyBytes, err := os.ReadFile(filepath.Join(dataDir, "dev-api-key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(keyBytes))
	if !strings.Contains(dev.banner(t), key) {
		t.Errorf("a freshly made dev key is not printed in the banner")
	}
	if resp, err := http.Get(stack.ui + "/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("Temporal UI: %v %v", resp, err)
	}

	job := postRestartImport(t, api, key)
	first := waitJob(t, api, key, job)
	if first["status"] != "completed" {
		t.Fatalf("import: %v", first)
	}
	historyBefore := get(t, api+"/v1/jobs/"+job+"/history", key)

	// The demo data set arrives through import jobs of its own.
	dev.waitDemo(t, api, key)

	// A notification due a few seconds from now: its timer is pending across the restart.
	notification, sendAt := postRestartNotification(t, api, key)

	stopped := time.Now()
	dev.interrupt(t)
	if took := time.Since(stopped); took > 10*time.Second {
		t.Errorf("Ctrl-C took %s, want under 10s", took)
	}

	dev = startDev(t, bin, envv)
	defer func() { dev.interrupt(t) }()
	dev.waitReady(t, api)
	dev.waitFor(t, "is running")
	if strings.Contains(dev.banner(t), key) {
		t.Errorf("the dev key is printed again on restart; it should point at the file instead")
	}
	again := getJSON(t, api+"/v1/jobs/"+job, key)
	if again["status"] != "completed" || again["run_id"] != first["run_id"] {
		t.Fatalf("after restart: %v, before: %v", again, first)
	}
	if historyAfter := get(t, api+"/v1/jobs/"+job+"/history", key); !bytes.Equal(historyAfter, historyBefore) {
		t.Errorf("history changed across restart:\n%s\n%s", historyBefore, historyAfter)
	}
	checkRestartNotification(t, api, key, notification, sendAt)

	// `make clean` removes DATA_DIR and keeps the database. The new DATA_DIR brings a new
	// key ring, which cannot open the payload data keys the old one wrapped: they are
	// retired, and the new start runs jobs with fresh ones instead of failing.
	dev.interrupt(t)
	freshDir := t.TempDir()
	dev = startDev(t, bin, append(slices.Clone(envv), "DATA_DIR="+freshDir))
	dev.waitReady(t, api)
	dev.waitFor(t, "retired the payload data keys")
	freshKey, err := os.ReadFile(filepath.Join(freshDir, "dev-api-key"))
	if err != nil {
		t.Fatal(err)
	}
	if j := waitJob(t, api, strings.TrimSpace(string(freshKey)), postRestartImport(t, api, strings.TrimSpace(string(freshKey)))); j["status"] != "completed" {
		t.Fatalf("import on a new DATA_DIR over the old database: %v", j)
	}
}

// postRestartNotification schedules an email (to the dev outbox) 8 s from now.
func postRestartNotification(t *testing.T, api, key string) (string, time.Time) {
	t.Helper()
	sendAt := time.Now().Add(8 * time.Second).UTC().Truncate(time.Second)
	body := fmt.Sprintf(`{"channel":"email","to":["restart@example.com"],"subject":"After the restart","body":"Sent once.","send_at":%q}`, sendAt.Format(time.RFC3339))
	status, b := request(t, http.MethodPost, api+"/v1/notifications/schedule", key, "application/json", strings.NewReader(body))
	if status != http.StatusAccepted {
		t.Fatalf("POST schedule: %d %s", status, b)
	}
	var job struct{ ID string }
	_ = json.Unmarshal(b, &job)
	return job.ID, sendAt
}

// checkRestartNotification waits for the scheduled notification and checks it was sent
// once, not before its time.
func checkRestartNotification(t *testing.T, api, key, id string, sendAt time.Time) {
	t.Helper()
	if j := waitJob(t, api, key, id); j["status"] != "completed" {
		t.Fatalf("scheduled notification after restart: %v", j)
	}
	n := getJSON(t, api+"/v1/notifications/"+id, key)
	sentAt, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(n["sent_at"]))
	outbox, _ := n["outbox"].([]any)
	if n["status"] != "sent" || sentAt.Before(sendAt) || len(outbox) != 1 {
		t.Fatalf("scheduled notification due %s: %v", sendAt, n)
	}
}

// devStack is what a test needs to run `impactflow dev` on a database, a Redis database,
// a data directory and ports of its own.
type devStack struct {
	bin, dataDir, api, ui string
	env                   []string
}

// devBinary is the binary the package's tests run, built once per test process.
var devBinary struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if devBinary.dir != "" {
		_ = os.RemoveAll(devBinary.dir)
	}
	os.Exit(code)
}

// newDevStack builds the binary (once) and prepares a stack named name on Redis database
// redisDB, emptied before and after; the database is dropped at the end.
func newDevStack(t *testing.T, name, redisDB string) devStack {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	devBinary.once.Do(func() {
		if devBinary.dir, devBinary.err = os.MkdirTemp("", "impactflow-test-bin-"); devBinary.err != nil {
			return
		}
		devBinary.bin = filepath.Join(devBinary.dir, "impactflow")
		build := exec.Command("go", "build", "-o", devBinary.bin, ".")
		build.Stderr = os.Stderr
		devBinary.err = build.Run()
	})
	if devBinary.err != nil {
		t.Fatalf("go build: %v", devBinary.err)
	}
	dbName := fmt.Sprintf("impactflow_test_%s_%d", name, os.Getpid())
	t.Cleanup(func() { dropDatabase(dbName) })
	redisURL := "redis://127.0.0.1:6379/" + redisDB
	flushRedis(t, redisURL)
	t.Cleanup(func() { flushRedis(t, redisURL) })
	dataDir := t.TempDir()
	httpAddr, uiAddr, temporalAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	return devStack{
		bin: devBinary.bin, dataDir: dataDir, api: "http://" + httpAddr, ui: "http://" + uiAddr,
		env: append(os.Environ(),
			"DATABASE_URL=postgres://postgres@127.0.0.1:5432/"+dbName+"?sslmode=disable",
			"DATA_DIR="+dataDir, "HTTP_ADDR="+httpAddr, "TEMPORAL_UI_ADDR="+uiAddr, "TEMPORAL_ADDRESS="+temporalAddr,
			"IMPACTFLOW_DEV_API_KEY=", "IMPACTFLOW_SECRET_KEY=", "LOG_LEVEL=warn", "REDIS_URL="+redisURL,
		),
	}
}

type devProcess struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan error
}

// syncBuffer collects the process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startDev(t *testing.T, bin string, env []string) *devProcess {
	t.Helper()
	cmd := exec.Command(bin, "dev")
	cmd.Env = env
	out := &syncBuffer{}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, out: out, exited: make(chan error, 1)}
	lines := make(chan string, 1024)
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	go func() {
		for l := range lines {
			out.WriteString(l + "\n")
		}
	}()
	go func() { p.exited <- cmd.Wait(); pw.Close() }()
	// A test that fails half way must not leave a platform running behind it.
	// Killing a process that has already exited only returns an error.
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

func (p *devProcess) banner(*testing.T) string { return p.out.String() }

// waitFor waits until the process has printed want.
func (p *devProcess) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("dev never printed %q:\n%s", want, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *devProcess) interrupt(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("dev exited with %v\n%s", err, p.out.String())
		}
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("dev did not stop within 15s\n%s", p.out.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady waits for /health/ready; if the process exits first or readiness never comes,
// the failure shows what the process printed and its last readiness answer.
func (p *devProcess) waitReady(t *testing.T, api string) {
	t.Helper()
	last := "no answer"
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.exited:
			t.Fatalf("dev exited before it was ready (%v):\n%s", err, p.out.String())
		default:
		}
		resp, err := http.Get(api + "/health/ready")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("dev never became ready (last /health/ready: %s):\n%s", last, p.stuckAt())
}

// stuckAt stops a process that hangs with SIGQUIT, which makes the Go runtime print every
// goroutine's stack, and returns what it printed before the dump and the project's own
// goroutines from it: where start-up waits, without the embedded server's thousands.
func (p *devProcess) stuckAt() string {
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
	}
	out := p.out.String()
	before, dump, found := strings.Cut(out, "\ngoroutine ")
	if !found {
		return out
	}
	var ours []string
	for _, g := range strings.Split("goroutine "+dump, "\n\n") {
		if strings.Contains(g, "github.com/impactflow/impactflow") {
			ours = append(ours, g)
		}
	}
	return before + "\n... the project's goroutines at SIGQUIT:\n" + strings.Join(ours, "\n\n")
}

func request(t *testing.T, method, url, key, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Authorization", "Bearer "+key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func get(t *testing.T, url, key string) []byte {
	t.Helper()
	status, b := request(t, http.MethodGet, url, key, "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, status, b)
	}
	return b
}

func getJSON(t *testing.T, url, key string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(get(t, url, key), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func postRestartImport(t *testing.T, api, key string) string {
	t.Helper()
	programs := demoData().Programs
	var code string
	for _, p := range programs {
		if p.TenantID == demoTenantID {
			code = p.Code
			break
		}
	}
	row := fmt.Sprintf(`{"event_id":"restart-1","program":%q,"participant":"p-x","kind":"signup","occurred_at":"2026-01-05T09:00:00Z","value":1}`, code)
	status, b := request(t, http.MethodPost, api+"/v1/impact-events", key, "application/x-ndjson", strings.NewReader(row+"\n"))
	if status != http.StatusAccepted {
		t.Fatalf("POST import: %d %s", status, b)
	}
	var job struct{ ID string }
	_ = json.Unmarshal(b, &job)
	return job.ID
}

func waitJob(t *testing.T, api, key, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		j := getJSON(t, api+"/v1/jobs/"+id+"?wait=20s", key)
		if st := j["status"]; st != "queued" && st != "running" {
			return j
		}
	}
	t.Fatalf("job %s did not finish", id)
	return nil
}

// waitDemo waits for the demo tenant's events to be loaded, through visibility: every
// completed import job of the tenant, until one has imported the demo events.
func (p *devProcess) waitDemo(t *testing.T, api, key string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var jobs []byte
	for time.Now().Before(deadline) {
		var page struct {
			Jobs []struct{ ID, Status string }
		}
		jobs = get(t, api+"/v1/jobs?kind=import&page_size=100", key)
		_ = json.Unmarshal(jobs, &page)
		for _, j := range page.Jobs {
			job := waitJob(t, api, key, j.ID)
			res, _ := job["result"].(map[string]any)
			if rows, _ := res["rows"].(float64); rows >= 50000 && job["status"] == "completed" {
				if rejected, _ := res["rejected"].(float64); rejected != 0 {
					t.Errorf("the demo import rejected %v rows: %v", rejected, res["rejections"])
				}
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the demo events were never imported; import jobs: %s\n%s", jobs, p.stuckAt())
}

// devTestRedisDB is the Redis database TestDevRestartKeepsHistory empties and uses.
const devTestRedisDB = "13"

func flushRedis(t *testing.T, url string) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer func() { _ = rdb.Close() }()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flush %s: %v", url, err)
	}
}

func dropDatabase(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}
