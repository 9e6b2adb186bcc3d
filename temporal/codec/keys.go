package codec

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/internal/store"
)

// ErrKeyDestroyed means the payload was encrypted with a data key that has been destroyed
// (its tenant was deleted): nothing can decrypt it any more, by design.
var ErrKeyDestroyed = errors.New("codec: the payload's data key has been destroyed")

// ErrUnknownKey means no data key has the payload's key ID.
var ErrUnknownKey = errors.New("codec: the payload's data key is unknown")

// PlatformTenant is the tenant ID of the platform's own data key, used for payloads that
// belong to no tenant (the ClickHouse sync, a platform admin's calls).
const PlatformTenant = ""

// Key is an unwrapped data key. It never leaves the process: printed or logged, it shows
// its ID only.
type Key struct {
	ID     string
	Tenant string
	aead   cipher.AEAD
}

// String names the key by its ID, so that a %v of a Key cannot print its key schedule.
func (k Key) String() string { return "data key " + k.ID }

// GoString is String, for %#v.
func (k Key) GoString() string { return k.String() }

// LogValue shows the key's ID and tenant to slog, never the key.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key_id", k.ID), slog.String("tenant", k.Tenant))
}

// Keys finds data keys: the one a tenant's new payloads are encrypted with, and any key by
// the ID a payload names.
type Keys interface {
	// Current returns the tenant's key for new payloads, creating it the first time.
	Current(ctx context.Context, tenantID string) (Key, error)
	// ByID returns the key with this ID; for a destroyed key, ErrKeyDestroyed with a Key
	// that has only ID and Tenant set, so callers can still tell whose payload it was.
	ByID(ctx context.Context, keyID string) (Key, error)
}

func newKey(id, tenant string, raw []byte) (Key, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return Key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: id, Tenant: tenant, aead: aead}, nil
}

func randomKey() []byte {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return raw
}

func newKeyID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "dk_" + hex.EncodeToString(b)
}

// KeyStore is where a Keyring keeps wrapped data keys: *store.Store.
type KeyStore interface {
	InsertDataKey(ctx context.Context, k store.DataKey) error
	CurrentDataKey(ctx context.Context, tenantID string) (store.DataKey, error)
	DataKey(ctx context.Context, keyID string) (store.DataKey, error)
	DestroyDataKeys(ctx context.Context, tenantID string) (int, error)
}

// Keyring keeps each tenant's data keys in Postgres, wrapped by the IMPACTFLOW_SECRET_KEY
// key ring, and the unwrapped ones in memory for a while: every payload a worker encodes
// or decodes needs one, and a round trip to Postgres for each would halve throughput.
type Keyring struct {
	store KeyStore
	box   *secrets.Box

	mu       sync.Mutex
	byID     map[string]cachedKey
	byTenant map[string]cachedKey
}

type cachedKey struct {
	key Key
	at  time.Time
}

const (
	// keyCacheTTL bounds how long a key destroyed by another process stays usable here.
	keyCacheTTL = 5 * time.Minute
	// maxCachedKeys bounds the cache; past it the cache is emptied, which is rare and harmless.
	maxCachedKeys = 10000
)

// NewKeyring returns a Keyring over the store, wrapping keys with box.
func NewKeyring(st KeyStore, box *secrets.Box) *Keyring {
	return &Keyring{store: st, box: box, byID: map[string]cachedKey{}, byTenant: map[string]cachedKey{}}
}

// wrapAD binds a wrapped key to its tenant and ID: a row copied to another tenant or
// another ID does not unwrap.
func wrapAD(tenant, keyID string) []byte { return []byte("tenant-data-key/" + tenant + "/" + keyID) }

// Current returns the tenant's newest data key, creating one when it has none. Two
// processes creating the first key at once each use their own for a moment; both decode
// everywhere, so that is harmless.
func (r *Keyring) Current(ctx context.Context, tenantID string) (Key, error) {
	if k, ok := r.cached(r.byTenant, tenantID); ok {
		return k, nil
	}
	row, err := r.store.CurrentDataKey(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return r.Rotate(ctx, tenantID)
	}
	if err != nil {
		return Key{}, fmt.Errorf("codec: read the data key of tenant %q: %w", tenantID, err)
	}
	k, err := r.unwrap(row)
	if err != nil {
		return Key{}, err
	}
	r.put(k, true)
	return k, nil
}

// Rotate creates a new data key for the tenant and makes it current. Payloads encrypted
// with the older keys keep decoding.
func (r *Keyring) Rotate(ctx context.Context, tenantID string) (Key, error) {
	id, raw := newKeyID(), randomKey()
	sealed := r.box.Seal(raw, wrapAD(tenantID, id))
	if err := r.store.InsertDataKey(ctx, store.DataKey{KeyID: id, TenantID: tenantID, Wrapped: sealed.Ciphertext, WrappedBy: sealed.KeyID}); err != nil {
		return Key{}, fmt.Errorf("codec: store a data key for tenant %q: %w", tenantID, err)
	}
	k, err := newKey(id, tenantID, raw)
	if err != nil {
		return Key{}, err
	}
	r.put(k, true)
	return k, nil
}

// ByID returns the data key with this ID.
func (r *Keyring) ByID(ctx context.Context, keyID string) (Key, error) {
	if k, ok := r.cached(r.byID, keyID); ok {
		return k, nil
	}
	row, err := r.store.DataKey(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) {
		return Key{}, fmt.Errorf("%w (key ID %q)", ErrUnknownKey, keyID)
	}
	if err != nil {
		return Key{}, fmt.Errorf("codec: read data key %q: %w", keyID, err)
	}
	if row.DestroyedAt != nil {
		return Key{ID: row.KeyID, Tenant: row.TenantID}, fmt.Errorf("%w (key ID %q)", ErrKeyDestroyed, keyID)
	}
	k, err := r.unwrap(row)
	if err != nil {
		return Key{}, err
	}
	r.put(k, false)
	return k, nil
}

// DestroyTenantKeys destroys every data key of the tenant, so that none of its payloads,
// wherever a copy of them is kept, can be decrypted again. Idempotent. Other processes
// forget the keys within keyCacheTTL.
func (r *Keyring) DestroyTenantKeys(ctx context.Context, tenantID string) error {
	if _, err := r.store.DestroyDataKeys(ctx, tenantID); err != nil {
		return fmt.Errorf("codec: destroy the data keys of tenant %q: %w", tenantID, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byTenant, tenantID)
	for id, c := range r.byID {
		if c.key.Tenant == tenantID {
			delete(r.byID, id)
		}
	}
	return nil
}

func (r *Keyring) unwrap(row store.DataKey) (Key, error) {
	raw, err := r.box.Open(secrets.Sealed{KeyID: row.WrappedBy, Ciphertext: row.Wrapped}, wrapAD(row.TenantID, row.KeyID))
	if err != nil {
		// The error names the key ring key, never key material.
		return Key{}, fmt.Errorf("codec: unwrap data key %q: %w", row.KeyID, err)
	}
	return newKey(row.KeyID, row.TenantID, raw)
}

func (r *Keyring) cached(m map[string]cachedKey, id string) (Key, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := m[id]
	if !ok || time.Since(c.at) > keyCacheTTL {
		return Key{}, false
	}
	return c.key, true
}

func (r *Keyring) put(k Key, current bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.byID) >= maxCachedKeys {
		clear(r.byID)
		clear(r.byTenant)
	}
	c := cachedKey{key: k, at: time.Now()}
	r.byID[k.ID] = c
	if current {
		r.byTenant[k.Tenant] = c
	}
}

func copyRandom(b []byte) { _, _ = rand.Read(b) }
