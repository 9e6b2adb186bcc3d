package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/impactflow/impactflow/internal/ingest"
	"github.com/impactflow/impactflow/internal/store"
)

// testStore migrates a database of the test's own, with tenants acme and globex and a
// program each, and drops it afterwards.
func testStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := openTestStore(t)
	for _, id := range []string{"acme", "globex"} {
		if err := st.UpsertTenant(ctx, store.Tenant{ID: id, Name: id, Industry: "x", Region: "eu", SizeBand: "s", Timezone: "UTC", DefaultLocale: "en"}); err != nil {
			t.Fatal(err)
		}
		if err := st.UpsertPrograms(ctx, []store.Program{{TenantID: id, Code: "mentoring", Name: "Mentoring"}}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestParticipants(t *testing.T) {
	st := testStore(t)
	ctx := context.Background()
	if err := st.UpsertParticipants(ctx, []store.Participant{
		{TenantID: "acme", ID: "p-2", FullName: "Quorvin Blathersby", Email: "quorvin@example.com", Locale: "en-GB", Attributes: []byte(`{"cohort":"A"}`)},
		{TenantID: "acme", ID: "p-1", FullName: "Íker Campos Vargas", Phone: "+34 600 000 000"},
		{TenantID: "acme", ID: "p-3", FullName: "Mireille Fontanabreu"},
		{TenantID: "globex", ID: "p-1", FullName: "Thaddeus Wrenfield"},
	}); err != nil {
		t.Fatal(err)
	}

	p, err := st.Participant(ctx, "acme", "p-2")
	if err != nil {
		t.Fatal(err)
	}
	if p.FullName != "Quorvin Blathersby" || p.Email != "quorvin@example.com" || p.Locale != "en-GB" ||
		string(p.Attributes) != `{"cohort": "A"}` || p.CreatedAt.IsZero() || p.UpdatedAt.IsZero() {
		t.Errorf("participant = %+v (attributes %s)", p, p.Attributes)
	}
	if p, _ := st.Participant(ctx, "acme", "p-1"); string(p.Attributes) != "{}" {
		t.Errorf("attributes of a record without = %s, want {}", p.Attributes)
	}
	if _, err := st.Participant(ctx, "acme", "p-9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown participant: %v", err)
	}
	if _, err := st.Participant(ctx, "globex", "p-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another tenant's participant: %v", err)
	}

	// An unchanged record is left alone; a changed one is replaced whole.
	time.Sleep(10 * time.Millisecond)
	if err := st.UpsertParticipants(ctx, []store.Participant{
		{TenantID: "acme", ID: "p-2", FullName: "Quorvin Blathersby", Email: "quorvin@example.com", Locale: "en-GB", Attributes: []byte(`{"cohort":"A"}`)},
		{TenantID: "acme", ID: "p-1", FullName: "Íker Campos"},
	}); err != nil {
		t.Fatal(err)
	}
	if again, _ := st.Participant(ctx, "acme", "p-2"); !again.UpdatedAt.Equal(p.UpdatedAt) {
		t.Errorf("unchanged record's updated_at moved: %v → %v", p.UpdatedAt, again.UpdatedAt)
	}
	if p1, _ := st.Participant(ctx, "acme", "p-1"); p1.FullName != "Íker Campos" || p1.Phone != "" || !p1.UpdatedAt.After(p1.CreatedAt) {
		t.Errorf("replaced record = %+v", p1)
	}

	// Pages by ID, of the tenant's records only.
	var ids []string
	after := ""
	for page := 0; page < 5; page++ {
		list, err := st.ListParticipants(ctx, "acme", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list {
			ids = append(ids, p.ID)
		}
		if len(list) < 2 {
			break
		}
		after = list[len(list)-1].ID
	}
	if got := strings.Join(ids, ","); got != "p-1,p-2,p-3" {
		t.Errorf("pages = %s", got)
	}

	if err := st.DeleteParticipant(ctx, "globex", "p-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete of another tenant's participant: %v", err)
	}
	if err := st.DeleteParticipant(ctx, "acme", "p-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Participant(ctx, "acme", "p-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted participant: %v", err)
	}
}

// TestImportFillsParticipantNames: the names an import's rows carry fill the records in the
// chunk's transaction, the last row naming a participant winning, other fields kept, and a
// retried chunk changes nothing.
func TestImportFillsParticipantNames(t *testing.T) {
	st := testStore(t)
	ctx := context.Background()
	if err := st.UpsertParticipants(ctx, []store.Participant{
		{TenantID: "acme", ID: "p-1", FullName: "Old Name", Email: "p1@example.com"},
		{TenantID: "acme", ID: "p-3", FullName: "Mireille Fontanabreu"},
	}); err != nil {
		t.Fatal(err)
	}
	ids, err := st.ProgramIDs(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	event := func(id, participant, name string) ingest.Event {
		return ingest.Event{EventID: id, ProgramID: ids["mentoring"], ParticipantID: participant, Kind: "signup",
			OccurredAt: at, Value: "1", Attributes: "{}", ParticipantName: name}
	}
	events := []ingest.Event{
		event("e-1", "p-1", "Ngozi Okonkwo-Bauer"),
		event("e-2", "p-2", "Quorvin Blathersby"),
		event("e-3", "p-2", "Quorvin Blathersby-Ferreira"),
		event("e-4", "p-3", ""),
	}
	write := func() {
		t.Helper()
		tx, err := st.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, _, err := store.UpsertEvents(ctx, tx, "acme", "import-1", events); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write()
	want := map[string]string{"p-1": "Ngozi Okonkwo-Bauer", "p-2": "Quorvin Blathersby-Ferreira", "p-3": "Mireille Fontanabreu"}
	first := map[string]store.Participant{}
	for id, name := range want {
		p, err := st.Participant(ctx, "acme", id)
		if err != nil || p.FullName != name {
			t.Errorf("%s = %+v, %v; want name %q", id, p, err, name)
		}
		first[id] = p
	}
	if first["p-1"].Email != "p1@example.com" {
		t.Errorf("the import cleared p-1's email: %+v", first["p-1"])
	}

	time.Sleep(10 * time.Millisecond)
	write() // a retried chunk
	for id := range want {
		if p, _ := st.Participant(ctx, "acme", id); !p.UpdatedAt.Equal(first[id].UpdatedAt) {
			t.Errorf("a retry touched %s: %v → %v", id, first[id].UpdatedAt, p.UpdatedAt)
		}
	}

	// Evidence rows do the same.
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, _, err := store.UpsertEvidence(ctx, tx, "acme", "import-2", []ingest.Evidence{{SnippetID: "s-1", ProgramID: ids["mentoring"],
		ParticipantID: "p-4", Text: "It helped.", Source: "interview", OccurredAt: at, ParticipantName: "Thaddeus Wrenfield"}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := st.Participant(ctx, "acme", "p-4"); err != nil || p.FullName != "Thaddeus Wrenfield" {
		t.Errorf("p-4 = %+v, %v", p, err)
	}
	if _, err := st.Participant(ctx, "globex", "p-4"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the name reached another tenant: %v", err)
	}
}

func TestRedactionNames(t *testing.T) {
	st := testStore(t)
	ctx := context.Background()
	if names, err := st.RedactionNames(ctx, "acme"); err != nil || len(names) != 0 {
		t.Fatalf("names of a tenant without settings = %v, %v", names, err)
	}
	limit := int64(5_000_000)
	if err := st.SetTenantAISettings(ctx, "acme", store.AISettings{BudgetLimitMicros: &limit}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRedactionNames(ctx, "acme", []string{"Quorvin Blathersby", "Mireille"}); err != nil {
		t.Fatal(err)
	}
	names, err := st.RedactionNames(ctx, "acme")
	if err != nil || strings.Join(names, "|") != "Quorvin Blathersby|Mireille" {
		t.Errorf("names = %v, %v", names, err)
	}
	settings, _, err := st.TenantAISettings(ctx, "acme")
	if err != nil || settings.BudgetLimitMicros == nil || *settings.BudgetLimitMicros != limit || len(settings.RedactionNames) != 2 {
		t.Errorf("settings = %+v, %v: the names list must leave the budget alone", settings, err)
	}
	if names, _ := st.RedactionNames(ctx, "globex"); len(names) != 0 {
		t.Errorf("globex names = %v", names)
	}
	if _, err := st.RedactionNames(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
}
