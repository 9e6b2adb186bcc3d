package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/impactflow/impactflow/internal/store"
)

// TestTenantTablesCoverEveryTenantColumn fails when a migration adds a table with a
// tenant_id column that a tenant's deletion would not empty.
func TestTenantTablesCoverEveryTenantColumn(t *testing.T) {
	st := openTestStore(t)
	rows, err := st.Pool().Query(context.Background(), `
		SELECT table_name FROM information_schema.columns
		WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	covered := append(store.TenantTables(), store.KeptTenantTables()...)
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(covered, table) {
			t.Errorf("%s has a tenant_id column but a tenant's deletion leaves its rows", table)
		}
	}
}

func TestDeleteTenantRowsEmptiesOneTenant(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	cutoff := mustTime("2026-01-01T00:00:00Z")
	for _, tenant := range []string{"acme", "globex"} {
		seedRetentionRows(t, st, tenant, cutoff.AddDate(0, 0, -2), cutoff.AddDate(0, 0, 2))
		mustExec(t, st, `INSERT INTO participants (tenant_id, id, full_name) VALUES ($1, 'p-1', 'Invented Person')`, tenant)
		if _, err := st.CreateAPIKey(ctx, tenant, "admin", store.RoleAdmin, store.NewKeySecret()); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.RevokeTenantKeys(ctx, "acme"); err != nil || n != 1 {
		t.Fatalf("revoked %d keys (%v)", n, err)
	}
	for _, table := range store.TenantTables() {
		for {
			n, err := st.DeleteTenantRows(ctx, "acme", table, 3)
			if err != nil {
				t.Fatal(err)
			}
			if n < 3 {
				break
			}
		}
	}
	if err := st.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteTenant(ctx, "acme"); err != store.ErrNotFound {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	for _, table := range store.TenantTables() {
		var acme, globex int
		if err := st.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE tenant_id = 'acme'), count(*) FILTER (WHERE tenant_id = 'globex') FROM `+table).Scan(&acme, &globex); err != nil {
			t.Fatal(err)
		}
		if acme != 0 {
			t.Errorf("%s keeps %d rows of the deleted tenant", table, acme)
		}
		if table == "impact_events" && globex != 7 {
			t.Errorf("the other tenant has %d events left, want 7", globex)
		}
	}
	for _, q := range []string{`SELECT count(*) FROM report_sections`, `SELECT count(*) FROM import_chunks`} {
		var n int
		if err := st.Pool().QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 3 && n != 2 { // the other tenant's three sections, two chunks
			t.Errorf("%s = %d", q, n)
		}
	}
	if _, err := st.DeleteTenantRows(ctx, "acme", "tenants", 10); err == nil {
		t.Error("a table outside the list was accepted")
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
