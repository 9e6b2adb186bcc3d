package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/impactflow/impactflow/internal/testdb"
)

// The invented person every test erases, and one who must stay.
var (
	ana   = Subject{TenantID: "priv-test", ParticipantID: "p-ana", FullName: "Ana Quispe-Mamani", Email: "ana.quispe@example.org", Phone: "+34 611 222 333"}
	other = "p-bo"
)

// testPool migrates a database of the test's own and drops it afterwards.
func testPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testdb.New(t, "privacy"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// seed writes Ana everywhere the platform keeps a participant's data, and Bo, whose
// evidence names Ana.
func seed(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	tenant := ana.TenantID
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO tenants (id, name, industry, region, size_band) VALUES ($1, 'Priv', 'tech', 'eu', 's')`, []any{tenant}},
		{`INSERT INTO programs (tenant_id, code, name) VALUES ($1, 'mentoring', 'Mentoring')`, []any{tenant}},
		{`INSERT INTO participants (tenant_id, id, full_name, email, phone) VALUES ($1, $2, $3, $4, $5), ($1, $6, 'Bo Lindqvist', 'bo@example.org', '')`,
			[]any{tenant, ana.ParticipantID, ana.FullName, ana.Email, ana.Phone, other}},
		{`INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value, attributes, import_job_id)
			SELECT $1, 'ev-' || md5(p), (SELECT id FROM programs WHERE tenant_id = $1), p, 'signup', '2026-03-02T10:00:00Z', 1,
			       jsonb_build_object('participant_name', CASE WHEN p = $2 THEN $3 ELSE 'Bo' END), 'import-11111111-1111-4111-8111-111111111111'
			FROM unnest(ARRAY[$2, $4]) AS p`, []any{tenant, ana.ParticipantID, ana.FullName, other}},
		{`INSERT INTO evidence_snippets (tenant_id, snippet_id, program_id, participant_id, text, source, occurred_at, outcome_dimension, outcome_score, classified_at, classifier_job_id)
			VALUES ($1, 'sn-ana', (SELECT id FROM programs WHERE tenant_id = $1), $2, 'Ana Quispe-Mamani said the sessions gave her confidence to apply for jobs.', 'interview', '2026-03-03T10:00:00Z',
			        'confidence', 0.8, now(), 'classification-22222222-2222-4222-8222-222222222222'),
			       ($1, 'sn-bo', (SELECT id FROM programs WHERE tenant_id = $1), $3, 'Bo met Ana at the workshop; write to ana.quispe@example.org for the photos.', 'case_note', '2026-03-04T10:00:00Z',
			        NULL, NULL, NULL, NULL)`, []any{tenant, ana.ParticipantID, other}},
		{`INSERT INTO report_lineage (report_id, tenant_id, status, locale, period_from, period_to, model, offline, prompt_version, workflow_id, run_id)
			VALUES ('report-33333333-3333-4333-8333-333333333333', $1, 'completed', 'en', '2026-03-01', '2026-03-31', 'offline', true, 'v1',
			        'report-33333333-3333-4333-8333-333333333333', 'run-1')`, []any{tenant}},
		{`INSERT INTO report_sections (report_id, section, position, status, paragraphs, model, prompt_version)
			VALUES ('report-33333333-3333-4333-8333-333333333333', 'outcomes', 0, 'written', $1, 'offline', 'v1')`,
			[]any{`[{"text": "Ana Quispe-Mamani said the sessions gave her confidence to apply for jobs. Ana now mentors others.", "citations": [{"snippet_id": "sn-ana", "quote": "the sessions gave her confidence"}]},
			        {"text": "Attendance grew in March.", "citations": []}]`}},
		{`INSERT INTO report_citations (report_id, section, paragraph, tenant_id, snippet_id, quote)
			VALUES ('report-33333333-3333-4333-8333-333333333333', 'outcomes', 0, $1, 'sn-ana', 'the sessions gave her confidence')`, []any{tenant}},
		{`INSERT INTO notifications (id, tenant_id, channel, template, recipients, subject, status, trigger_event_id)
			VALUES ('notification-44444444-4444-4444-8444-444444444444', $1, 'email', 'welcome', ARRAY[$2, 'team@example.org'], 'Welcome, Ana Quispe-Mamani', 'sent', 'ev-trigger-1')`,
			[]any{tenant, ana.Email}},
		{`INSERT INTO notification_messages (message_key, notification_id, tenant_id, recipient, status)
			VALUES ('notification-44444444-4444-4444-8444-444444444444/0', 'notification-44444444-4444-4444-8444-444444444444', $1, $2, 'sent'),
			       ('notification-44444444-4444-4444-8444-444444444444/1', 'notification-44444444-4444-4444-8444-444444444444', $1, 'team@example.org', 'sent')`,
			[]any{tenant, ana.Email}},
		{`INSERT INTO notification_outbox (message_key, notification_id, tenant_id, channel, recipient, subject, html, text)
			VALUES ('notification-44444444-4444-4444-8444-444444444444/0', 'notification-44444444-4444-4444-8444-444444444444', $1, 'email', $2,
			        'Welcome, Ana Quispe-Mamani', '<p>Hello Ana Quispe-Mamani</p>', 'Hello Ana Quispe-Mamani')`, []any{tenant, ana.Email}},
		{`INSERT INTO notification_suppressions (tenant_id, channel, address, reason) VALUES ($1, 'sms', $2, 'stop')`, []any{tenant, ana.Phone}},
		{`INSERT INTO import_uploads (job_id, tenant_id, target, request_hash, rows, chunks) VALUES ('import-55555555-5555-4555-8555-555555555555', $1, 'events', '\x00', 2, 1)`, []any{tenant}},
		{`INSERT INTO import_chunks (job_id, seq, lines, data) VALUES ('import-55555555-5555-4555-8555-555555555555', 0, ARRAY[1, 2], convert_to($1, 'UTF8'))`,
			[]any{`{"event_id":"ev-x1","participant_id":"p-ana","participant_name":"Ana Quispe-Mamani","kind":"signup"}` + "\n" +
				`{"event_id":"ev-x2","participant_id":"p-bo","kind":"signup"}` + "\n"}},
		{`INSERT INTO notification_schedules (id, tenant_id, spec, request) VALUES ('schedule-1', $1, '{}', $2)`,
			[]any{tenant, `{"channel": "email", "to": ["ana.quispe@example.org", "desk@example.org"], "template": "welcome", "data": {"name": "Ana Quispe-Mamani"}}`}},
		{`INSERT INTO tenant_ai_settings (tenant_id, redaction_names) VALUES ($1, ARRAY[$2, 'Bo Lindqvist'])`, []any{tenant, ana.FullName}},
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s.sql, s.args...); err != nil {
			t.Fatalf("seed: %v\n%s", err, s.sql)
		}
	}
}

func TestExportHoldsEveryRecord(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	seed(t, pool)
	pg := Postgres{Pool: pool}
	s, known, err := pg.LoadSubject(ctx, ana.TenantID, ana.ParticipantID)
	if err != nil || !known || s != ana {
		t.Fatalf("LoadSubject = %+v, %v, %v", s, known, err)
	}
	doc, err := pg.BuildDocument(ctx, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"postgres.participants": 1, "postgres.impact_events": 1, "postgres.evidence_snippets": 1,
		"postgres.report_citations": 1, "postgres.report_paragraphs": 1, "postgres.notifications": 1,
		"postgres.notification_messages": 1, "postgres.notification_events": 0, "postgres.notification_outbox": 1,
		"postgres.notification_suppressions": 1}
	got := doc.Counts()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d rows, want %d", k, got[k], n)
		}
	}
	b, _ := json.Marshal(doc)
	for _, needle := range []string{ana.FullName, ana.Email, ana.Phone, "confidence", "Ana now mentors others"} {
		if !strings.Contains(string(b), needle) {
			t.Errorf("the export lacks %q", needle)
		}
	}
	if strings.Contains(string(b), "Bo Lindqvist") {
		t.Error("the export holds another participant's record")
	}

	const id = "privacy_export-66666666-6666-4666-8666-666666666666"
	now := time.Now()
	if _, expires, err := pg.SaveExport(ctx, id, doc, now); err != nil || expires.Sub(now) != ExportTTL {
		t.Fatalf("SaveExport: expires %v, %v", expires, err)
	}
	if _, err := pg.LoadExport(ctx, ana.TenantID, id, now); err != nil {
		t.Errorf("LoadExport: %v", err)
	}
	if _, err := pg.LoadExport(ctx, "another-tenant", id, now); err == nil {
		t.Error("another tenant loaded the export")
	}
	if _, err := pg.LoadExport(ctx, ana.TenantID, id, now.Add(ExportTTL+time.Second)); err == nil {
		t.Error("an expired export loaded")
	}
}

func TestEraseLeavesNothingReadable(t *testing.T) {
	ctx := context.Background()
	pool := testPool(t)
	seed(t, pool)
	pg := Postgres{Pool: pool}
	found, err := pg.ExecutionsFromPostgres(ctx, ana.TenantID, ana.ParticipantID)
	if err != nil {
		t.Fatal(err)
	}
	wantFound := map[string]string{
		"report-33333333-3333-4333-8333-333333333333":         WhyReportEvidence,
		"classification-22222222-2222-4222-8222-222222222222": WhyClassification,
		"import-11111111-1111-4111-8111-111111111111":         WhyImport,
		"import-55555555-5555-4555-8555-555555555555":         WhyImport,
		"notification-44444444-4444-4444-8444-444444444444":   WhyNotification,
		"event-ev-trigger-1":                                  WhyNotificationRule,
	}
	for _, e := range found {
		if wantFound[e.WorkflowID] != e.Why {
			t.Errorf("found %s (%s), not expected", e.WorkflowID, e.Why)
		}
		delete(wantFound, e.WorkflowID)
	}
	for id := range wantFound {
		t.Errorf("%s not found", id)
	}
	if _, _, err := pg.SaveExport(ctx, "privacy_export-1", Document{TenantID: ana.TenantID, ParticipantID: ana.ParticipantID, Postgres: map[string][]json.RawMessage{"x": {json.RawMessage(`"` + ana.Email + `"`)}}}, time.Now()); err != nil {
		t.Fatal(err)
	}

	if len(hits(t, pool, ana)) < 10 {
		t.Fatalf("the scan finds too little before the erasure: %v", hits(t, pool, ana))
	}

	const job = "privacy_erase-77777777-7777-4777-8777-777777777777"
	if err := pg.RecordEraseRequest(ctx, ana.TenantID, ana.ParticipantID, job, "asked by email"); err != nil {
		t.Fatal(err)
	}
	counts, err := pg.ErasePostgres(ctx, ana.TenantID, ana.ParticipantID, job)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"participants", "impact_events", "evidence_snippets", "report_citations", "report_sections",
		"notifications", "notification_messages", "notification_outbox", "notification_suppressions", "import_chunks rows",
		"privacy_exports", "tenant_ai_settings", "notification_schedules"} {
		if counts[table] == 0 {
			t.Errorf("nothing done in %s: %v", table, counts)
		}
	}
	assertNowhere(t, pool, ana)

	// Bo's records stay, his evidence without Ana's full name, email or phone (a first name
	// alone in someone else's words may be anyone's).
	var text string
	if err := pool.QueryRow(ctx, `SELECT text FROM evidence_snippets WHERE snippet_id = 'sn-bo'`).Scan(&text); err != nil {
		t.Fatal(err)
	}
	if want := "Bo met Ana at the workshop; write to [erased] for the photos."; text != want {
		t.Errorf("Bo's evidence = %q, want %q", text, want)
	}
	var request string
	if err := pool.QueryRow(ctx, `SELECT request::text FROM notification_schedules`).Scan(&request); err != nil {
		t.Fatal(err)
	}
	if want := `{"to": ["desk@example.org"], "data": {"name": "[erased]"}, "channel": "email", "template": "welcome"}`; request != want {
		t.Errorf("schedule request = %s, want %s", request, want)
	}
	var paragraphs string
	if err := pool.QueryRow(ctx, `SELECT paragraphs::text FROM report_sections`).Scan(&paragraphs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(paragraphs, "Attendance grew in March.") || !strings.Contains(paragraphs, `"quote": "[erased]"`) {
		t.Errorf("report paragraphs = %s", paragraphs)
	}

	// The same job again returns what it recorded; another job finds nothing and knows why.
	again, err := pg.ErasePostgres(ctx, ana.TenantID, ana.ParticipantID, job)
	if err != nil || again["participants"] != 1 {
		t.Errorf("retried erase = %v, %v", again, err)
	}
	const second = "privacy_erase-88888888-8888-4888-8888-888888888888"
	if erased, err := pg.ErasedBefore(ctx, ana.TenantID, ana.ParticipantID, second); err != nil || !erased {
		t.Errorf("ErasedBefore = %v, %v", erased, err)
	}
	if err := pg.RecordEraseRequest(ctx, ana.TenantID, ana.ParticipantID, second, "again"); err != nil {
		t.Fatal(err)
	}
	if c, err := pg.ErasePostgres(ctx, ana.TenantID, ana.ParticipantID, second); err != nil || c.Total() != 0 {
		t.Errorf("second erase = %v, %v", c, err)
	}
	if _, known, err := pg.LoadSubject(ctx, ana.TenantID, ana.ParticipantID); err != nil || known {
		t.Errorf("after erasure known = %v, %v", known, err)
	}
}

// assertNowhere fails when any row of any table holds one of the person's strings or
// their ID.
func assertNowhere(t *testing.T, pool *pgxpool.Pool, s Subject) {
	t.Helper()
	for _, h := range hits(t, pool, s) {
		t.Error(h)
	}
}

// hits lists the rows of every table that hold one of the person's strings or their ID.
func hits(t *testing.T, pool *pgxpool.Pool, s Subject) []string {
	t.Helper()
	var out []string
	ctx := context.Background()
	tables, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(tables, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	needles := append(s.needles(), "Quispe", s.ParticipantID, "confidence to apply")
	for _, table := range names {
		sql := `SELECT t::text FROM ` + pgx.Identifier{table}.Sanitize() + ` t`
		if table == "import_chunks" {
			// The staged rows are bytea: read them as text.
			sql = `SELECT t::text || convert_from(t.data, 'UTF8') FROM import_chunks t`
		}
		rows, err := pool.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range texts {
			for _, n := range needles {
				if strings.Contains(strings.ToLower(text), strings.ToLower(n)) {
					out = append(out, fmt.Sprintf("%s holds %q: %s", table, n, text))
				}
			}
		}
	}
	return out
}

func TestScrubText(t *testing.T) {
	sc := newScrubber(ana, []string{"the sessions gave her confidence"})
	for _, tc := range []struct{ in, want string }{
		{"Ana Quispe-Mamani said so.", "[erased] said so."},
		{"ANA QUISPE-MAMANI said so.", "[erased] said so."},
		{"Ana and Ana met Quispe-Mamani.", "[erased] and [erased] met [erased]."},
		{"Banana bread, Anastasia.", "Banana bread, Anastasia."},
		{"Call +34 611 222 333 or ana.quispe@example.org.", "Call [erased] or [erased]."},
		{"She said the sessions gave her confidence.", "She said [erased]."},
	} {
		if got := sc.text(tc.in); got != tc.want {
			t.Errorf("text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDropRows(t *testing.T) {
	data := []byte(`{"participant":"p-ana"}` + "\n" + `{"participant_id":"p-bo","note":"met ana.quispe@example.org"}` + "\n" + `{"participant_id":"p-cy"}` + "\n")
	lines, kept, removed := dropRows([]int32{4, 5, 6}, data, ana)
	if removed != 2 || string(kept) != `{"participant_id":"p-cy"}`+"\n" || len(lines) != 1 || lines[0] != 6 {
		t.Errorf("dropRows = %v, %q, %d", lines, kept, removed)
	}
}
