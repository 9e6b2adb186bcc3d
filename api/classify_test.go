package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	openaisandbox "github.com/impactflow/impactflow/internal/sandbox/openai"
	"github.com/impactflow/impactflow/internal/store"
)

func TestClassifyEvidenceEndToEnd(t *testing.T) {
	key := reportTenant(t, "classico")
	before := len(env.llm.Prompts())
	// The first batch's first answer names a dimension that does not exist: the batch is
	// asked again with the problem listed, and the sandbox's default answer is valid.
	env.llm.Enqueue(openaisandbox.Reply{Content: `{"items":[{"id":"s-1","labels":[{"dimension":"happiness","score":0.9}]},{"id":"s-2","labels":[]}]}`})

	r := call(t, http.MethodPost, "/v1/evidence/classify", key, "application/json",
		strings.NewReader(`{"batch_size":2,"programs":["mentoring"]}`), "Idempotency-Key", "classify-once")
	if r.Status != http.StatusAccepted || !strings.HasPrefix(r.Header.Get("Location"), "/v1/jobs/classification-") {
		t.Fatalf("classify: %d %s", r.Status, r.Raw)
	}
	id, _ := r.Body["id"].(string)
	again := call(t, http.MethodPost, "/v1/evidence/classify", key, "application/json",
		strings.NewReader(`{"batch_size":2,"programs":["mentoring"]}`), "Idempotency-Key", "classify-once")
	if again.Body["id"] != id {
		t.Fatalf("the same Idempotency-Key started another job: %s vs %s", again.Raw, id)
	}

	done := waitJob(t, id, key)
	res := result(done)
	if done.Body["status"] != "completed" || res["status"] != "completed" || num(res, "classified") != 4 || num(res, "total") != 4 ||
		num(res, "batches") != 2 || num(res, "reasked") != 1 || num(res, "cost_micros") == 0 || res["offline"] != false {
		t.Fatalf("job %s", done.Raw)
	}

	ev := getJSON(t, "/v1/evidence/s-1", key)
	labels, _ := ev.Body["labels"].([]any)
	if ev.Status != http.StatusOK || len(labels) != 1 || ev.Body["outcome_dimension"] != "confidence" ||
		ev.Body["outcome_score"] != 0.75 || ev.Body["classifier_model"] != "gpt-4o-mini" || ev.Body["classifier_job_id"] != id {
		t.Fatalf("evidence %d %s", ev.Status, ev.Raw)
	}
	if r := getJSON(t, "/v1/evidence/nope", key); r.Status != http.StatusNotFound {
		t.Fatalf("unknown snippet: %d", r.Status)
	}
	// Redacted before leaving the process.
	prompts := env.llm.Prompts()[before:]
	if len(prompts) != 3 {
		t.Errorf("%d prompts, want 2 batches plus the re-ask", len(prompts))
	}
	for _, p := range prompts {
		for _, pii := range []string{"ana.lopez@example.com", "López", "Kwame", "Mensah", "7700 900123"} {
			if strings.Contains(p, pii) {
				t.Fatalf("prompt leaked %q:\n%s", pii, p)
			}
		}
	}
	if !strings.Contains(prompts[1], `unknown dimension \"happiness\"`) && !strings.Contains(prompts[1], `unknown dimension "happiness"`) {
		t.Errorf("the re-ask does not list the problem:\n%s", prompts[1])
	}
	// The spend is in the tenant's ledger mirror.
	var spent int64
	if err := env.store.Pool().QueryRow(context.Background(),
		`SELECT coalesce(sum(cost_micros), 0) FROM ai_budget_ledger WHERE tenant_id = 'classico' AND job_id = $1`, id).Scan(&spent); err != nil {
		t.Fatal(err)
	}
	if spent != int64(num(res, "cost_micros")) {
		t.Errorf("ledger %d, job %d", spent, num(res, "cost_micros"))
	}

	// Nothing left to classify: a second job completes with nothing to do.
	next := postJSON(t, "/v1/evidence/classify", key, map[string]any{})
	if next.Status != http.StatusAccepted {
		t.Fatalf("second classify: %d %s", next.Status, next.Raw)
	}
	if res := result(waitJob(t, next.Body["id"].(string), key)); num(res, "classified") != 0 || num(res, "total") != 0 {
		t.Fatalf("second job %v", res)
	}
	recordHistory(t, id, "classification")

	// A snippet re-imported with a changed text is unclassified again; the others are not.
	imp := call(t, http.MethodPost, "/v1/evidence", key, "application/json", strings.NewReader(
		`[{"snippet_id":"s-3","program":"mentoring","text":"The evening sessions now run weekly.","source":"case_note","occurred_at":"2026-02-03T10:00:00Z"}]`))
	if imp.Status != http.StatusAccepted {
		t.Fatalf("re-import: %d %s", imp.Status, imp.Raw)
	}
	if res := result(waitJob(t, imp.Body["id"].(string), key)); num(res, "updated") != 1 {
		t.Fatalf("re-import %v", res)
	}
	if ev := getJSON(t, "/v1/evidence/s-3", key); ev.Body["classified_at"] != nil {
		t.Errorf("changed snippet still classified: %s", ev.Raw)
	}
	if ev := getJSON(t, "/v1/evidence/s-4", key); ev.Body["classified_at"] == nil {
		t.Errorf("untouched snippet lost its classification: %s", ev.Raw)
	}
}

func TestClassifyEvidenceBadInput(t *testing.T) {
	key := reportTenant(t, "classbad")
	for body, field := range map[string]string{
		`{"limit":-1}`:           "limit",
		`{"batch_size":500}`:     "batch_size",
		`{"programs":["nope"]}`:  "programs",
		`{"model":"bad model!"}`: "model",
		`{"limit":"ten"}`:        "limit",
	} {
		r := call(t, http.MethodPost, "/v1/evidence/classify", key, "application/json", strings.NewReader(body))
		if r.Status != http.StatusBadRequest || r.errorField() != field {
			t.Errorf("%s: %d field %q, want 400 naming %s (%s)", body, r.Status, r.errorField(), field, r.Raw)
		}
	}
}

func TestClassifyEvidenceRefusedWhenTheBudgetIsSpent(t *testing.T) {
	key := reportTenant(t, "classbroke")
	var limit int64 // a zero budget: not even one batch fits
	if err := env.store.SetTenantAISettings(context.Background(), "classbroke", store.AISettings{BudgetLimitMicros: &limit}); err != nil {
		t.Fatal(err)
	}
	before := env.llm.Requests()
	r := postJSON(t, "/v1/evidence/classify", key, map[string]any{})
	if r.Status != http.StatusTooManyRequests || r.errorCode() != "ai_budget_exhausted" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("classify with no budget: %d %s", r.Status, r.Raw)
	}
	if env.llm.Requests() != before {
		t.Error("a refused job called the model")
	}
	if ev := getJSON(t, "/v1/evidence/s-1", key); ev.Body["classified_at"] != nil {
		t.Errorf("refused job classified: %s", ev.Raw)
	}
}
