package devserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/dynamicconfig"

	"github.com/impactflow/impactflow/temporal"
)

const testTaskQueue = "devserver-test"

// greetWorkflow is the smallest workflow that still goes through matching twice (a workflow
// task and an activity task), like the platform's real ones.
func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var greeting string
	err := workflow.ExecuteActivity(ctx, greet, name).Get(ctx, &greeting)
	return greeting, err
}

func greet(_ context.Context, name string) (string, error) {
	return "hello " + name, nil
}

func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testWriter sends server logs to t.Log, so they show only for failing tests. Server
// goroutines can outlive the test, and t.Log after the test panics, so it closes at cleanup.
type testWriter struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("started in %s", time.Since(began).Round(time.Millisecond))
	return s
}

// stopServer stops s and checks the product promise that stopping takes well under 10 s.
func stopServer(t testing.TB, s *Server) {
	t.Helper()
	began := time.Now()
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	took := time.Since(began)
	t.Logf("stopped in %s", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("Stop took %s, want < 10s", took)
	}
}

// dial connects to s; the caller closes the client before stopping s, so that no poller or
// long poll outlives the server and logs connection errors.
func dial(t testing.TB, s *Server, namespace string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  s.FrontendAddr(),
		Namespace: namespace,
		Logger:    sdklog.NewStructuredLogger(testLogger(t)),
	})
	if err != nil {
		t.Fatalf("dial %s: %v", s.FrontendAddr(), err)
	}
	return c
}

func startWorker(t testing.TB, c client.Client) worker.Worker {
	t.Helper()
	w := worker.New(c, testTaskQueue, worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterActivity(greet)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	return w
}

type runFacts struct {
	runID  string
	status enumspb.WorkflowExecutionStatus
	events int
}

func describeRun(ctx context.Context, t *testing.T, c client.Client, workflowID string) runFacts {
	t.Helper()
	desc, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		t.Fatalf("describe %s: %v", workflowID, err)
	}
	facts := runFacts{
		runID:  desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(),
		status: desc.GetWorkflowExecutionInfo().GetStatus(),
	}
	// Count the events themselves rather than trusting HistoryLength: the point is that the
	// history survived.
	iter := c.GetWorkflowHistory(ctx, workflowID, facts.runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		if _, err := iter.Next(); err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		facts.events++
	}
	return facts
}

func TestRestartKeepsHistory(t *testing.T) {
	dir := t.TempDir()
	opts := Options{
		DataDir:      dir,
		FrontendAddr: "127.0.0.1:0",
		Namespace:    "restart-test",
		Retention:    48 * time.Hour,
		Logger:       testLogger(t),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s := startServer(t, opts)
	// The pragmas only take effect under the right connect-attribute keys; WAL leaves a
	// -wal file next to the database.
	if _, err := os.Stat(filepath.Join(dir, dbFileName+"-wal")); err != nil {
		t.Errorf("journal_mode=wal not in effect: %v", err)
	}
	c := dial(t, s, opts.Namespace)
	w := startWorker(t, c)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "restart-greet", TaskQueue: testTaskQueue,
	}, greetWorkflow, "restart")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	var greeting string
	if err := run.Get(ctx, &greeting); err != nil || greeting != "hello restart" {
		t.Fatalf("workflow result = %q, %v", greeting, err)
	}
	before := describeRun(ctx, t, c, run.GetID())
	if before.status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || before.runID != run.GetRunID() {
		t.Fatalf("before restart: %+v, want completed run %s", before, run.GetRunID())
	}
	w.Stop()
	c.Close()
	stopServer(t, s)

	// The sqlite plugin keeps its connection in a process-wide pool across a restart, so
	// also read the file through a fresh connection to prove the history reached it. The
	// "sqlite" driver is registered by the server's sqlite plugin.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, dbFileName)+"?mode=ro")
	if err != nil {
		t.Fatalf("open database file: %v", err)
	}
	var nodes int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM history_node").Scan(&nodes); err != nil || nodes == 0 {
		t.Errorf("history_node rows in file = %d, %v; want > 0", nodes, err)
	}
	_ = db.Close()

	// Restart with another retention: on an existing file the namespace is ensured through
	// the API, not only created along with a new file.
	opts.Retention = 72 * time.Hour
	s = startServer(t, opts)
	defer stopServer(t, s)
	c = dial(t, s, opts.Namespace)
	defer c.Close()
	after := describeRun(ctx, t, c, run.GetID())
	if after != before {
		t.Errorf("after restart: %+v, want %+v", after, before)
	}
	if got := retentionOf(ctx, t, c, opts.Namespace); got != opts.Retention {
		t.Errorf("retention after restart = %s, want %s", got, opts.Retention)
	}
}

func retentionOf(ctx context.Context, t *testing.T, c client.Client, namespace string) time.Duration {
	t.Helper()
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
		Namespace: namespace,
	})
	if err != nil {
		t.Fatalf("describe namespace %s: %v", namespace, err)
	}
	return desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
}

func TestSearchAttributesAndUI(t *testing.T) {
	uiPort, err := freePort(localIP)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Ephemeral:    true,
		FrontendAddr: "127.0.0.1:0",
		UIAddr:       fmt.Sprintf("127.0.0.1:%d", uiPort),
		Namespace:    "sa-test",
		Retention:    24 * time.Hour,
		Logger:       testLogger(t),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startServer(t, opts)
	defer stopServer(t, s)
	c := dial(t, s, opts.Namespace)
	defer c.Close()

	t.Run("ensure through the API", func(t *testing.T) {
		// A namespace the server did not create: registered, then given the attributes.
		const ns = "sa-test-api"
		for range 2 {
			if err := temporal.EnsureNamespace(ctx, c, ns, 72*time.Hour); err != nil {
				t.Fatalf("EnsureNamespace: %v", err)
			}
			if err := temporal.EnsureSearchAttributes(ctx, c, ns); err != nil {
				t.Fatalf("EnsureSearchAttributes: %v", err)
			}
		}
		// Usable at once: a start that sets them right after Ensure returns is accepted.
		nc := dial(t, s, ns)
		defer nc.Close()
		if _, err := nc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:        "sa-api-greet",
			TaskQueue: testTaskQueue,
			TypedSearchAttributes: sdktemporal.NewSearchAttributes(
				temporal.SearchAttrTenantID.ValueSet("demo"),
				temporal.SearchAttrJobKind.ValueSet("import"),
			),
		}, greetWorkflow, "sa"); err != nil {
			t.Fatalf("start a workflow setting the attributes just added: %v", err)
		}
		if got := retentionOf(ctx, t, c, ns); got != 72*time.Hour {
			t.Errorf("retention = %s, want 72h", got)
		}
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{
			Namespace: ns,
		})
		if err != nil {
			t.Fatalf("list search attributes of %s: %v", ns, err)
		}
		for name, typ := range temporal.SearchAttributes() {
			if got := resp.GetCustomAttributes()[name]; got != typ {
				t.Errorf("search attribute %s = %s, want %s", name, got, typ)
			}
		}
	})

	t.Run("search attributes", func(t *testing.T) {
		// No worker: a started workflow is indexed in visibility all the same.
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:        "sa-greet",
			TaskQueue: testTaskQueue,
			TypedSearchAttributes: sdktemporal.NewSearchAttributes(
				temporal.SearchAttrTenantID.ValueSet("demo"),
				temporal.SearchAttrJobKind.ValueSet("import"),
			),
		}, greetWorkflow, "sa")
		if err != nil {
			t.Fatalf("start workflow: %v", err)
		}
		found := pollList(ctx, t, c, "TenantId = 'demo' AND JobKind = 'import'", func(ids []string) bool {
			return slices.Contains(ids, run.GetID())
		})
		if !slices.Contains(found, run.GetID()) {
			t.Fatalf("workflow %s not listed by its search attributes; got %v", run.GetID(), found)
		}
		// Visibility already has the workflow, so an empty answer here is a real one.
		if other := listIDs(ctx, t, c, "TenantId = 'other'"); len(other) != 0 {
			t.Errorf("TenantId = 'other' listed %v, want none", other)
		}
	})

	t.Run("UI", func(t *testing.T) {
		if s.UIURL() == "" {
			t.Fatal("UIURL is empty with UIAddr set")
		}
		body := httpGet(ctx, t, s.UIURL()+"/api/v1/namespaces", "application/json")
		if !strings.Contains(body, `"`+opts.Namespace+`"`) {
			t.Errorf("namespaces API does not list %s: %.300s", opts.Namespace, body)
		}
		body = httpGet(ctx, t, s.UIURL()+"/", "text/html")
		if !strings.Contains(strings.ToLower(body), "<html") {
			t.Errorf("UI root is not HTML: %.300s", body)
		}
	})
}

// pollList repeats a visibility query until done accepts its answer or ctx ends, because
// visibility is eventually consistent.
func pollList(ctx context.Context, t *testing.T, c client.Client, query string, done func([]string) bool) []string {
	t.Helper()
	interval := 10 * time.Millisecond
	for {
		ids := listIDs(ctx, t, c, query)
		if done(ids) {
			return ids
		}
		select {
		case <-ctx.Done():
			return ids
		case <-time.After(interval):
		}
		interval = min(2*interval, 500*time.Millisecond)
	}
}

func listIDs(ctx context.Context, t *testing.T, c client.Client, query string) []string {
	t.Helper()
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
	if err != nil {
		t.Fatalf("list %q: %v", query, err)
	}
	var ids []string
	for _, e := range resp.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids
}

func httpGet(ctx context.Context, t *testing.T, url, wantType string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %s: %.300s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
		t.Errorf("GET %s: Content-Type %q, want %s", url, ct, wantType)
	}
	return string(body)
}

// BenchmarkSingleWorkflow measures one trivial workflow (one activity) end to end, start to
// result, with nothing else running, against the server defaults and against the tuning of
// dynamicConfig. Run it with a fixed count, e.g.
//
//	go test ./temporal/devserver -run '^$' -bench SingleWorkflow -benchtime 200x
func BenchmarkSingleWorkflow(b *testing.B) {
	cases := []struct {
		name  string
		dc    dynamicconfig.StaticClient
		eager bool
	}{
		{name: "defaults", dc: nil},
		{name: "defaults+eager", dc: nil, eager: true},
		{name: "tuned", dc: dynamicConfig()},
		{name: "tuned+eager", dc: dynamicConfig(), eager: true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			s, err := start(ctx, Options{
				DataDir:      b.TempDir(),
				FrontendAddr: "127.0.0.1:0",
				Namespace:    "bench",
				Logger:       testLogger(b),
			}, tc.dc)
			if err != nil {
				b.Fatalf("start: %v", err)
			}
			defer func() { _ = s.Stop() }()
			c := dial(b, s, "bench")
			defer c.Close()
			w := startWorker(b, c)
			defer w.Stop()

			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				began := time.Now()
				run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
					ID:               fmt.Sprintf("bench-%d", i),
					TaskQueue:        testTaskQueue,
					EnableEagerStart: tc.eager,
				}, greetWorkflow, "bench")
				if err != nil {
					b.Fatalf("start workflow: %v", err)
				}
				if err := run.Get(ctx, nil); err != nil {
					b.Fatalf("workflow: %v", err)
				}
				took = append(took, time.Since(began))
			}
			b.StopTimer()
			slices.Sort(took)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
			b.ReportMetric(ms(took[len(took)*99/100]), "p99-ms")
			b.ReportMetric(ms(took[len(took)-1]), "max-ms")
		})
	}
}

// TestVisibilityMovesToItsOwnFile: a data directory from before visibility had a file of its
// own keeps listing its workflows after the upgrade, and the new file has the trimmed indexes.
func TestVisibilityMovesToItsOwnFile(t *testing.T) {
	dir := t.TempDir()
	opts := Options{DataDir: dir, FrontendAddr: "127.0.0.1:0", Namespace: "visibility-test", Logger: testLogger(t), singleFile: true}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s := startServer(t, opts)
	c := dial(t, s, opts.Namespace)
	w := startWorker(t, c)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "old-layout-greet", TaskQueue: testTaskQueue}, greetWorkflow, "old")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	query := "WorkflowId = 'old-layout-greet' AND ExecutionStatus = 'Completed'"
	if n := listed(ctx, t, c, query); n != 1 {
		t.Fatalf("before the move: %d listed, want 1", n)
	}
	w.Stop()
	c.Close()
	stopServer(t, s)
	if _, err := os.Stat(filepath.Join(dir, visibilityFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the old layout has a visibility file: %v", err)
	}

	opts.singleFile = false
	s = startServer(t, opts)
	defer stopServer(t, s)
	c = dial(t, s, opts.Namespace)
	defer c.Close()
	if n := listed(ctx, t, c, query); n != 1 {
		t.Errorf("after the move: %d listed, want 1", n)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, visibilityFileName)+"?mode=ro")
	if err != nil {
		t.Fatalf("open visibility file: %v", err)
	}
	defer func() { _ = db.Close() }()
	var rows, dropped, kept int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM executions_visibility").Scan(&rows); err != nil || rows == 0 {
		t.Errorf("visibility rows in the new file = %d, %v; want > 0", rows, err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'by_bool_01'").Scan(&dropped); err != nil || dropped != 0 {
		t.Errorf("by_bool_01 still there (%d, %v)", dropped, err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'by_keyword_01'").Scan(&kept); err != nil || kept != 1 {
		t.Errorf("by_keyword_01 missing (%d, %v)", kept, err)
	}
}

// listed counts the workflows a visibility query finds, waiting for the visibility write
// that follows a close (it is asynchronous).
func listed(ctx context.Context, t *testing.T, c client.Client, query string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			t.Fatalf("list %q: %v", query, err)
		}
		if n := len(resp.GetExecutions()); n > 0 || time.Now().After(deadline) {
			return n
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(50 * time.Millisecond): // poll with a deadline
		}
	}
}
