package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/impactflow/impactflow/internal/retention"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/internal/testdb"
)

// openTestStore opens a migrated database of the test's own.
func openTestStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), testdb.New(t, "store"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func TestSetRetentionOverridesAndResets(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	mustExec(t, st, `INSERT INTO tenants (id, name, industry, region, size_band) VALUES ('acme', 'Acme', 'tech', 'eu', '1-50')`)
	days := 90
	if err := st.SetRetention(ctx, "acme", map[retention.Class]*int{retention.Events: &days, retention.StagedUploads: &days}); err != nil {
		t.Fatal(err)
	}
	p, err := st.RetentionPolicy(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if p.Days(retention.Events) != 90 || p.Days(retention.Evidence) != retention.Default(retention.Evidence) {
		t.Fatalf("policy = %+v", p)
	}
	if err := st.SetRetention(ctx, "acme", map[retention.Class]*int{retention.Events: nil}); err != nil {
		t.Fatal(err)
	}
	if p, _ = st.RetentionPolicy(ctx, "acme"); p.Days(retention.Events) != retention.Default(retention.Events) || p.Days(retention.StagedUploads) != 90 {
		t.Fatalf("after reset: %+v", p)
	}
	tooShort := 7
	if err := st.SetRetention(ctx, "acme", map[retention.Class]*int{retention.Events: &tooShort}); err == nil {
		t.Fatal("the database accepted 7 days")
	}
}

// TestPurgeExpiredDeletesOnlyWhatIsPastRetention seeds each class with rows on both sides
// of the cutoff for two tenants, purges one tenant in small batches, and checks what is
// left.
func TestPurgeExpiredDeletesOnlyWhatIsPastRetention(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	cutoff := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old, recent := cutoff.Add(-48*time.Hour), cutoff.Add(48*time.Hour)
	for _, tenant := range []string{"acme", "globex"} {
		seedRetentionRows(t, st, tenant, old, recent)
	}

	want := map[retention.Class]int64{
		retention.Events: 5, retention.Evidence: 3, retention.ReportTexts: 2, retention.NotificationMessages: 2,
		retention.DeliveryPayloads: 1, retention.StagedUploads: 1, retention.Exports: 1,
	}
	for class, n := range want {
		var total int64
		for {
			got, err := st.PurgeExpired(ctx, "acme", class, cutoff, 2)
			if err != nil {
				t.Fatal(err)
			}
			total += got
			if got < 2 {
				break
			}
		}
		if total != n {
			t.Errorf("%s: purged %d, want %d", class, total, n)
		}
		if again, err := st.PurgeExpired(ctx, "acme", class, cutoff, 2); err != nil || again != 0 {
			t.Errorf("%s: a second purge deleted %d (%v)", class, again, err)
		}
	}

	counts := func(tenant string) map[string]int {
		out := map[string]int{}
		for name, q := range map[string]string{
			"events":        `SELECT count(*) FROM impact_events WHERE tenant_id = $1`,
			"tombstones":    `SELECT count(*) FROM impact_event_tombstones WHERE tenant_id = $1`,
			"evidence":      `SELECT count(*) FROM evidence_snippets WHERE tenant_id = $1`,
			"sections":      `SELECT count(*) FROM report_sections s JOIN report_lineage l USING (report_id) WHERE l.tenant_id = $1`,
			"citations":     `SELECT count(*) FROM report_citations WHERE tenant_id = $1`,
			"lineage":       `SELECT count(*) FROM report_lineage WHERE tenant_id = $1`,
			"purged":        `SELECT count(*) FROM report_lineage WHERE tenant_id = $1 AND texts_purged_at IS NOT NULL`,
			"notifications": `SELECT count(*) FROM notifications WHERE tenant_id = $1`,
			"messages":      `SELECT count(*) FROM notification_messages WHERE tenant_id = $1`,
			"outbox":        `SELECT count(*) FROM notification_outbox WHERE tenant_id = $1`,
			"payloads":      `SELECT count(*) FROM deliveries WHERE tenant_id = $1 AND payload IS NOT NULL`,
			"deliveries":    `SELECT count(*) FROM deliveries WHERE tenant_id = $1`,
			"uploads":       `SELECT count(*) FROM import_uploads WHERE tenant_id = $1`,
			"chunks":        `SELECT count(*) FROM import_chunks c JOIN import_uploads u USING (job_id) WHERE u.tenant_id = $1`,
			"exports":       `SELECT count(*) FROM privacy_exports WHERE tenant_id = $1`,
		} {
			var n int
			if err := st.Pool().QueryRow(ctx, q, tenant).Scan(&n); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = n
		}
		return out
	}
	wantAcme := map[string]int{"events": 2, "tombstones": 5, "evidence": 1, "sections": 1, "citations": 1, "lineage": 3,
		"purged": 2, "notifications": 2, "messages": 2, "outbox": 1, "payloads": 1, "deliveries": 2, "uploads": 1, "chunks": 1, "exports": 1}
	wantGlobex := map[string]int{"events": 7, "tombstones": 0, "evidence": 4, "sections": 3, "citations": 3, "lineage": 3,
		"purged": 0, "notifications": 4, "messages": 4, "outbox": 2, "payloads": 2, "deliveries": 2, "uploads": 2, "chunks": 2, "exports": 2}
	for tenant, want := range map[string]map[string]int{"acme": wantAcme, "globex": wantGlobex} {
		got := counts(tenant)
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s %s: %d left, want %d", tenant, k, got[k], n)
			}
		}
	}
}

// seedRetentionRows writes, for one tenant: 5 old and 2 recent events; 3 old and 1 recent
// snippets; 2 old reports and 1 recent one, one section and citation each; 2 old sent
// notifications, 1 old still scheduled and 1 recent, one message each (and outbox rows for
// the sent ones); an old and a recent delivery with payloads; an old and a recent upload
// with a chunk each; an old and a recent export.
func seedRetentionRows(t *testing.T, st *store.Store, tenant string, old, recent time.Time) {
	t.Helper()
	mustExec(t, st, `INSERT INTO tenants (id, name, industry, region, size_band) VALUES ($1, $1, 'tech', 'eu', '1-50')`, tenant)
	var program int64
	if err := st.Pool().QueryRow(context.Background(),
		`INSERT INTO programs (tenant_id, code, name) VALUES ($1, 'mentoring', 'Mentoring') RETURNING id`, tenant).Scan(&program); err != nil {
		t.Fatal(err)
	}
	at := func(i, oldCount int) time.Time {
		if i < oldCount {
			return old
		}
		return recent
	}
	for i := range 7 {
		mustExec(t, st, `INSERT INTO impact_events (tenant_id, event_id, program_id, participant_id, kind, occurred_at, value)
			VALUES ($1, $2, $3, 'p-1', 'signup', $4, 1)`, tenant, fmt.Sprintf("ev-%d", i), program, at(i, 5))
	}
	for i := range 4 {
		mustExec(t, st, `INSERT INTO evidence_snippets (tenant_id, snippet_id, program_id, text, source, occurred_at)
			VALUES ($1, $2, $3, 'Invented evidence text.', 'survey', $4)`, tenant, fmt.Sprintf("sn-%d", i), program, at(i, 3))
	}
	for i := range 3 {
		id := fmt.Sprintf("report-%s-%d", tenant, i)
		mustExec(t, st, `INSERT INTO report_lineage (report_id, tenant_id, status, locale, period_from, period_to, model,
			offline, prompt_version, workflow_id, run_id, created_at) VALUES ($1, $2, 'completed', 'en', '2025-01-01',
			'2025-03-31', 'offline-extractive', true, 'report-v1', $1, 'run', $3)`, id, tenant, at(i, 2))
		mustExec(t, st, `INSERT INTO report_sections (report_id, section, position, status, model, prompt_version)
			VALUES ($1, 'summary', 0, 'written', 'offline-extractive', 'report-v1')`, id)
		mustExec(t, st, `INSERT INTO report_citations (report_id, section, paragraph, tenant_id, snippet_id, quote)
			VALUES ($1, 'summary', 0, $2, 'sn-0', 'a quote')`, id, tenant)
	}
	for i, status := range []string{"sent", "sent", "scheduled", "sent"} {
		id := fmt.Sprintf("notification-%s-%d", tenant, i)
		created := old
		if i == 3 {
			created = recent
		}
		mustExec(t, st, `INSERT INTO notifications (id, tenant_id, channel, recipients, status, created_at)
			VALUES ($1, $2, 'email', '{ada@example.org}', $3, $4)`, id, tenant, status, created)
		mustExec(t, st, `INSERT INTO notification_messages (message_key, notification_id, tenant_id, recipient)
			VALUES ($1, $1, $2, 'ada@example.org')`, id, tenant)
		if status == "sent" && i != 1 {
			mustExec(t, st, `INSERT INTO notification_outbox (message_key, notification_id, tenant_id, channel, recipient, subject, html, text)
				VALUES ($1, $1, $2, 'email', 'ada@example.org', 's', 'h', 't')`, id, tenant)
		}
	}
	for i := range 2 {
		mustExec(t, st, `INSERT INTO deliveries (id, tenant_id, partner, period_start, period_end, status, payload, created_at)
			VALUES ($1, $2, 'benevity', '2025-01-01', '2025-01-31', 'delivered', '\x7b7d', $3)`,
			fmt.Sprintf("delivery-%s-%d", tenant, i), tenant, at(i, 1))
	}
	for i := range 2 {
		job := fmt.Sprintf("import-%s-%d", tenant, i)
		mustExec(t, st, `INSERT INTO import_uploads (job_id, tenant_id, target, request_hash, created_at)
			VALUES ($1, $2, 'events', '\x00', $3)`, job, tenant, at(i, 1))
		mustExec(t, st, `INSERT INTO import_chunks (job_id, seq, lines, data) VALUES ($1, 0, '{1}', '\x00')`, job)
		mustExec(t, st, `INSERT INTO privacy_exports (id, tenant_id, participant_id, document, bytes, created_at, expires_at)
			VALUES ($1, $2, 'p-1', '{}', 2, $3, $3::timestamptz + interval '7 days')`, fmt.Sprintf("privacy_export-%s-%d", tenant, i), tenant, at(i, 1))
	}
}

func mustExec(t *testing.T, st *store.Store, sql string, args ...any) {
	t.Helper()
	if _, err := st.Pool().Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
