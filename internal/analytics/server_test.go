package analytics

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestServerBackend runs the same DDL, writes and queries on a ClickHouse server through
// clickhouse-go when CLICKHOUSE_URL is set (docker compose up clickhouse). It empties the
// impactflow database there.
func TestServerBackend(t *testing.T) {
	url := os.Getenv("CLICKHOUSE_URL")
	if url == "" {
		t.Skip("CLICKHOUSE_URL is not set")
	}
	ctx := context.Background()
	db, err := Open(ctx, Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteDimensions(ctx, []TenantDim{{ID: "a", Industry: "x", Region: "r", SizeBand: "s"}}, []ProgramDim{{TenantID: "a", ID: 1, Code: "m"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	rows := []Change{ev("a", "1", "p1", "volunteer_hours", 0, 2, 1), ev("a", "2", "p2", "volunteer_hours", 1, 3, 1)}
	for range 2 {
		if err := db.WriteChanges(ctx, rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetWatermark(ctx, CursorOf(rows[1])); err != nil {
		t.Fatal(err)
	}
	if err := db.RefreshViews(ctx, nil); err != nil {
		t.Fatal(err)
	}
	tr, err := db.Trends(ctx, TrendQuery{TenantID: "a", Metric: Metrics["volunteer_hours"], From: day0, To: day0.AddDate(0, 0, 7), Granularity: Week})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Total != 5 {
		t.Errorf("total = %v, want 5", tr.Total)
	}
	wm, err := db.Watermark(ctx)
	if err != nil || !wm.UpdatedAt.Equal(rows[1].UpdatedAt) || wm.EventID != "2" {
		t.Errorf("watermark = %+v, %v", wm, err)
	}
}
