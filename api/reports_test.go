package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"

	openaisandbox "github.com/impactflow/impactflow/internal/sandbox/openai"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal/codec"
)

// budgetTestModel is priced at $1000 per million output tokens and nothing for input in
// the harness, so a reservation of max_tokens=200 holds exactly $0.20.
const budgetTestModel = "budget-test"

// reportTenant makes a tenant with a program, participants, evidence holding personal data
// and impact events in Q1 2026, and returns its operator key.
func reportTenant(t *testing.T, id string) string {
	t.Helper()
	ctx := context.Background()
	if err := env.store.UpsertTenant(ctx, store.Tenant{ID: id, Name: id, Industry: "tech", Region: "eu", SizeBand: "1-50", Timezone: "Europe/Madrid", DefaultLocale: "en"}); err != nil {
		t.Fatal(err)
	}
	if err := env.store.UpsertPrograms(ctx, []store.Program{{TenantID: id, Code: "mentoring", Name: "Mentoring"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.store.UpsertParticipants(ctx, []store.Participant{
		{TenantID: id, ID: "p-1", FullName: "Ana López García", Email: "ana.lopez@example.com"},
		{TenantID: id, ID: "p-2", FullName: "Kwame Mensah"},
	}); err != nil {
		t.Fatal(err)
	}
	snippets := []struct{ id, participant, source, text string }{
		{"s-1", "p-1", "interview", "Ana López García told her mentor she now feels confident at interviews. Reach her at ana.lopez@example.com."},
		{"s-2", "p-2", "survey", "Kwame Mensah completed eight sessions and found a job in March. Phone +44 7700 900123."},
		{"s-3", "", "case_note", "The evening sessions improved attendance for the whole cohort."},
		{"s-4", "p-1", "email", "Thanks to Ana López García the group now sets its own goals."},
	}
	for i, s := range snippets {
		if _, err := env.store.Pool().Exec(ctx, `
			INSERT INTO evidence_snippets (tenant_id, snippet_id, program_id, participant_id, text, source, occurred_at)
			SELECT $1, $2, id, $3, $4, $5, $6 FROM programs WHERE tenant_id = $1 AND code = 'mentoring'`,
			id, s.id, s.participant, s.text, s.source, time.Date(2026, 2, 1+i, 10, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	for i, kind := range []string{"signup", "session_completed", "volunteer_hours", "volunteer_hours"} {
		if _, err := env.store.Pool().Exec(ctx, `
			INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value)
			SELECT $1, $2, id, $3, $4, $5, $6 FROM programs WHERE tenant_id = $1 AND code = 'mentoring'`,
			id, fmt.Sprintf("ev-%d", i), fmt.Sprintf("p-%d", i%2+1), kind, time.Date(2026, 3, 1+i, 10, 0, 0, 0, time.UTC), 2.5); err != nil {
			t.Fatal(err)
		}
	}
	key := store.NewKeySecret()
	if _, err := env.store.CreateAPIKey(ctx, id, "operator", store.RoleOperator, key); err != nil {
		t.Fatal(err)
	}
	return key
}

func q1(extra map[string]any) map[string]any {
	body := map[string]any{"period": map[string]string{"from": "2026-01-01", "to": "2026-03-31"}}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

func TestReportEndToEnd(t *testing.T) {
	key := reportTenant(t, "initech")
	// The provider rate-limits, then fails once, then answers: the Write activity's retry
	// policy rides it out (honouring Retry-After) and the report completes.
	env.llm.Enqueue(openaisandbox.Reply{Status: 429, RetryAfter: "1"}, openaisandbox.Reply{Status: 500})
	before := len(env.llm.Prompts())

	r := call(t, http.MethodPost, "/v1/gen-reports/generate", key, "application/json",
		strings.NewReader(`{"period":{"from":"2026-01-01","to":"2026-03-31"},"locale":"en"}`), "Prefer", "wait=30")
	if r.Status != http.StatusOK {
		t.Fatalf("generate: %d %s", r.Status, r.Raw)
	}
	id, _ := r.Body["id"].(string)
	if !strings.HasPrefix(id, "report-") || r.Body["status"] != "completed" || r.Header.Get("Preference-Applied") != "wait=30" {
		t.Fatalf("report %s", r.Raw)
	}
	sections, _ := r.Body["sections"].([]any)
	if len(sections) != 4 {
		t.Fatalf("sections: %d", len(sections))
	}
	text := string(r.Raw)
	for _, sec := range sections {
		m := sec.(map[string]any)
		paras, _ := m["paragraphs"].([]any)
		if m["status"] != "written" || len(paras) == 0 {
			t.Errorf("section %v", m)
		}
		for _, p := range paras {
			cites, _ := p.(map[string]any)["citations"].([]any)
			if len(cites) == 0 || cites[0].(map[string]any)["quote"] == "" {
				t.Errorf("paragraph without a quoted citation: %v", p)
			}
		}
	}
	lineage, _ := r.Body["lineage"].(map[string]any)
	if lineage["model"] != "gpt-4o-mini" || lineage["offline"] != false || lineage["workflow_id"] != id || lineage["run_id"] == "" ||
		num(lineage, "tokens_in") == 0 || num(lineage, "cost_micros") == 0 || lineage["prompt_version"] != "report-v1" || lineage["names_restored"] != true {
		t.Errorf("lineage %v", lineage)
	}
	// Nothing personal left the process; names came back in the stored text, emails did not.
	prompts := env.llm.Prompts()[before:]
	if len(prompts) < 6 {
		t.Errorf("%d prompts, want the 4 sections plus the 429 and the 500", len(prompts))
	}
	for _, p := range prompts {
		for _, pii := range []string{"ana.lopez@example.com", "López", "Kwame", "Mensah", "7700 900123"} {
			if strings.Contains(p, pii) {
				t.Fatalf("prompt leaked %q:\n%s", pii, p)
			}
		}
	}
	if strings.Contains(text, "[PERSON_") || !strings.Contains(text, "Ana López García") || strings.Contains(text, "ana.lopez@example.com") {
		t.Errorf("names must be restored and emails kept redacted: %s", text)
	}

	got := getJSON(t, "/v1/gen-reports/"+id, key)
	if got.Status != http.StatusOK || got.Body["id"] != id {
		t.Errorf("GET report: %d %s", got.Status, got.Raw)
	}
	if nf := getJSON(t, "/v1/gen-reports/"+id, env.keys["acme/viewer"]); nf.Status != http.StatusNotFound {
		t.Errorf("another tenant's report: %d", nf.Status)
	}
	job := waitJob(t, id, key)
	if job.Body["status"] != "completed" || result(job)["status"] != "completed" {
		t.Errorf("job %s", job.Raw)
	}
	progress, _ := job.Body["progress"].(map[string]any)
	if ps, _ := progress["sections"].(map[string]any); ps["summary"] != "written" {
		t.Errorf("progress per section: %v", progress)
	}
	if list := getJSON(t, "/v1/jobs", key); strings.Contains(string(list.Raw), "ai-budget-") || !strings.Contains(string(list.Raw), id) {
		t.Errorf("the jobs list must show the report and not the tenant's budget workflow: %s", list.Raw)
	}
	hist := getJSON(t, "/v1/jobs/"+id+"/history", key)
	if !strings.Contains(string(hist.Raw), "ProviderUnavailable") {
		t.Errorf("the history should show the provider's 429/500 attempts: %s", hist.Raw)
	}
	// report.json is the history from before report-local-steps, report_local.json the one
	// with local activities behind its marker; this one versions by the input.
	recordHistory(t, id, "report_input_version")
	if h := historyPayloads(t, id); !strings.Contains(h, "[PERSON_1]") || strings.Contains(h, "López") || strings.Contains(h, "ana.lopez") || strings.Contains(h, "Kwame") {
		t.Errorf("the workflow history must hold redacted text only")
	}

	cost := getJSON(t, "/v1/gen-reports/cost-summary", key)
	models, _ := cost.Body["per_model"].([]any)
	days, _ := cost.Body["per_day"].([]any)
	if cost.Status != http.StatusOK || cost.Body["spent_dollars"].(float64) <= 0 || cost.Body["limit_dollars"] != 100.0 ||
		len(models) != 1 || models[0].(map[string]any)["model"] != "gpt-4o-mini" || len(days) != 1 || cost.Body["timezone"] != "Europe/Madrid" {
		t.Errorf("cost summary %s", cost.Raw)
	}
	metrics := getText(t, "/metrics")
	for _, want := range []string{`ai_tokens_used_total{model="gpt-4o-mini",tenant="initech"}`, `ai_budget_limit_dollars{tenant="initech"} 100`,
		`ai_requests_total{model="gpt-4o-mini",status="rate_limited",tenant="initech"} 1`, `ai_cost_dollars_total{model="gpt-4o-mini",tenant="initech"}`,
		`ai_request_duration_seconds_bucket{model="gpt-4o-mini",tenant="initech"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestReportBadInput(t *testing.T) {
	key := env.keys["acme/operator"]
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"period": map[string]string{"from": "2026-13-01", "to": "2026-03-31"}}, "period.from"},
		{q1(map[string]any{"locale": "de"}), "locale"},
		{q1(map[string]any{"sections": []string{"summary", "summary"}}), "sections"},
		{q1(map[string]any{"programs": []string{"golf"}}), "programs"},
		{q1(map[string]any{"max_tokens": 5}), "max_tokens"},
		{q1(map[string]any{"model": "bad model!"}), "model"},
	} {
		r := postJSON(t, "/v1/gen-reports/generate", key, tc.body)
		if r.Status != http.StatusBadRequest || r.errorField() != tc.field {
			t.Errorf("%v: %d %s, want 400 naming %s", tc.body, r.Status, r.Raw, tc.field)
		}
	}
}

// TestReportBudgetUnderConcurrency starts 50 one-section reports at once against a budget
// that fits 10 reservations: the spend must never pass the budget plus one reservation,
// reports past the budget stop with budget_exhausted, and a new start is refused with 429.
func TestReportBudgetUnderConcurrency(t *testing.T) {
	const tenant = "umbrella"
	key := reportTenant(t, tenant)
	limit := int64(2_000_000) // $2: ten reservations of $0.20
	if err := env.store.SetTenantAISettings(context.Background(), tenant, store.AISettings{BudgetLimitMicros: &limit}); err != nil {
		t.Fatal(err)
	}
	body := q1(map[string]any{"sections": []string{"summary"}, "model": budgetTestModel, "max_tokens": 200})
	var mu sync.Mutex
	var ids []string
	refused := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			r := postJSON(t, "/v1/gen-reports/generate", key, body)
			mu.Lock()
			defer mu.Unlock()
			switch r.Status {
			case http.StatusAccepted:
				ids = append(ids, r.Body["id"].(string))
			case http.StatusTooManyRequests:
				refused++
			default:
				t.Errorf("generate: %d %s", r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	statuses := map[string]int{}
	for _, id := range ids {
		job := waitJob(t, id, key)
		statuses[fmt.Sprint(job.Body["status"], "/", result(job)["status"])]++
	}
	cost := getJSON(t, "/v1/gen-reports/cost-summary", key)
	spent := cost.Body["spent_dollars"].(float64)
	t.Logf("jobs %v, refused at start %d, spent $%.4f of $2", statuses, refused, spent)
	if spent > 2.0+0.2 {
		t.Errorf("spent $%.4f, more than the $2 budget plus one $0.20 reservation", spent)
	}
	if statuses["completed/completed"] < 10 || statuses["completed/budget_exhausted"]+refused == 0 {
		t.Errorf("want at least 10 reports written and the rest stopped by the budget: %v, %d refused", statuses, refused)
	}
	if cost.Body["reserved_dollars"].(float64) != 0 {
		t.Errorf("reservations left open: %s", cost.Raw)
	}
	// The alerts fired once each.
	var alerts int
	if err := env.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM ai_budget_alerts WHERE tenant_id = $1`, tenant).Scan(&alerts); err != nil || alerts != 3 {
		t.Errorf("budget alerts recorded: %d (%v), want 80, 90 and 100", alerts, err)
	}
	// A report that cannot afford one more section is refused up front, with the reason.
	big := q1(map[string]any{"sections": []string{"summary"}, "model": budgetTestModel, "max_tokens": 8000})
	if r := postJSON(t, "/v1/gen-reports/generate", key, big); r.Status != http.StatusTooManyRequests || r.errorCode() != "ai_budget_exhausted" ||
		!strings.Contains(string(r.Raw), "budget") || r.Header.Get("Retry-After") == "" {
		t.Errorf("over-budget start: %d %s", r.Status, r.Raw)
	}
}

// historyPayloads concatenates every activity and workflow payload of the job's history.
func historyPayloads(t *testing.T, id string) string {
	t.Helper()
	var b strings.Builder
	// Decoded as an operator reads them: what is encrypted must be redacted all the same.
	add := func(p *commonpb.Payloads) {
		decoded, err := codec.Decode(context.Background(), env.payloads.Keys(), p.GetPayloads())
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range decoded {
			b.Write(x.GetData())
		}
	}
	iter := env.temporal.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		add(ev.GetWorkflowExecutionStartedEventAttributes().GetInput())
		add(ev.GetActivityTaskScheduledEventAttributes().GetInput())
		add(ev.GetActivityTaskCompletedEventAttributes().GetResult())
		add(ev.GetWorkflowExecutionCompletedEventAttributes().GetResult())
		// Local activities' arguments and results are recorded in markers.
		for _, p := range ev.GetMarkerRecordedEventAttributes().GetDetails() {
			add(p)
		}
	}
	return b.String()
}

func getText(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(env.api.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
