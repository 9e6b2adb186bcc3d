package analytics

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Erasing a participant deletes their rows from every table that holds them and
// recomputes the aggregates without them; another participant's figures stay.
func TestEraseParticipant(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	if err := db.WriteDimensions(ctx, []TenantDim{{ID: "a", Industry: "x", Region: "r", SizeBand: "s"}}, []ProgramDim{{TenantID: "a", ID: 1, Code: "m"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var changes []Change
	for i, p := range []string{"p-erin", "p-erin", "p-stay"} {
		changes = append(changes, Change{TenantID: "a", EventID: "ev-" + string(rune('a'+i)), ProgramID: 1, ParticipantID: p, Kind: "signup",
			OccurredAt: at, Value: 1, Location: "Leeds", Cohort: "c1", Attributes: `{"participant_name":"Erin Okonkwo-` + p + `"}`, UpdatedAt: at})
	}
	if err := db.WriteChanges(ctx, changes); err != nil {
		t.Fatal(err)
	}
	if err := db.RefreshViews(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := db.ParticipantRows(ctx, "a", "p-erin")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows["events"]) != 2 || len(rows["participant_numbers"]) != 1 || !strings.Contains(string(rows["events"][0]), "Erin Okonkwo") {
		t.Fatalf("ParticipantRows = %s", rows)
	}
	if n := countHolding(t, db, "p-erin"); n == 0 {
		t.Fatal("the scan finds nothing before the erasure")
	}

	res, err := db.EraseParticipant(ctx, "a", "p-erin", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows["events"] != 2 || res.Rows["events_live"] != 2 || res.Rows["participant_numbers"] != 1 || len(res.Refreshed) == 0 {
		t.Errorf("EraseParticipant = %+v", res)
	}
	if n := countHolding(t, db, "p-erin"); n != 0 {
		t.Errorf("%d rows still hold the participant", n)
	}
	var participants, events uint64
	if err := db.Query(ctx, `SELECT toUInt64(groupBitmapMerge(participants)), toUInt64(sum(events)) FROM impactflow.trend_daily WHERE tenant_id = 'a' AND kind = 'signup'`,
		func(scan scanFunc) error { return scan(&participants, &events) }); err != nil {
		t.Fatal(err)
	}
	if participants != 1 || events != 1 {
		t.Errorf("daily trend after erasure: %d participants, %d events; want 1, 1", participants, events)
	}

	again, err := db.EraseParticipant(ctx, "a", "p-erin", nil)
	if err != nil || again.Total() != 0 || len(again.Refreshed) != 0 {
		t.Errorf("second erasure = %+v, %v", again, err)
	}
}

// countHolding counts the rows of every impactflow table whose text holds s.
func countHolding(t *testing.T, db *DB, s string) uint64 {
	t.Helper()
	found, err := db.TablesHolding(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range found {
		n += c
	}
	return n
}
