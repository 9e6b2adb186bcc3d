package codec

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
)

// StaticKeys holds data keys in memory, unwrapped: for tests and for the replay of
// recorded histories, whose test-only keys are committed beside them. A tenant without a
// key gets a new random one on first use.
type StaticKeys struct {
	mu       sync.Mutex
	byID     map[string]Key
	byTenant map[string]Key
	raw      map[string]staticKey
}

type staticKey struct {
	KeyID  string `json:"key_id"`
	Tenant string `json:"tenant_id"`
	Key    string `json:"key"` // base64 of the 32 raw bytes
}

// NewStaticKeys returns an empty StaticKeys.
func NewStaticKeys() *StaticKeys {
	return &StaticKeys{byID: map[string]Key{}, byTenant: map[string]Key{}, raw: map[string]staticKey{}}
}

// LoadStaticKeys reads keys written by StaticKeys.Save.
func LoadStaticKeys(path string) (*StaticKeys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var list []staticKey
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := NewStaticKeys()
	for _, k := range list {
		raw, err := base64.StdEncoding.DecodeString(k.Key)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("%s: key %q is not a base64 32-byte key", path, k.KeyID)
		}
		if _, err := s.add(k.KeyID, k.Tenant, raw); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Save writes the keys as JSON. Test keys only: it writes them unwrapped.
func (s *StaticKeys) Save(path string) error {
	s.mu.Lock()
	list := make([]staticKey, 0, len(s.raw))
	for _, k := range s.raw {
		list = append(list, k)
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].KeyID < list[j].KeyID })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (s *StaticKeys) add(id, tenant string, raw []byte) (Key, error) {
	k, err := newKey(id, tenant, raw)
	if err != nil {
		return Key{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[id] = k
	if _, ok := s.byTenant[tenant]; !ok {
		s.byTenant[tenant] = k
	}
	s.raw[id] = staticKey{KeyID: id, Tenant: tenant, Key: base64.StdEncoding.EncodeToString(raw)}
	return k, nil
}

// Current returns the tenant's first key, making one when it has none.
func (s *StaticKeys) Current(_ context.Context, tenantID string) (Key, error) {
	s.mu.Lock()
	k, ok := s.byTenant[tenantID]
	s.mu.Unlock()
	if ok {
		return k, nil
	}
	return s.add(newKeyID(), tenantID, randomKey())
}

// ByID returns the key with this ID.
func (s *StaticKeys) ByID(_ context.Context, keyID string) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.byID[keyID]
	if !ok {
		return Key{}, fmt.Errorf("%w (key ID %q)", ErrUnknownKey, keyID)
	}
	return k, nil
}
