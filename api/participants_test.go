package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/impactflow/impactflow/internal/store"
)

// Every name, address and number here is invented.

func TestParticipantsUpsertGetList(t *testing.T) {
	op := env.keys["acme/operator"]
	r := postJSON(t, "/v1/participants", op, []map[string]any{
		{"id": "part-b", "full_name": " Quorvin Blathersby ", "email": "quorvin@example.com", "phone": "+44 20 7946 0000", "locale": "en-GB", "attributes": map[string]any{"cohort": "A"}},
		{"id": "part-a", "full_name": "Íker Campos Vargas"},
		{"id": "part-c", "full_name": "Mireille Fontanabreu", "locale": "fr"},
	})
	if r.Status != http.StatusOK || num(r.Body, "upserted") != 3 {
		t.Fatalf("POST: %d %s", r.Status, r.Raw)
	}

	got := getJSON(t, "/v1/participants/part-b", op)
	if got.Status != http.StatusOK || got.Body["full_name"] != "Quorvin Blathersby" || got.Body["email"] != "quorvin@example.com" ||
		got.Body["locale"] != "en-GB" || got.Body["created_at"] == nil || got.Body["tenant_id"] != nil {
		t.Errorf("GET: %d %s", got.Status, got.Raw)
	}
	if attrs, _ := got.Body["attributes"].(map[string]any); attrs["cohort"] != "A" {
		t.Errorf("attributes: %s", got.Raw)
	}
	if nf := getJSON(t, "/v1/participants/part-zz", op); nf.Status != http.StatusNotFound || nf.errorCode() != "not_found" {
		t.Errorf("unknown participant: %d %s", nf.Status, nf.Raw)
	}
	if nf := getJSON(t, "/v1/participants/part-b", env.keys["globex/operator"]); nf.Status != http.StatusNotFound {
		t.Errorf("another tenant's participant: %d %s", nf.Status, nf.Raw)
	}
	if list := getJSON(t, "/v1/participants", env.keys["globex/admin"]); strings.Contains(string(list.Raw), "part-b") {
		t.Errorf("another tenant's list shows acme's participants: %s", list.Raw)
	}
	// Records are personal data: a viewer reads none.
	if r := getJSON(t, "/v1/participants/part-b", env.keys["acme/viewer"]); r.Status != http.StatusForbidden {
		t.Errorf("viewer GET: %d", r.Status)
	}
	if r := getJSON(t, "/v1/participants", env.keys["acme/viewer"]); r.Status != http.StatusForbidden {
		t.Errorf("viewer list: %d", r.Status)
	}
	if r := postJSON(t, "/v1/participants", env.keys["acme/viewer"], []map[string]any{{"id": "part-v"}}); r.Status != http.StatusForbidden {
		t.Errorf("viewer POST: %d", r.Status)
	}
	if r := getJSON(t, "/v1/participants", ""); r.Status != http.StatusUnauthorized {
		t.Errorf("no key: %d", r.Status)
	}

	// An upsert replaces the record whole.
	if r := postJSON(t, "/v1/participants", op, []map[string]any{{"id": "part-a", "full_name": "Íker Campos", "email": "iker@example.com"}}); r.Status != http.StatusOK {
		t.Fatalf("second POST: %d %s", r.Status, r.Raw)
	}
	if got := getJSON(t, "/v1/participants/part-a", op); got.Body["full_name"] != "Íker Campos" || got.Body["email"] != "iker@example.com" {
		t.Errorf("replaced: %s", got.Raw)
	}

	// NDJSON, blank lines skipped.
	nd := `{"id":"part-d","full_name":"Thaddeus Wrenfield"}` + "\n\n" + `{"id":"part-e","phone":"(555) 010-0199"}` + "\n"
	if r := upload(t, "/v1/participants", op, nd); r.Status != http.StatusOK || num(r.Body, "upserted") != 2 {
		t.Fatalf("NDJSON POST: %d %s", r.Status, r.Raw)
	}

	// Pages of two, in ID order, with an opaque token.
	var ids []string
	token := ""
	for page := 0; page < 10; page++ {
		path := "/v1/participants?limit=2"
		if token != "" {
			path += "&page_token=" + token
		}
		r := getJSON(t, path, op)
		if r.Status != http.StatusOK {
			t.Fatalf("list: %d %s", r.Status, r.Raw)
		}
		list, _ := r.Body["participants"].([]any)
		for _, p := range list {
			ids = append(ids, p.(map[string]any)["id"].(string))
		}
		token, _ = r.Body["next_page_token"].(string)
		if token == "" {
			break
		}
		if strings.Contains(token, "part-") {
			t.Errorf("the page token shows an ID: %s", token)
		}
	}
	var mine []string // acme's records other tests made are listed too
	for _, id := range ids {
		if strings.HasPrefix(id, "part-") {
			mine = append(mine, id)
		}
	}
	if got := strings.Join(mine, ","); got != "part-a,part-b,part-c,part-d,part-e" {
		t.Errorf("pages = %v", ids)
	}
	for _, tc := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=501", "limit"}, {"limit=two", "limit"},
		{"page_token=not-ours", "page_token"}, {"page_token=cDE6", "page_token"}, // cDE6 is "p1:" with no ID
	} {
		if r := getJSON(t, "/v1/participants?"+tc.query, op); r.Status != http.StatusBadRequest || r.errorField() != tc.field {
			t.Errorf("?%s: %d %s, want 400 naming %s", tc.query, r.Status, r.Raw, tc.field)
		}
	}
}

func TestParticipantsBadInput(t *testing.T) {
	op := env.keys["acme/operator"]
	ok := `{"id":"ok-1","full_name":"Ana Example"}`
	for _, tc := range []struct {
		name, body, field string
	}{
		{"missing id", `[` + ok + `,{"full_name":"No Id"}]`, "[1].id"},
		{"bad id", `[{"id":"has space"}]`, "[0].id"},
		{"bad email", `[` + ok + `,{"id":"ok-2"},{"id":"x","email":"not-an-email"}]`, "[2].email"},
		{"email with a display name", `[{"id":"x","email":"Ana <ana@example.com>"}]`, "[0].email"},
		{"email of the wrong type", `[` + ok + `,{"id":"x","email":42}]`, "[1].email"},
		{"bad phone", `[{"id":"x","phone":"call me"}]`, "[0].phone"},
		{"short phone", `[{"id":"x","phone":"+1 23"}]`, "[0].phone"},
		{"bad locale", `[{"id":"x","locale":"english please"}]`, "[0].locale"},
		{"attributes not an object", `[{"id":"x","attributes":[1,2]}]`, "[0].attributes"},
		{"control character in a name", `[{"id":"x","full_name":"Ana\u0007Example"}]`, "[0].full_name"},
		{"name too long", `[{"id":"x","full_name":"` + strings.Repeat("n", 201) + `"}]`, "[0].full_name"},
		{"unknown field", `[` + ok + `,{"id":"x","nmae":"Typo"}]`, "[1].nmae"},
		{"repeated id", `[{"id":"x"},{"id":"y"},{"id":"x"}]`, "[2].id"},
		{"not an array", `{"id":"x"}`, "body"},
		{"empty array", `[]`, "body"},
		{"not JSON", `[{"id":`, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, http.MethodPost, "/v1/participants", op, "application/json", strings.NewReader(tc.body))
			if r.Status != http.StatusBadRequest || r.errorField() != tc.field {
				t.Errorf("%d %s, want 400 naming %s", r.Status, r.Raw, tc.field)
			}
		})
	}
	// NDJSON rows are named as an array's, from 0.
	nd := ok + "\n" + `{"id":"x","email":"nope"}` + "\n"
	if r := upload(t, "/v1/participants", op, nd); r.Status != http.StatusBadRequest || r.errorField() != "[1].email" {
		t.Errorf("NDJSON bad row: %d %s", r.Status, r.Raw)
	}
	if r := upload(t, "/v1/participants", op, ok+"\n{broken\n"); r.Status != http.StatusBadRequest || r.errorField() != "[1]" {
		t.Errorf("NDJSON bad line: %d %s", r.Status, r.Raw)
	}
	if r := call(t, http.MethodPost, "/v1/participants", op, "text/csv", strings.NewReader("id\nx\n")); r.Status != http.StatusUnsupportedMediaType {
		t.Errorf("CSV: %d %s", r.Status, r.Raw)
	}
	// Nothing of a rejected body is written.
	if r := getJSON(t, "/v1/participants/ok-1", op); r.Status != http.StatusNotFound {
		t.Errorf("a rejected body wrote its good rows: %d %s", r.Status, r.Raw)
	}
}

func TestParticipantDelete(t *testing.T) {
	if r := postJSON(t, "/v1/participants", env.keys["acme/operator"], []map[string]any{{"id": "erase-me", "full_name": "Ottoline Vaskebrand"}}); r.Status != http.StatusOK {
		t.Fatalf("POST: %d %s", r.Status, r.Raw)
	}
	// Deleting is erasure: the admin's, as POST /v1/privacy/participants/:id/erase.
	if r := call(t, http.MethodDelete, "/v1/participants/erase-me?reason=asked", env.keys["acme/operator"], "", nil); r.Status != http.StatusForbidden {
		t.Errorf("operator DELETE: %d %s", r.Status, r.Raw)
	}
	if r := call(t, http.MethodDelete, "/v1/participants/nobody?reason=asked", env.keys["acme/admin"], "", nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown: %d %s", r.Status, r.Raw)
	}
	if r := call(t, http.MethodDelete, "/v1/participants/erase-me?reason=asked", env.keys["globex/admin"], "", nil); r.Status != http.StatusNotFound {
		t.Errorf("another tenant's: %d %s", r.Status, r.Raw)
	}
}

func TestRedactionNamesAPI(t *testing.T) {
	admin := env.keys["globex/admin"]
	if r := getJSON(t, "/v1/privacy/names", env.keys["globex/operator"]); r.Status != http.StatusForbidden {
		t.Errorf("operator GET: %d", r.Status)
	}
	if r := putJSON(t, "/v1/privacy/names", env.keys["globex/operator"], map[string]any{"names": []string{"Ana"}}); r.Status != http.StatusForbidden {
		t.Errorf("operator PUT: %d", r.Status)
	}
	if r := getJSON(t, "/v1/privacy/names", admin); r.Status != http.StatusOK || string(r.Raw) != `{"names":[]}` {
		t.Errorf("empty list: %d %s", r.Status, r.Raw)
	}
	r := putJSON(t, "/v1/privacy/names", admin, map[string]any{"names": []string{" Zephyrine Ollevant ", "Bao-Ngoc Truong", "Zephyrine Ollevant", "Ní Bhriain"}})
	if r.Status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.Status, r.Raw)
	}
	want := `{"names":["Zephyrine Ollevant","Bao-Ngoc Truong","Ní Bhriain"]}`
	if string(r.Raw) != want {
		t.Errorf("PUT answered %s, want %s", r.Raw, want)
	}
	if got := getJSON(t, "/v1/privacy/names", admin); string(got.Raw) != want {
		t.Errorf("GET after PUT: %s", got.Raw)
	}
	if other := getJSON(t, "/v1/privacy/names", env.keys["acme/admin"]); strings.Contains(string(other.Raw), "Zephyrine") {
		t.Errorf("another tenant sees the list: %s", other.Raw)
	}

	tooMany := make([]string, 10001)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("N%d", i)
	}
	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"too short", map[string]any{"names": []string{"Ana", " B "}}, "names[1]"},
		{"control character", map[string]any{"names": []string{"Ana\nMaria"}}, "names[0]"},
		{"too long", map[string]any{"names": []string{strings.Repeat("x", 201)}}, "names[0]"},
		{"not a string", map[string]any{"names": []any{"Ana", 7}}, "names[1]"},
		{"missing", map[string]any{}, "names"},
		{"null", map[string]any{"names": nil}, "names"},
		{"too many", map[string]any{"names": tooMany}, "names"},
		{"unknown field", map[string]any{"names": []string{}, "extra": true}, "extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := putJSON(t, "/v1/privacy/names", admin, tc.body)
			if r.Status != http.StatusBadRequest || r.errorField() != tc.field {
				t.Errorf("%d %s, want 400 naming %s", r.Status, r.Raw, tc.field)
			}
		})
	}
	if got := getJSON(t, "/v1/privacy/names", admin); string(got.Raw) != want {
		t.Errorf("a rejected PUT changed the list: %s", got.Raw)
	}
	if r := putJSON(t, "/v1/privacy/names", admin, map[string]any{"names": []string{}}); r.Status != http.StatusOK || string(r.Raw) != `{"names":[]}` {
		t.Errorf("clearing: %d %s", r.Status, r.Raw)
	}
}

// TestParticipantNamesReachTheRedactor: names written through the participant API, the
// names list and an import's participant_name are redacted from the next report's prompts,
// in a running worker whose redactor cache already holds the tenant's previous names.
func TestParticipantNamesReachTheRedactor(t *testing.T) {
	const tenant = "names-e2e"
	ctx := context.Background()
	if err := env.store.UpsertTenant(ctx, store.Tenant{ID: tenant, Name: tenant, Industry: "tech", Region: "eu", SizeBand: "1-50", Timezone: "UTC", DefaultLocale: "en"}); err != nil {
		t.Fatal(err)
	}
	if err := env.store.UpsertPrograms(ctx, []store.Program{{TenantID: tenant, Code: "mentoring", Name: "Mentoring"}}); err != nil {
		t.Fatal(err)
	}
	keys := map[store.Role]string{}
	for _, role := range []store.Role{store.RoleAdmin, store.RoleOperator} {
		keys[role] = store.NewKeySecret()
		if _, err := env.store.CreateAPIKey(ctx, tenant, string(role), role, keys[role]); err != nil {
			t.Fatal(err)
		}
	}
	op, admin := keys[store.RoleOperator], keys[store.RoleAdmin]
	// p-7 has no record yet; the second snippet names nobody's record.
	for i, s := range []struct{ id, participant, source, text string }{
		{"s-1", "p-7", "interview", "Quorvin Blathersby says the weekly mentoring sessions helped him prepare for interviews, as did Yzquel Brannoch."},
		{"s-2", "", "case_note", "The cohort thanked Zephyrine Ollevant for running the evening sessions every week."},
	} {
		if _, err := env.store.Pool().Exec(ctx, `
			INSERT INTO evidence_snippets (tenant_id, snippet_id, program_id, participant_id, text, source, occurred_at)
			SELECT $1, $2, id, $3, $4, $5, $6 FROM programs WHERE tenant_id = $1 AND code = 'mentoring'`,
			tenant, s.id, s.participant, s.text, s.source, time.Date(2026, 2, 1+i, 10, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	events := ""
	for i, kind := range []string{"signup", "session_completed", "volunteer_hours"} {
		events += fmt.Sprintf(`{"event_id":"ev-%d","program":"mentoring","participant":"p-7","kind":%q,"occurred_at":"2026-03-0%dT10:00:00Z","value":2}`+"\n", i, kind, i+1)
	}
	if job := upload(t, "/v1/impact-events", op, events); job.Status != http.StatusAccepted || waitJob(t, job.Body["id"].(string), op).Body["status"] != "completed" {
		t.Fatalf("import events: %d %s", job.Status, job.Raw)
	}

	report := func() []string {
		t.Helper()
		before := len(env.llm.Prompts())
		r := call(t, http.MethodPost, "/v1/gen-reports/generate", op, "application/json",
			strings.NewReader(`{"period":{"from":"2026-01-01","to":"2026-03-31"},"locale":"en","sections":["summary"]}`), "Prefer", "wait=30")
		if r.Status != http.StatusOK || r.Body["status"] != "completed" {
			t.Fatalf("generate: %d %s", r.Status, r.Raw)
		}
		prompts := env.llm.Prompts()[before:]
		if !strings.Contains(strings.Join(prompts, "\n"), "evening sessions") {
			t.Fatalf("the sandbox did not record this report's prompt (it keeps the first 1000): %d new prompts", len(prompts))
		}
		return prompts
	}
	leaked := func(prompts []string, names ...string) []string {
		var out []string
		for _, n := range names {
			if strings.Contains(strings.Join(prompts, "\n"), n) {
				out = append(out, n)
			}
		}
		return out
	}

	// The first report fills the worker's redactor cache with the tenant's names as they
	// are. A stronger built-in redactor may find these names already; this one does not.
	first := report()
	t.Logf("before the names were known, the prompt carried %v", leaked(first, "Quorvin", "Blathersby", "Zephyrine", "Ollevant", "Yzquel", "Brannoch"))

	// p-9 has a record and no evidence of their own: another participant's evidence names them.
	if r := postJSON(t, "/v1/participants", op, []map[string]any{{"id": "p-7", "full_name": "Quorvin Blathersby"},
		{"id": "p-9", "full_name": "Yzquel Brannoch"}}); r.Status != http.StatusOK {
		t.Fatalf("POST participant: %d %s", r.Status, r.Raw)
	}
	if r := putJSON(t, "/v1/privacy/names", admin, map[string]any{"names": []string{"Zephyrine Ollevant"}}); r.Status != http.StatusOK {
		t.Fatalf("PUT names: %d %s", r.Status, r.Raw)
	}
	evidence := `{"snippet_id":"s-3","program":"mentoring","participant":"p-8","participant_name":"Thaddeus Wrenfield","text":"Thaddeus Wrenfield now mentors two newcomers in the evening sessions.","source":"survey","occurred_at":"2026-02-10T10:00:00Z"}` + "\n"
	if job := upload(t, "/v1/evidence", op, evidence); job.Status != http.StatusAccepted || waitJob(t, job.Body["id"].(string), op).Body["status"] != "completed" {
		t.Fatalf("import evidence: %d %s", job.Status, job.Raw)
	}
	if r := getJSON(t, "/v1/participants/p-8", op); r.Body["full_name"] != "Thaddeus Wrenfield" {
		t.Fatalf("the import's participant_name did not fill the record: %d %s", r.Status, r.Raw)
	}

	second := report()
	if !strings.Contains(strings.Join(second, "\n"), "mentors two newcomers") {
		t.Fatalf("the imported snippet is not in the report's prompt")
	}
	if got := leaked(second, "Quorvin", "Blathersby", "Zephyrine", "Ollevant", "Thaddeus", "Wrenfield", "Yzquel", "Brannoch"); len(got) > 0 {
		t.Errorf("the report's prompt carried %v:\n%s", got, strings.Join(second, "\n---\n"))
	}

	// Classification redacts the same way.
	before := len(env.llm.Prompts())
	r := postJSON(t, "/v1/evidence/classify", op, map[string]any{"programs": []string{"mentoring"}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("classify: %d %s", r.Status, r.Raw)
	}
	if job := waitJob(t, r.Body["id"].(string), op); job.Body["status"] != "completed" || num(result(job), "classified") != 3 {
		t.Fatalf("classification job: %s", job.Raw)
	}
	classify := env.llm.Prompts()[before:]
	if !strings.Contains(strings.Join(classify, "\n"), "mentors two newcomers") {
		t.Fatalf("the sandbox did not record the classification prompt: %d new prompts", len(classify))
	}
	if got := leaked(classify, "Quorvin", "Blathersby", "Zephyrine", "Ollevant", "Thaddeus", "Wrenfield", "Yzquel", "Brannoch"); len(got) > 0 {
		t.Errorf("the classification prompt carried %v:\n%s", got, strings.Join(classify, "\n---\n"))
	}
}
