package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Program is a tenant's CSR program (mentoring, volunteering, ...); Code is its slug.
type Program struct {
	ID          int64  `json:"id"`
	TenantID    string `json:"tenant_id"`
	Code        string `json:"code"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// UpsertPrograms creates or renames the programs, keyed by tenant and code.
func (s *Store) UpsertPrograms(ctx context.Context, programs []Program) error {
	batch := &pgx.Batch{}
	for _, p := range programs {
		batch.Queue(`
			INSERT INTO programs (tenant_id, code, name, description) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id, code) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description`,
			p.TenantID, p.Code, p.Name, p.Description)
	}
	return s.pool.SendBatch(ctx, batch).Close()
}

// ProgramIDs maps a tenant's program codes to their IDs.
func (s *Store) ProgramIDs(ctx context.Context, tenantID string) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT code, id FROM programs WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, err
	}
	ids := map[string]int64{}
	var code string
	var id int64
	_, err = pgx.ForEachRow(rows, []any{&code, &id}, func() error {
		ids[code] = id
		return nil
	})
	return ids, err
}

// HasImpactEventsPrefixed reports whether the tenant has an impact event whose ID starts
// with prefix: a loader asks whether its own events are there, whatever else the tenant's
// clients have imported since.
func (s *Store) HasImpactEventsPrefixed(ctx context.Context, tenantID, prefix string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM impact_events WHERE tenant_id = $1 AND starts_with(event_id, $2))`,
		tenantID, prefix).Scan(&ok)
	return ok, err
}
