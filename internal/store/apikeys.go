package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Role is what an API key may do: viewers read, operators also start, cancel and reset
// jobs, admins also manage keys.
type Role string

// The roles, weakest first.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleViewer || r == RoleOperator || r == RoleAdmin }

// Allows reports whether a key with role r may act as role need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() }

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleOperator:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// APIKey is a key's record; the key itself is never stored, only its hash.
type APIKey struct {
	ID         uuid.UUID  `json:"id"`
	TenantID   string     `json:"tenant_id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Role       Role       `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// keyPrefixLen is how much of a key is kept in clear so people can tell keys apart.
const keyPrefixLen = 12

// NewKeySecret returns a fresh random API key: "ifk_" and 43 URL-safe characters.
func NewKeySecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return "ifk_" + base64.RawURLEncoding.EncodeToString(b)
}

// HashKey is the stored form of a key. Keys are 256-bit random, so a plain SHA-256 is
// enough: there is nothing to brute-force.
func HashKey(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// CreateAPIKey stores a key given in clear (secret) for the tenant and returns its record.
func (s *Store) CreateAPIKey(ctx context.Context, tenantID, name string, role Role, secret string) (APIKey, error) {
	k := APIKey{ID: uuid.New(), TenantID: tenantID, Name: name, Role: role, Prefix: prefixOf(secret)}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role) VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING created_at`, k.ID, tenantID, name, k.Prefix, HashKey(secret), role).Scan(&k.CreatedAt)
	return k, err
}

// EnsureAPIKey stores the key unless a key with the same hash exists, e.g. the dev key on
// every start.
func (s *Store) EnsureAPIKey(ctx context.Context, tenantID, name string, role Role, secret string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (key_hash) DO UPDATE SET revoked_at = NULL`,
		uuid.New(), tenantID, name, prefixOf(secret), HashKey(secret), role)
	return err
}

func prefixOf(secret string) string {
	if len(secret) > keyPrefixLen {
		return secret[:keyPrefixLen]
	}
	return secret
}

const apiKeyColumns = `id, tenant_id, name, prefix, role, created_at, revoked_at, last_used_at`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &k.Role, &k.CreatedAt, &k.RevokedAt, &k.LastUsedAt)
	return k, notFound(err)
}

// APIKeyByHash returns the live (not revoked) key with this hash.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error) {
	return scanAPIKey(s.pool.QueryRow(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, hash))
}

// APIKeys lists a tenant's keys, newest first, revoked ones included.
func (s *Store) APIKeys(ctx context.Context, tenantID string) ([]APIKey, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanAPIKey(r) })
}

// RevokeAPIKey revokes one of the tenant's keys; revoking twice is fine.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID string, id uuid.UUID) (APIKey, error) {
	return scanAPIKey(s.pool.QueryRow(ctx, `
		UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE tenant_id = $1 AND id = $2 RETURNING `+apiKeyColumns, tenantID, id))
}

// TouchAPIKey records that the key was used; callers throttle it.
func (s *Store) TouchAPIKey(ctx context.Context, id uuid.UUID, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $2 WHERE id = $1`, id, at)
	return err
}
