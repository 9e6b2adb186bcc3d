package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/impactflow/impactflow/api"
	"github.com/impactflow/impactflow/internal/ingest"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/workflows"
)

func TestAuthentication(t *testing.T) {
	noKey := getJSON(t, "/v1/jobs", "")
	if noKey.Status != http.StatusUnauthorized || noKey.errorCode() != "unauthenticated" {
		t.Errorf("no key: %d %s", noKey.Status, noKey.Raw)
	}
	badKey := getJSON(t, "/v1/jobs", "ifk_not-a-real-key")
	if badKey.Status != http.StatusUnauthorized {
		t.Errorf("bad key: %d %s", badKey.Status, badKey.Raw)
	}
	viewerUpload := upload(t, "/v1/impact-events", env.keys["acme/viewer"], eventFile("viewer", 1))
	if viewerUpload.Status != http.StatusForbidden || viewerUpload.errorCode() != "forbidden" {
		t.Errorf("viewer upload: %d %s", viewerUpload.Status, viewerUpload.Raw)
	}
	operatorKeys := getJSON(t, "/v1/api-keys", env.keys["acme/operator"])
	if operatorKeys.Status != http.StatusForbidden {
		t.Errorf("operator listing keys: %d", operatorKeys.Status)
	}
}

func TestAPIKeyLifecycle(t *testing.T) {
	admin := env.keys["acme/admin"]
	created := postJSON(t, "/v1/api-keys", admin, map[string]any{"name": "ci", "role": "viewer"})
	if created.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.Status, created.Raw)
	}
	secret, _ := created.Body["key"].(string)
	id, _ := created.Body["id"].(string)
	if !strings.HasPrefix(secret, "ifk_") || !strings.HasPrefix(secret, created.Body["prefix"].(string)) {
		t.Fatalf("created key = %s", created.Raw)
	}
	if me := getJSON(t, "/v1/me", secret); me.Status != http.StatusOK {
		t.Fatalf("new key rejected: %d", me.Status)
	}
	list := getJSON(t, "/v1/api-keys", admin)
	if list.Status != http.StatusOK || strings.Contains(string(list.Raw), secret) || strings.Contains(string(list.Raw), "hash") {
		t.Fatalf("list leaks the key or failed: %d %s", list.Status, list.Raw)
	}
	if other := call(t, http.MethodDelete, "/v1/api-keys/"+id, env.keys["globex/admin"], "", nil); other.Status != http.StatusNotFound {
		t.Errorf("another tenant revoking: %d", other.Status)
	}
	if revoked := call(t, http.MethodDelete, "/v1/api-keys/"+id, admin, "", nil); revoked.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", revoked.Status, revoked.Raw)
	}
	if me := getJSON(t, "/v1/me", secret); me.Status != http.StatusUnauthorized {
		t.Errorf("revoked key still works: %d", me.Status)
	}
	bad := postJSON(t, "/v1/api-keys", admin, map[string]any{"name": "x", "role": "root"})
	if bad.Status != http.StatusBadRequest || bad.errorField() != "role" {
		t.Errorf("bad role: %d %s", bad.Status, bad.Raw)
	}
}

// TestKeyRevokedElsewhereStopsWithinTheCacheTTL revokes a key behind this API's back, as
// another API process would: the cached key must stop authenticating within KeyCacheTTL.
func TestKeyRevokedElsewhereStopsWithinTheCacheTTL(t *testing.T) {
	secret := store.NewKeySecret()
	k, err := env.store.CreateAPIKey(context.Background(), "acme", "revoked elsewhere", store.RoleViewer, secret)
	if err != nil {
		t.Fatal(err)
	}
	if me := getJSON(t, "/v1/me", secret); me.Status != http.StatusOK {
		t.Fatalf("new key rejected: %d", me.Status)
	}
	if _, err := env.store.RevokeAPIKey(context.Background(), "acme", k.ID); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	for getJSON(t, "/v1/me", secret).Status != http.StatusUnauthorized {
		if time.Since(revoked) > api.KeyCacheTTL+time.Second {
			t.Fatalf("the revoked key still works %s after the revocation", time.Since(revoked).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestImportEndToEnd(t *testing.T) {
	key := env.keys["acme/operator"]
	file := eventFile("e2e", 3) +
		`{"event_id":"e2e-bad","program":"golf","participant":"p-1","kind":"signup","occurred_at":"2026-03-01T10:00:00Z","value":1}` + "\n" +
		`{"event_id":"e2e-bad2","program":"mentoring","participant":"p-1","kind":"signup","occurred_at":"2026-03-01T10:00:00Z","value":1,"extra":true}` + "\n"
	started := upload(t, "/v1/impact-events", key, file)
	if started.Status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", started.Status, started.Raw)
	}
	id, _ := started.Body["id"].(string)
	if !strings.HasPrefix(id, "import-") || started.Header.Get("Location") != "/v1/jobs/"+id || started.Body["kind"] != "import" {
		t.Fatalf("job = %s, Location = %q", started.Raw, started.Header.Get("Location"))
	}

	done := waitJob(t, id, key)
	res := result(done)
	if done.Body["status"] != "completed" || num(res, "inserted") != 3 || num(res, "rejected") != 2 || num(res, "rows") != 5 {
		t.Fatalf("job = %s", done.Raw)
	}
	rejections, _ := res["rejections"].([]any)
	first, _ := rejections[0].(map[string]any)
	second, _ := rejections[1].(map[string]any)
	if num(first, "line") != 4 || !strings.Contains(first["reason"].(string), "program") ||
		num(second, "line") != 5 || !strings.Contains(second["reason"].(string), `unknown field "extra"`) {
		t.Errorf("rejections = %v", rejections)
	}
	if done.Body["closed_at"] == nil || done.Body["progress"] == nil {
		t.Errorf("closed job lacks closed_at or progress: %s", done.Raw)
	}
	// A one-chunk upload is imported in a local activity (ImportInput.Local); import.json
	// holds a history of the regular activities bigger uploads still run.
	recordHistory(t, id, "import_local")
	var staged int
	if err := env.store.Pool().QueryRow(context.Background(),
		`SELECT coalesce(sum(length(data)), -1) FROM import_chunks WHERE job_id = $1`, id).Scan(&staged); err != nil || staged != 0 {
		t.Errorf("staged bytes left after the import = %d (%v), want 0", staged, err)
	}

	// The same file again changes nothing.
	again := waitJob(t, upload(t, "/v1/impact-events", key, file).Body["id"].(string), key)
	if res := result(again); num(res, "inserted") != 0 || num(res, "updated") != 0 || num(res, "unchanged") != 3 {
		t.Fatalf("second import = %s", again.Raw)
	}
	// A changed value is an update.
	changed := waitJob(t, upload(t, "/v1/impact-events", key, eventRow("e2e-0", 7.25)+"\n").Body["id"].(string), key)
	if res := result(changed); num(res, "updated") != 1 {
		t.Fatalf("changed import = %s", changed.Raw)
	}
	var n int
	if err := env.store.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM impact_events WHERE tenant_id = 'acme' AND event_id LIKE 'e2e-%'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("rows in postgres = %d (%v), want 3", n, err)
	}
}

func TestImportEvidence(t *testing.T) {
	key := env.keys["acme/operator"]
	file := `[{"snippet_id":"s-1","program":"mentoring","participant":"p-1","text":"María García said the sessions helped: maria@example.com","source":"interview","occurred_at":"2026-02-01T09:00:00Z"}]`
	r := call(t, http.MethodPost, "/v1/evidence", key, "application/json", strings.NewReader(file))
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", r.Status, r.Raw)
	}
	done := waitJob(t, r.Body["id"].(string), key)
	if res := result(done); done.Body["status"] != "completed" || num(res, "inserted") != 1 || res["target"] != "evidence" {
		t.Fatalf("job = %s", done.Raw)
	}
}

func TestIdempotencyKey(t *testing.T) {
	key := env.keys["acme/operator"]
	file := eventFile("idem", 2)
	first := upload(t, "/v1/impact-events", key, file, "Idempotency-Key", "batch-42")
	second := upload(t, "/v1/impact-events", key, file, "Idempotency-Key", "batch-42")
	if first.Status != http.StatusAccepted || second.Status != http.StatusAccepted {
		t.Fatalf("statuses %d %d: %s", first.Status, second.Status, second.Raw)
	}
	if first.Body["id"] != second.Body["id"] {
		t.Fatalf("a retried request started a second job: %v vs %v", first.Body["id"], second.Body["id"])
	}
	waitJob(t, first.Body["id"].(string), key)
	// After completion the same key still finds the same job.
	third := upload(t, "/v1/impact-events", key, file, "Idempotency-Key", "batch-42")
	if third.Body["id"] != first.Body["id"] || third.Body["status"] != "completed" {
		t.Fatalf("after completion: %s", third.Raw)
	}
	conflict := upload(t, "/v1/impact-events", key, eventFile("other", 1), "Idempotency-Key", "batch-42")
	if conflict.Status != http.StatusConflict {
		t.Errorf("same key, other body: %d %s", conflict.Status, conflict.Raw)
	}
	// Keys are per tenant: globex's batch-42 is its own job.
	globex := upload(t, "/v1/impact-events", env.keys["globex/operator"], file, "Idempotency-Key", "batch-42")
	if globex.Status != http.StatusAccepted || globex.Body["id"] == first.Body["id"] {
		t.Errorf("globex: %d %s", globex.Status, globex.Raw)
	}
}

func TestBadInputGetsTheErrorEnvelope(t *testing.T) {
	key := env.keys["acme/operator"]
	tests := []struct {
		name   string
		resp   func() response
		status int
		code   string
		field  string
	}{
		{"malformed upload", func() response { return upload(t, "/v1/impact-events", key, eventFile("m", 2)+"{not json\n") }, 400, "malformed_upload", "body"},
		{"empty upload", func() response { return upload(t, "/v1/impact-events", key, "") }, 400, "malformed_upload", "body"},
		{"csv content type", func() response {
			return call(t, http.MethodPost, "/v1/impact-events", key, "text/csv", strings.NewReader("a,b\n"))
		}, 415, "unsupported_media_type", "Content-Type"},
		{"too large", func() response { return upload(t, "/v1/impact-events", key, eventFile("big", 60000)) }, 413, "body_too_large", ""},
		{"bad wait", func() response {
			return getJSON(t, "/v1/jobs/import-00000000-0000-0000-0000-000000000000?wait=forever", key)
		}, 400, "invalid_request", "wait"},
		{"bad kind", func() response { return getJSON(t, "/v1/jobs?kind=pizza", key) }, 400, "invalid_request", "kind"},
		{"bad page size", func() response { return getJSON(t, "/v1/jobs?page_size=1000", key) }, 400, "invalid_request", "page_size"},
		{"unknown JSON field", func() response {
			return postJSON(t, "/v1/api-keys", env.keys["acme/admin"], map[string]any{"name": "x", "role": "viewer", "colour": "red"})
		}, 400, "invalid_request", "colour"},
		{"wrong JSON type", func() response {
			return postJSON(t, "/v1/api-keys", env.keys["acme/admin"], map[string]any{"name": 5, "role": "viewer"})
		}, 400, "invalid_request", "name"},
		{"unknown job", func() response { return getJSON(t, "/v1/jobs/import-00000000-0000-0000-0000-000000000000", key) }, 404, "not_found", ""},
		{"not a job id", func() response { return getJSON(t, "/v1/jobs/whatever", key) }, 404, "not_found", ""},
		{"no route", func() response { return getJSON(t, "/v1/nope", key) }, 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.resp()
			if r.Status != tt.status || r.errorCode() != tt.code || r.errorField() != tt.field {
				t.Fatalf("got %d %q field %q, want %d %q field %q: %s", r.Status, r.errorCode(), r.errorField(), tt.status, tt.code, tt.field, r.Raw)
			}
			if r.Header.Get("X-Request-Id") == "" {
				t.Error("no request ID")
			}
		})
	}
}

func TestTenantIsolation(t *testing.T) {
	acme := env.keys["acme/operator"]
	globex := env.keys["globex/admin"]
	id := upload(t, "/v1/impact-events", acme, eventFile("iso", 1)).Body["id"].(string)
	waitJob(t, id, acme)

	for name, r := range map[string]response{
		"read":    getJSON(t, "/v1/jobs/"+id, globex),
		"wait":    getJSON(t, "/v1/jobs/"+id+"?wait=1s", globex),
		"history": getJSON(t, "/v1/jobs/"+id+"/history", globex),
		"cancel":  postJSON(t, "/v1/jobs/"+id+"/cancel", globex, nil),
		"reset":   postJSON(t, "/v1/jobs/"+id+"/reset", globex, map[string]any{"reason": "steal"}),
	} {
		if r.Status != http.StatusNotFound {
			t.Errorf("globex %s of acme's job: %d %s", name, r.Status, r.Raw)
		}
	}
	// Visibility is eventually consistent: poll until acme sees its job; globex never does.
	deadline := time.Now().Add(20 * time.Second)
	for {
		list := getJSON(t, "/v1/jobs?kind=import&page_size=100", acme)
		if strings.Contains(string(list.Raw), id) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acme's list never showed %s: %s", id, list.Raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if list := getJSON(t, "/v1/jobs?page_size=100", globex); strings.Contains(string(list.Raw), id) {
		t.Errorf("globex's list shows acme's job")
	}
	if done := getJSON(t, "/v1/jobs?status=completed&page_size=100", acme); !strings.Contains(string(done.Raw), id) {
		t.Errorf("status filter lost the job: %s", done.Raw)
	}
}

func TestHistoryAndReset(t *testing.T) {
	key := env.keys["acme/operator"]
	id := upload(t, "/v1/impact-events", key, eventFile("reset", 4)).Body["id"].(string)
	first := waitJob(t, id, key)

	h := getJSON(t, "/v1/jobs/"+id+"/history", env.keys["acme/viewer"])
	if h.Status != http.StatusOK || !strings.Contains(string(h.Raw), `"name":"ImportChunks"`) || !strings.Contains(string(h.Raw), `"local":true`) ||
		!strings.Contains(string(h.Raw), `"kind":"completed"`) {
		t.Fatalf("history = %d %s", h.Status, h.Raw)
	}

	if r := postJSON(t, "/v1/jobs/"+id+"/reset", key, map[string]any{}); r.Status != 400 || r.errorField() != "reason" {
		t.Errorf("reset without reason: %d %s", r.Status, r.Raw)
	}
	if r := postJSON(t, "/v1/jobs/"+id+"/reset", env.keys["acme/viewer"], map[string]any{"reason": "x"}); r.Status != 403 {
		t.Errorf("viewer reset: %d", r.Status)
	}
	if r := postJSON(t, "/v1/jobs/"+id+"/reset", key, map[string]any{"reason": "x", "event_id": 2}); r.Status != 400 || r.errorField() != "event_id" {
		t.Errorf("reset to a non-workflow-task event: %d %s", r.Status, r.Raw)
	}
	reset := postJSON(t, "/v1/jobs/"+id+"/reset", key, map[string]any{"reason": "replay after fix", "to": "first_workflow_task"})
	if reset.Status != http.StatusAccepted || reset.Body["run_id"] == first.Body["run_id"] || reset.Body["id"] != id {
		t.Fatalf("reset = %d %s (first run %v)", reset.Status, reset.Raw, first.Body["run_id"])
	}
	again := waitJob(t, id, key)
	if again.Body["status"] != "completed" || again.Body["run_id"] == first.Body["run_id"] {
		t.Fatalf("after reset: %s", again.Raw)
	}
	recordHistory(t, id, "import_after_reset")
	// The re-run skips the chunks the first run finished: same counts, nothing written twice.
	if a, b := result(first), result(again); num(a, "inserted") != num(b, "inserted") || num(b, "rows") != 4 {
		t.Errorf("results differ: %v vs %v", a, b)
	}
	h = getJSON(t, "/v1/jobs/"+id+"/history", key)
	if !strings.Contains(string(h.Raw), `"kind":"reset"`) || !strings.Contains(string(h.Raw), "replay after fix") {
		t.Errorf("history of the new run lacks the reset: %s", h.Raw)
	}
	if r := postJSON(t, "/v1/jobs/"+id+"/cancel", key, nil); r.Status != http.StatusConflict {
		t.Errorf("cancel of a completed job: %d %s", r.Status, r.Raw)
	}
}

// TestResetElsewhereShowsInStatusPoll resets a closed job the way the Temporal UI or CLI
// does, with the Temporal client rather than the API, while the job is being polled: the
// poll must show the new run within closedJobTTL (4 s) of the reset, also once the job's
// cached status is vouched for by the run watch rather than re-read (internal/jobs/watch.go).
// The watch finds new runs by their StartTime in visibility, which this asserts too.
func TestResetElsewhereShowsInStatusPoll(t *testing.T) {
	const bound = 4 * time.Second // jobs.closedJobTTL
	ctx := context.Background()
	key := env.keys["acme/viewer"]
	id := upload(t, "/v1/impact-events", env.keys["acme/operator"], eventFile("reset-elsewhere", 3)).Body["id"].(string)
	first := waitJob(t, id, key)
	oldRun, _ := first.Body["run_id"].(string)
	if first.Body["status"] != "completed" || oldRun == "" {
		t.Fatalf("import: %s", first.Raw)
	}
	// Polled for longer than the bound, the closed job has been read again once and is
	// then served from the cache on the watch's word.
	for end := time.Now().Add(bound + time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if r := getJSON(t, "/v1/jobs/"+id, key); r.Status != http.StatusOK || r.Body["run_id"] != oldRun {
			t.Fatalf("poll before the reset: %d %s", r.Status, r.Raw)
		}
	}
	before := visibleRuns(t, id)

	var point int64
	iter := env.temporal.GetWorkflowHistory(ctx, id, oldRun, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() && point == 0 {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			point = ev.GetEventId()
		}
	}
	resetAt := time.Now()
	reset, err := env.temporal.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace:                 "default",
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: oldRun},
		Reason:                    "re-run from the Temporal UI",
		WorkflowTaskFinishEventId: point,
		RequestId:                 uuid.NewString(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		polled := time.Now()
		r := getJSON(t, "/v1/jobs/"+id, key)
		if r.Status != http.StatusOK {
			t.Fatalf("poll after the reset: %d %s", r.Status, r.Raw)
		}
		if r.Body["run_id"] == reset.GetRunId() {
			break
		}
		if polled.Sub(resetAt) > bound {
			t.Fatalf("a poll %s after the reset still shows run %v, not the new run %s", polled.Sub(resetAt).Round(time.Millisecond), r.Body["run_id"], reset.GetRunId())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// In visibility the new run started at the reset, not with the first run, and the first
	// run's record is unchanged.
	var after map[string]*workflowpb.WorkflowExecutionInfo
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if after = visibleRuns(t, id); after[reset.GetRunId()] != nil || time.Now().After(deadline) {
			break
		}
	}
	if n := after[reset.GetRunId()]; n == nil || n.GetStartTime().AsTime().Before(resetAt.Add(-time.Second)) {
		t.Errorf("the reset run in visibility: %v; want it started at the reset (%s)", n, resetAt.UTC().Format(time.RFC3339Nano))
	}
	o, was := after[oldRun], before[oldRun]
	if o == nil || was == nil || o.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || !o.GetCloseTime().AsTime().Equal(was.GetCloseTime().AsTime()) || !o.GetStartTime().AsTime().Equal(was.GetStartTime().AsTime()) {
		t.Errorf("the first run in visibility changed with the reset: %v, was %v", o, was)
	}
}

// visibleRuns lists the runs of workflow id in visibility, by run ID.
func visibleRuns(t *testing.T, id string) map[string]*workflowpb.WorkflowExecutionInfo {
	t.Helper()
	resp, err := env.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: "default", Query: "WorkflowId = '" + id + "'",
	})
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]*workflowpb.WorkflowExecutionInfo{}
	for _, e := range resp.GetExecutions() {
		runs[e.GetExecution().GetRunId()] = e
	}
	return runs
}

func TestHealthAndMetrics(t *testing.T) {
	ready := getJSON(t, "/health/ready", "")
	if ready.Status != http.StatusOK || ready.Body["status"] != "ready" {
		t.Fatalf("ready = %d %s", ready.Status, ready.Raw)
	}
	deps := getJSON(t, "/health/dependencies", "")
	for _, name := range []string{"postgres", "redis", "temporal"} {
		if !strings.Contains(string(deps.Raw), `"`+name+`":{"status":"up"`) {
			t.Errorf("dependency %s not up: %s", name, deps.Raw)
		}
	}
	getJSON(t, "/v1/me", env.keys["acme/viewer"])
	m := call(t, http.MethodGet, "/metrics", "", "", nil)
	for _, want := range []string{`impactflow_http_requests_total{method="GET",route="/v1/me",status="200"}`, "temporal_"} {
		if !strings.Contains(string(m.Raw), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestCancelQueuedJob(t *testing.T) {
	// A job on a task queue no worker polls stays queued: a stand-in for a busy platform.
	id := jobs.NewID(jobs.KindImport)
	job, err := env.jobs.Start(context.Background(), "acme", id, jobs.StartOptions{
		TaskQueue: "nobody-polls-" + id, Workflow: workflows.ImportWorkflow,
		Input: workflows.ImportInput{TenantID: "acme", JobID: id, Target: ingest.TargetEvents, Rows: 1, Chunks: 1},
	})
	if err != nil || job.Status != jobs.StatusQueued {
		t.Fatalf("start: %+v %v", job, err)
	}
	if r := getJSON(t, "/v1/jobs/"+id, env.keys["acme/viewer"]); r.Body["status"] != "queued" {
		t.Errorf("status = %v", r.Body["status"])
	}
	if r := postJSON(t, "/v1/jobs/"+id+"/cancel", env.keys["acme/viewer"], nil); r.Status != http.StatusForbidden {
		t.Errorf("viewer cancel: %d", r.Status)
	}
	if r := postJSON(t, "/v1/jobs/"+id+"/cancel", env.keys["acme/operator"], nil); r.Status != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", r.Status, r.Raw)
	}
	h := getJSON(t, "/v1/jobs/"+id+"/history", env.keys["acme/viewer"])
	if !strings.Contains(string(h.Raw), `"kind":"cancel_requested"`) {
		t.Errorf("history lacks the cancel request: %s", h.Raw)
	}
	_ = env.temporal.TerminateWorkflow(context.Background(), id, "", "test cleanup")
}
