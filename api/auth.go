package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal/codec"
)

// principal is who is calling: a tenant's API key.
type principal struct {
	KeyID    uuid.UUID
	TenantID string
	Role     store.Role
	Prefix   string
}

const principalKey = "principal"

func principalOf(c *gin.Context) (principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return principal{}, false
	}
	p, ok := v.(principal)
	return p, ok
}

func mustPrincipal(c *gin.Context) principal {
	p, _ := principalOf(c)
	return p
}

// keyCache keeps recently seen keys for a few seconds so that a status poll does not cost a
// Postgres round trip. A revocation through this process takes effect at once; through
// another API process within keyCacheTTL.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]cachedKey // by hash
	touched map[uuid.UUID]time.Time
}

type cachedKey struct {
	key store.APIKey
	at  time.Time
}

const (
	keyCacheTTL   = 5 * time.Second
	touchInterval = time.Minute
)

func newKeyCache() *keyCache {
	return &keyCache{entries: map[string]cachedKey{}, touched: map[uuid.UUID]time.Time{}}
}

func (kc *keyCache) get(hash string) (store.APIKey, bool) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	e, ok := kc.entries[hash]
	if !ok || time.Since(e.at) > keyCacheTTL {
		return store.APIKey{}, false
	}
	return e.key, true
}

func (kc *keyCache) put(hash string, k store.APIKey) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if len(kc.entries) > 10000 {
		clear(kc.entries)
	}
	kc.entries[hash] = cachedKey{key: k, at: time.Now()}
}

func (kc *keyCache) forget(id uuid.UUID) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	for h, e := range kc.entries {
		if e.key.ID == id {
			delete(kc.entries, h)
		}
	}
}

// shouldTouch reports whether the key's last-used time is due an update.
func (kc *keyCache) shouldTouch(id uuid.UUID, now time.Time) bool {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if now.Sub(kc.touched[id]) < touchInterval {
		return false
	}
	kc.touched[id] = now
	return true
}

// authenticate requires a valid Bearer key and records who is calling.
func (s *Server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		secret, ok := bearerKey(c)
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="impactflow"`)
			s.fail(c, &apiError{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "an API key is required: Authorization: Bearer <key>"})
			return
		}
		if s.admit(c, store.HashKey(secret)) {
			c.Next()
		}
	}
}

// bearerKey is the API key of the Authorization header.
func bearerKey(c *gin.Context) (string, bool) {
	secret, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	secret = strings.TrimSpace(secret)
	return secret, ok && secret != ""
}

// admit records the caller whose key has this hash; when there is no such key it answers
// 401 and returns false.
func (s *Server) admit(c *gin.Context, hash []byte) bool {
	k, ok := s.keys.get(string(hash))
	if !ok {
		var err error
		k, err = s.store.APIKeyByHash(c.Request.Context(), hash)
		if errors.Is(err, store.ErrNotFound) {
			c.Header("WWW-Authenticate", `Bearer realm="impactflow", error="invalid_token"`)
			s.fail(c, &apiError{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "the API key is not valid or has been revoked"})
			return false
		}
		if err != nil {
			s.fail(c, err)
			return false
		}
		s.keys.put(string(hash), k)
	}
	if now := time.Now(); s.keys.shouldTouch(k.ID, now) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.store.TouchAPIKey(ctx, k.ID, now); err != nil {
				s.log.Warn("record API key use", "key_prefix", k.Prefix, "err", err)
			}
		}()
	}
	c.Set(principalKey, principal{KeyID: k.ID, TenantID: k.TenantID, Role: k.Role, Prefix: k.Prefix})
	// Every Temporal call the handler makes encrypts with the caller's tenant's data key.
	c.Request = c.Request.WithContext(codec.WithTenant(c.Request.Context(), k.TenantID))
	return true
}

// require lets only keys whose role allows need through.
func (s *Server) require(need store.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if p := mustPrincipal(c); !p.Role.Allows(need) {
			s.fail(c, &apiError{Status: http.StatusForbidden, Code: "forbidden",
				Message: "this API key's role (" + string(p.Role) + ") may not do this; it needs " + string(need)})
			return
		}
		c.Next()
	}
}
