package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	m.Run()
}

// scrape returns the exposition text served by r.Handler().
func scrape(t testing.TB, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// sample returns the value of one series in an exposition text; series is written
// as exposed, labels sorted by name: `name{a="1",b="2"}`.
func sample(t testing.TB, body, series string) float64 {
	t.Helper()
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("series %s: %v", series, err)
			}
			return f
		}
	}
	t.Fatalf("series %s not in scrape:\n%s", series, body)
	return 0
}

func assertSample(t testing.TB, body, series string, want float64) {
	t.Helper()
	if got := sample(t, body, series); got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

// total sums every series of one metric in an exposition text, whatever its labels.
func total(body, name string) float64 {
	var sum float64
	for line := range strings.Lines(body) {
		series, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.HasPrefix(series, "#") {
			continue
		}
		if n, _, _ := strings.Cut(series, "{"); n == name {
			v, _ := strconv.ParseFloat(value, 64)
			sum += v
		}
	}
	return sum
}

// assertGathers checks that the registry is consistent: a scrape would not fail.
func assertGathers(t testing.TB, r *Registry) {
	t.Helper()
	if _, err := r.Prometheus().Gather(); err != nil {
		t.Fatalf("gather: %v", err)
	}
}

func TestNewRegistersRuntimeCollectors(t *testing.T) {
	r := New()
	scrape(t, r)
	body := scrape(t, r)
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_start_time_seconds"} {
		if !strings.Contains(body, "\n"+name+" ") {
			t.Errorf("scrape lacks %s", name)
		}
	}
	assertSample(t, body, `promhttp_metric_handler_requests_total{code="200"}`, 1)
}

func TestGinMiddlewareRecordsRouteTemplate(t *testing.T) {
	r := New()
	engine := gin.New()
	engine.Use(gin.RecoveryWithWriter(io.Discard), r.GinMiddleware())
	engine.GET("/v1/jobs/:id", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"id": c.Param("id")}) })
	engine.POST("/v1/jobs/:id/cancel", func(c *gin.Context) { c.Status(http.StatusAccepted) })
	engine.GET("/v1/boom", func(*gin.Context) { panic("boom") })

	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/v1/jobs/abc"},
		{http.MethodGet, "/v1/jobs/def"},
		{http.MethodPost, "/v1/jobs/abc/cancel"},
		{http.MethodGet, "/v1/nope/123"},
		{"FOO", "/v1/jobs/abc"},
		{http.MethodGet, "/v1/boom"},
	} {
		engine.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}

	body := scrape(t, r)
	for _, want := range []string{`route="/v1/jobs/:id"`, `status="200"`} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, raw := range []string{"/v1/jobs/abc", "/v1/jobs/def", "/v1/nope/123", "FOO"} {
		if strings.Contains(body, raw) {
			t.Errorf("scrape contains the raw %q", raw)
		}
	}
	assertSample(t, body, `impactflow_http_requests_total{method="GET",route="/v1/jobs/:id",status="200"}`, 2)
	assertSample(t, body, `impactflow_http_requests_total{method="POST",route="/v1/jobs/:id/cancel",status="202"}`, 1)
	assertSample(t, body, `impactflow_http_requests_total{method="GET",route="unmatched",status="404"}`, 1)
	assertSample(t, body, `impactflow_http_requests_total{method="other",route="unmatched",status="404"}`, 1)
	assertSample(t, body, `impactflow_http_requests_total{method="GET",route="/v1/boom",status="500"}`, 1)
	assertSample(t, body, `impactflow_http_request_duration_seconds_count{method="GET",route="/v1/jobs/:id",status="200"}`, 2)
	assertSample(t, body, `impactflow_http_request_duration_seconds_bucket{method="GET",route="/v1/jobs/:id",status="200",le="30"}`, 2)
	assertSample(t, body, `impactflow_http_requests_in_flight`, 0)
}

func TestGinMiddlewareCountsInFlight(t *testing.T) {
	r := New()
	engine := gin.New()
	engine.Use(r.GinMiddleware(), r.GinMiddleware()) // a second call shares the metrics
	entered, release := make(chan struct{}), make(chan struct{})
	engine.GET("/v1/jobs/:id", func(c *gin.Context) {
		close(entered)
		<-release
		c.Status(http.StatusOK)
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		engine.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/v1/jobs/abc?wait=20s", nil))
	}()
	<-entered
	assertSample(t, scrape(t, r), "impactflow_http_requests_in_flight", 2)
	close(release)
	<-done
	body := scrape(t, r)
	assertSample(t, body, "impactflow_http_requests_in_flight", 0)
	assertSample(t, body, `impactflow_http_requests_total{method="GET",route="/v1/jobs/:id",status="200"}`, 2)
}

func TestTemporalHandlerRecordsCountersGaugesTimers(t *testing.T) {
	r := New()
	h := r.TemporalHandler().WithTags(map[string]string{"namespace": "default", "task_queue": "reports"})

	h.Counter("temporal_request").Inc(1)
	h.Counter("temporal_request").Inc(2)
	h.Counter("temporal_request").Inc(-5) // ignored: counters only go up
	h.Gauge("temporal_num_pollers").Update(4)
	h.Gauge("temporal_num_pollers").Update(2.5)
	h.Timer("temporal_workflow_task_execution_latency").Record(20 * time.Millisecond)
	h.Timer("temporal_workflow_task_execution_latency").Record(1500 * time.Millisecond)
	h.WithTags(map[string]string{"task_queue": "deliveries"}).Counter("temporal_request").Inc(7)

	body := scrape(t, r)
	assertSample(t, body, `temporal_request{namespace="default",task_queue="reports"}`, 3)
	assertSample(t, body, `temporal_request{namespace="default",task_queue="deliveries"}`, 7)
	assertSample(t, body, `temporal_num_pollers{namespace="default",task_queue="reports"}`, 2.5)
	const timer = "temporal_workflow_task_execution_latency"
	labels := `namespace="default",task_queue="reports"`
	assertSample(t, body, timer+"_count{"+labels+"}", 2)
	assertSample(t, body, timer+"_sum{"+labels+"}", 1.52)
	assertSample(t, body, timer+"_bucket{"+labels+`,le="0.01"}`, 0)
	assertSample(t, body, timer+"_bucket{"+labels+`,le="0.025"}`, 1)
	assertSample(t, body, timer+"_bucket{"+labels+`,le="1"}`, 1)
	assertSample(t, body, timer+"_bucket{"+labels+`,le="2.5"}`, 2)
	assertSample(t, body, timer+"_bucket{"+labels+`,le="+Inf"}`, 2)
	if !strings.Contains(body, "# TYPE "+timer+" histogram") {
		t.Errorf("%s is not a histogram", timer)
	}
	if strings.Contains(body, "impactflow_temporal_metric_issues_total{") {
		t.Errorf("consistent tag sets reported issues:\n%s", body)
	}
	assertGathers(t, r)
}

func TestTemporalHandlerMapsOtherTagSetsOntoTheFirst(t *testing.T) {
	r := New()
	root := r.TemporalHandler()
	root.WithTags(map[string]string{"namespace": "default", "operation": "StartWorkflowExecution"}).
		Counter("temporal_request_failure").Inc(1)
	// Same name, different tag set: operation missing, status_code extra.
	root.WithTags(map[string]string{"namespace": "default", "status_code": "Unavailable"}).
		Counter("temporal_request_failure").Inc(2)
	// No tags at all, on every kind.
	root.Counter("temporal_request_failure").Inc(4)
	root.Gauge("temporal_sticky_cache_size").Update(1)
	root.WithTags(map[string]string{"worker_type": "ActivityWorker"}).Gauge("temporal_sticky_cache_size").Update(3)
	root.Timer("temporal_request_latency").Record(time.Second)
	root.WithTags(map[string]string{"operation": "PollActivityTaskQueue"}).Timer("temporal_request_latency").Record(time.Second)

	body := scrape(t, r)
	assertSample(t, body, `temporal_request_failure{namespace="default",operation="StartWorkflowExecution"}`, 1)
	assertSample(t, body, `temporal_request_failure{namespace="default",operation=""}`, 2)
	assertSample(t, body, `temporal_request_failure{namespace="",operation=""}`, 4)
	assertSample(t, body, `temporal_sticky_cache_size`, 3) // both tag sets map onto the one series
	assertSample(t, body, `temporal_request_latency_count`, 2)
	assertSample(t, body, `impactflow_temporal_metric_issues_total{issue="labels_missing",metric="temporal_request_failure"}`, 2)
	assertSample(t, body, `impactflow_temporal_metric_issues_total{issue="labels_dropped",metric="temporal_request_failure"}`, 1)
	assertSample(t, body, `impactflow_temporal_metric_issues_total{issue="labels_dropped",metric="temporal_request_latency"}`, 1)
	assertGathers(t, r)
}

func TestTemporalHandlerSanitizesNamesAndLabels(t *testing.T) {
	r := New()
	h := r.TemporalHandler().WithTags(map[string]string{
		"task-queue": "reports", "le": "x", "__name__": "y", "1st": "z", "bad": "\xff",
	})
	h.Timer("temporal.odd-name:latency").Record(time.Millisecond)
	h.Counter("9lives").Inc(1)

	body := scrape(t, r)
	labels := "_1st=\"z\",bad=\"\ufffd\",tag___name__=\"y\",tag_le=\"x\",task_queue=\"reports\""
	assertSample(t, body, "temporal_odd_name_latency_count{"+labels+"}", 1)
	assertSample(t, body, "_9lives{"+labels+"}", 1)
	assertGathers(t, r)
}

func TestSanitize(t *testing.T) {
	for _, tc := range []struct{ in, metric, label string }{
		{"temporal_request", "temporal_request", "temporal_request"},
		{"", "unnamed", "tag_"},
		{"a.b-c:d", "a_b_c_d", "a_b_c_d"},
		{"0day", "_0day", "_0day"},
		{"héllo", "h_llo", "h_llo"},
		{"__x", "__x", "tag___x"},
		{"le", "le", "tag_le"},
		{"quantile", "quantile", "tag_quantile"},
	} {
		if got := sanitizeMetricName(tc.in); got != tc.metric {
			t.Errorf("sanitizeMetricName(%q) = %q, want %q", tc.in, got, tc.metric)
		}
		if got := sanitizeLabelName(tc.in); got != tc.label {
			t.Errorf("sanitizeLabelName(%q) = %q, want %q", tc.in, got, tc.label)
		}
	}
}

func TestTemporalHandlerDropsConflictingNames(t *testing.T) {
	r := New()
	root := r.TemporalHandler()
	root.Counter("temporal_thing").Inc(1)
	root.Timer("temporal_thing").Record(time.Second)        // kind differs from first use
	root.Timer("temporal_poll_latency").Record(time.Second) // exposes temporal_poll_latency_count
	root.Counter("temporal_poll_latency_count").Inc(1)      // would clash at scrape time
	root.Gauge("temporal_poll_latency_count").Update(1)     // kind differs: still dropped
	r.Prometheus().MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "temporal_taken", Help: "x"}))
	root.Gauge("temporal_taken").Update(1) // registered by someone else

	body := scrape(t, r)
	assertSample(t, body, "temporal_thing", 1)
	assertSample(t, body, "temporal_poll_latency_count", 1)
	assertSample(t, body, "temporal_taken", 0)
	assertSample(t, body, `impactflow_temporal_metric_issues_total{issue="type_conflict",metric="temporal_thing"}`, 1)
	assertSample(t, body, `impactflow_temporal_metric_issues_total{issue="name_conflict",metric="temporal_poll_latency_count"}`, 1)
	assertSample(t, body, `impactflow_temporal_metric_issues_total{issue="type_conflict",metric="temporal_poll_latency_count"}`, 1)
	assertSample(t, body, `impactflow_temporal_metric_issues_total{issue="name_conflict",metric="temporal_taken"}`, 1)
	assertGathers(t, r)
}

func TestTemporalHandlerWithTags(t *testing.T) {
	root := New().TemporalHandler()
	a := root.WithTags(map[string]string{"namespace": "default", "task_queue": "q"})
	if b := root.WithTags(map[string]string{"task_queue": "q", "namespace": "default"}); a != b {
		t.Error("WithTags with equal tags returned different handlers: instruments would not be cached")
	}
	if root.WithTags(nil) != root {
		t.Error("WithTags(nil) did not return the handler itself")
	}
	over := a.WithTags(map[string]string{"task_queue": "other"}).(*temporalHandler)
	if want := map[string]string{"namespace": "default", "task_queue": "other"}; fmt.Sprint(over.tags) != fmt.Sprint(want) {
		t.Errorf("tags = %v, want %v", over.tags, want)
	}
	if a.(*temporalHandler).tags["task_queue"] != "q" {
		t.Error("WithTags changed its parent's tags")
	}
	// Keys and values must not run together: {"ab": "c"} is not {"a": "bc"}.
	if root.WithTags(map[string]string{"ab": "c"}) == root.WithTags(map[string]string{"a": "bc"}) {
		t.Error("distinct tag sets share a handler")
	}
}

func TestTemporalHandlerConcurrentUse(t *testing.T) {
	r := New()
	root := r.TemporalHandler()
	tagSets := []map[string]string{
		{"namespace": "default", "operation": "StartWorkflowExecution"},
		{"namespace": "default", "operation": "PollWorkflowTaskQueue"},
		{"namespace": "default", "status_code": "Unavailable"},
		{"task_queue": "reports"},
		nil,
	}
	const goroutines, iterations = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range iterations {
				h := root.WithTags(tagSets[(g+i)%len(tagSets)])
				h.Counter("temporal_request").Inc(1)
				h.Gauge("temporal_num_pollers").Update(float64(i))
				h.Timer("temporal_request_latency").Record(time.Duration(i) * time.Microsecond)
				h.Counter(fmt.Sprintf("temporal_dynamic_%d", i%7)).Inc(1)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			scrape(t, r)
		}
	})
	wg.Wait()

	body := scrape(t, r)
	requests, latencies := total(body, "temporal_request"), total(body, "temporal_request_latency_count")
	if want := float64(goroutines * iterations); requests != want || latencies != want {
		t.Errorf("temporal_request total %v, temporal_request_latency count %v, want %v", requests, latencies, want)
	}
	assertGathers(t, r)
}

// TestTemporalHandlerInWorkflowsAndActivities records metrics the way workflow and
// activity code will, through the handler the SDK hands them (tagged with the
// workflow and activity type, replay-aware in workflows).
func TestTemporalHandlerInWorkflowsAndActivities(t *testing.T) {
	r := New()
	var suite testsuite.WorkflowTestSuite
	suite.SetMetricsHandler(r.TemporalHandler())
	env := suite.NewTestWorkflowEnvironment()
	greet := func(ctx context.Context, name string) (string, error) {
		activity.GetMetricsHandler(ctx).Timer("impactflow_greet_latency").Record(30 * time.Millisecond)
		return "hello " + name, nil
	}
	greeting := func(ctx workflow.Context, name string) (string, error) {
		workflow.GetMetricsHandler(ctx).Counter("impactflow_greetings_started").Inc(1)
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		var out string
		err := workflow.ExecuteActivity(ctx, "Greet", name).Get(ctx, &out)
		return out, err
	}
	env.RegisterActivityWithOptions(greet, activity.RegisterOptions{Name: "Greet"})
	env.RegisterWorkflowWithOptions(greeting, workflow.RegisterOptions{Name: "Greeting"})
	env.ExecuteWorkflow("Greeting", "csr")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}

	body := scrape(t, r)
	if got := total(body, "impactflow_greetings_started"); got != 1 {
		t.Errorf("impactflow_greetings_started = %v, want 1", got)
	}
	for _, want := range []string{
		"impactflow_greet_latency_count{",
		`activity_type="Greet"`,
		`workflow_type="Greeting"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
	assertGathers(t, r)
}

// TestTemporalHandlerWithSDKClient lets the SDK's own gRPC interceptor record
// temporal_request, its latency and its failure (with a status_code tag the other
// two lack) against an address nothing listens on.
func TestTemporalHandlerWithSDKClient(t *testing.T) {
	r := New()
	c, err := client.NewLazyClient(client.Options{
		HostPort:       "127.0.0.1:1",
		Namespace:      "impactflow",
		MetricsHandler: r.TemporalHandler(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.DescribeWorkflowExecution(ctx, "report-1", ""); err == nil {
		t.Fatal("DescribeWorkflowExecution against nothing succeeded")
	}
	// The lazy client's first call is GetSystemInfo, which fails, so the request
	// recorded is that one.

	body := scrape(t, r)
	for _, want := range []string{
		"temporal_request{",
		`client_name="temporal_go"`,
		"temporal_request_latency_bucket{",
		"temporal_request_failure{",
		`status_code="UNAVAILABLE"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if n := total(body, "impactflow_temporal_metric_issues_total"); n != 0 {
		t.Errorf("the SDK's own tag sets needed %v adjustments", n)
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", body)
	}
	assertGathers(t, r)
}

func BenchmarkTemporalCounter(b *testing.B) {
	tags := map[string]string{
		"namespace": "default", "client_name": "temporal_go", "worker_type": "WorkflowWorker",
		"workflow_type": "ReportWorkflow", "activity_type": "none", "task_queue": "reports",
	}
	b.Run("cached-handler", func(b *testing.B) {
		h := New().TemporalHandler().WithTags(tags)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h.Counter("temporal_request").Inc(1)
			}
		})
	})
	b.Run("with-tags-per-call", func(b *testing.B) {
		// The SDK's gRPC interceptor calls WithTags on every request. It also builds
		// a new tag map each time (2 allocations, 336 B), its cost rather than the
		// adapter's, so the map is built once here.
		h := New().TemporalHandler().WithTags(tags)
		rpcTags := map[string]string{"operation": "StartWorkflowExecution", "namespace": "default"}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h.WithTags(rpcTags).Counter("temporal_request").Inc(1)
			}
		})
	})
	b.Run("timer", func(b *testing.B) {
		h := New().TemporalHandler().WithTags(tags)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h.Timer("temporal_request_latency").Record(3 * time.Millisecond)
			}
		})
	})
	b.Run("client_golang-vec-baseline", func(b *testing.B) {
		// What a naive adapter pays: label values resolved on every increment.
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x", Help: "x"},
			[]string{"activity_type", "client_name", "namespace", "task_queue", "worker_type", "workflow_type"})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				v.With(prometheus.Labels(tags)).Inc()
			}
		})
	})
}

func BenchmarkGinMiddleware(b *testing.B) {
	r := New()
	engine := gin.New()
	engine.Use(r.GinMiddleware())
	engine.GET("/v1/jobs/:id", func(c *gin.Context) { c.Status(http.StatusOK) })
	req := httptest.NewRequest(http.MethodGet, "/v1/jobs/abc", nil)
	b.ReportAllocs()
	for b.Loop() {
		engine.ServeHTTP(httptest.NewRecorder(), req)
	}
}
