package analytics

import (
	"context"
	"fmt"
)

// DeleteTenant deletes every row of the tenant from every table of the impactflow
// database that has a tenant_id column (the copied events, its programs and profile, the
// live events, every aggregate and peer table), with synchronous mutations, then refreshes
// the views so that the peer figures of other tenants are recomputed without it. It
// returns the rows deleted per table. The tenant's Postgres rows must be gone first: the
// sync would copy them back otherwise.
func (db *DB) DeleteTenant(ctx context.Context, tenantID string, waiting func()) (map[string]int64, error) {
	tables, err := db.dataTables(ctx, "tenant_id")
	if err != nil {
		return nil, err
	}
	deleted := map[string]int64{}
	where := " WHERE tenant_id = " + quote(tenantID)
	for _, t := range tables {
		var n uint64
		if err := db.Query(ctx, "SELECT count() FROM impactflow."+t+where, func(scan scanFunc) error { return scan(&n) }); err != nil {
			return deleted, fmt.Errorf("count %s: %w", t, err)
		}
		if n == 0 {
			continue
		}
		if err := db.Exec(ctx, "ALTER TABLE impactflow."+t+" DELETE"+where+" SETTINGS mutations_sync = 2"); err != nil {
			return deleted, fmt.Errorf("delete from %s: %w", t, err)
		}
		deleted[t] = int64(n)
	}
	if len(deleted) == 0 {
		return deleted, nil
	}
	if err := db.RefreshViews(ctx, waiting); err != nil {
		return deleted, err
	}
	return deleted, nil
}
