package store

import (
	"context"
	"time"
)

// Tenant is a company using the platform.
type Tenant struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Industry      string    `json:"industry"`
	Region        string    `json:"region"`
	SizeBand      string    `json:"size_band"`
	Timezone      string    `json:"timezone"`
	DefaultLocale string    `json:"default_locale"`
	CreatedAt     time.Time `json:"created_at"`
}

// UpsertTenant creates the tenant or updates its profile.
func (s *Store) UpsertTenant(ctx context.Context, t Tenant) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO tenants (id, name, industry, region, size_band, timezone, default_locale)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, industry = EXCLUDED.industry,
			region = EXCLUDED.region, size_band = EXCLUDED.size_band, timezone = EXCLUDED.timezone,
			default_locale = EXCLUDED.default_locale, updated_at = now()
		WHERE (tenants.name, tenants.industry, tenants.region, tenants.size_band, tenants.timezone, tenants.default_locale)
			IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.industry, EXCLUDED.region, EXCLUDED.size_band, EXCLUDED.timezone, EXCLUDED.default_locale)`,
		t.ID, t.Name, t.Industry, t.Region, t.SizeBand, t.Timezone, t.DefaultLocale)
	return err
}

// Tenant returns one tenant.
func (s *Store) Tenant(ctx context.Context, id string) (Tenant, error) {
	var t Tenant
	err := s.pool.QueryRow(ctx, `
		SELECT id, name, industry, region, size_band, timezone, default_locale, created_at
		FROM tenants WHERE id = $1`, id).
		Scan(&t.ID, &t.Name, &t.Industry, &t.Region, &t.SizeBand, &t.Timezone, &t.DefaultLocale, &t.CreatedAt)
	return t, notFound(err)
}
