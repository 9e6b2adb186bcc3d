package store

import (
	"context"
	"time"
)

// DataKey is a tenant's wrapped payload data key (see temporal/codec). Wrapped is nil once
// the key has been destroyed.
type DataKey struct {
	KeyID       string
	TenantID    string
	Wrapped     []byte
	WrappedBy   string
	CreatedAt   time.Time
	DestroyedAt *time.Time
}

// InsertDataKey stores a new data key for its tenant.
func (s *Store) InsertDataKey(ctx context.Context, k DataKey) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO tenant_data_keys (key_id, tenant_id, wrapped, wrapped_by) VALUES ($1, $2, $3, $4)`,
		k.KeyID, k.TenantID, k.Wrapped, k.WrappedBy)
	return err
}

// CurrentDataKey returns the tenant's newest data key that is not destroyed, or
// ErrNotFound.
func (s *Store) CurrentDataKey(ctx context.Context, tenantID string) (DataKey, error) {
	return s.scanDataKey(s.pool.QueryRow(ctx, `
		SELECT key_id, tenant_id, wrapped, wrapped_by, created_at, destroyed_at FROM tenant_data_keys
		WHERE tenant_id = $1 AND destroyed_at IS NULL ORDER BY created_at DESC, key_id LIMIT 1`, tenantID))
}

// DataKey returns the data key with this ID, destroyed or not, or ErrNotFound.
func (s *Store) DataKey(ctx context.Context, keyID string) (DataKey, error) {
	return s.scanDataKey(s.pool.QueryRow(ctx, `
		SELECT key_id, tenant_id, wrapped, wrapped_by, created_at, destroyed_at FROM tenant_data_keys
		WHERE key_id = $1`, keyID))
}

// RetireForeignDataKeys destroys every data key that none of the given key-ring keys
// wrapped, and returns how many: keys this process can never unwrap. Only dev, whose new
// DATA_DIR brings a new key ring and a new, empty Temporal store, may call it.
func (s *Store) RetireForeignDataKeys(ctx context.Context, ringKeyIDs []string) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE tenant_data_keys SET wrapped = NULL, wrapped_by = NULL, destroyed_at = now()
		WHERE destroyed_at IS NULL AND NOT (wrapped_by = ANY ($1))`, ringKeyIDs)
	return int(tag.RowsAffected()), err
}

// DestroyDataKeys erases the wrapped keys of the tenant, keeping the rows as the record of
// when, and returns how many keys it destroyed (0 when they already were).
func (s *Store) DestroyDataKeys(ctx context.Context, tenantID string) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE tenant_data_keys SET wrapped = NULL, wrapped_by = NULL, destroyed_at = now()
		WHERE tenant_id = $1 AND destroyed_at IS NULL`, tenantID)
	return int(tag.RowsAffected()), err
}

func (s *Store) scanDataKey(row interface{ Scan(...any) error }) (DataKey, error) {
	var k DataKey
	var wrappedBy *string
	err := row.Scan(&k.KeyID, &k.TenantID, &k.Wrapped, &wrappedBy, &k.CreatedAt, &k.DestroyedAt)
	if wrappedBy != nil {
		k.WrappedBy = *wrappedBy
	}
	return k, notFound(err)
}
