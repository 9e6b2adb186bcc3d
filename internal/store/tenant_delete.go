package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// tenantTables are the tables that hold a tenant's rows, in the order a tenant's deletion
// empties them: rows that reference others first. report_sections and import_chunks
// reference their tenant through their parents and go with them (ON DELETE CASCADE). A
// test fails when a table with a tenant_id column is missing here.
var tenantTables = []string{
	"report_citations", "report_lineage", "ai_budget_alerts", "ai_budget_ledger", "tenant_ai_settings",
	"notification_events", "notification_outbox", "notification_messages", "notifications",
	"notification_suppressions", "notification_quotas", "notification_rules", "notification_schedules",
	"deliveries", "partner_credentials",
	"import_uploads",
	// Deleting events writes a tombstone per event for the ClickHouse sync; the tombstones
	// go after them, since the deletion empties ClickHouse itself.
	"impact_events", "impact_event_tombstones", "evidence_snippets", "participants", "programs",
	"privacy_exports", "privacy_erasures", "tenant_retention", "api_keys",
}

// keptTenantTables hold a tenant's rows that outlive it on purpose: tenant_data_keys keeps,
// once the keys are destroyed, only their IDs and when they were destroyed, the record
// that the tenant's payloads can no longer be read.
var keptTenantTables = []string{"tenant_data_keys"}

// TenantTables lists the tables DeleteTenantRows empties, in order.
func TenantTables() []string { return append([]string(nil), tenantTables...) }

// KeptTenantTables lists the tables whose tenant rows a deletion leaves, by design.
func KeptTenantTables() []string { return append([]string(nil), keptTenantTables...) }

// DeleteTenantRows deletes up to limit of the tenant's rows from one of TenantTables and
// returns how many went; fewer than limit means the table holds none of them any more.
// Batches keep each statement short on a tenant with millions of rows.
func (s *Store) DeleteTenantRows(ctx context.Context, tenantID, table string, limit int) (int64, error) {
	known := false
	for _, t := range tenantTables {
		known = known || t == table
	}
	if !known {
		return 0, fmt.Errorf("delete tenant rows: %q is not a tenant table", table)
	}
	ident := pgx.Identifier{table}.Sanitize()
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+ident+` WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM `+ident+` WHERE tenant_id = $1 LIMIT $2))`, tenantID, limit)
	if err != nil {
		return 0, fmt.Errorf("delete %s rows of %s: %w", table, tenantID, err)
	}
	return tag.RowsAffected(), nil
}

// RevokeTenantKeys revokes every API key of the tenant, so that nothing new starts for it
// while its deletion runs, and returns how many it revoked.
func (s *Store) RevokeTenantKeys(ctx context.Context, tenantID string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND revoked_at IS NULL`, tenantID)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// DeleteTenant deletes the tenant's own row, once DeleteTenantRows has emptied every table
// of its rows; ErrNotFound when there is no such tenant (a deletion run again).
func (s *Store) DeleteTenant(ctx context.Context, tenantID string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, tenantID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
