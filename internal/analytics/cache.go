package analytics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// cacheTimeout bounds every cache call: a slow or absent Redis makes answers slower by at
// most this, never failed.
const cacheTimeout = 150 * time.Millisecond

// Cache keeps analytics answers in Redis per tenant and normalized parameters. A tenant's
// entries are invalidated at once by bumping its generation, which is part of every key;
// the old entries expire by their TTL. Redis being down means misses, never errors.
type Cache struct {
	Redis  *redis.Client
	Prefix string // namespaces every key, e.g. "impactflow:"

	hits, misses, errors atomic.Int64
}

// CacheStats are the cache's counters since start and what Redis holds.
type CacheStats struct {
	Hits        int64   `json:"hits"`
	Misses      int64   `json:"misses"`
	Errors      int64   `json:"errors"`
	HitRate     float64 `json:"hit_rate"`
	Keys        int64   `json:"keys"`
	MemoryBytes int64   `json:"memory_bytes"`
	Redis       string  `json:"redis"` // up | down
}

func (c *Cache) key(parts ...string) string {
	return c.Prefix + "analytics:" + strings.Join(parts, ":")
}

// Key is the cache key of an answer: the tenant, its generation, the endpoint and a hash
// of the normalized parameters. ok is false when Redis is unavailable.
func (c *Cache) Key(ctx context.Context, tenantID, endpoint string, params any) (key string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, cacheTimeout)
	defer cancel()
	gen, err := c.Redis.Get(ctx, c.key("gen", tenantID)).Result()
	if err == redis.Nil {
		gen, err = "0", nil
	}
	if err != nil {
		c.errors.Add(1)
		return "", false
	}
	b, _ := json.Marshal(params)
	sum := sha256.Sum256(b)
	return c.key("q", tenantID, gen, endpoint, hex.EncodeToString(sum[:12])), true
}

// Get returns a cached answer.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool) {
	ctx, cancel := context.WithTimeout(ctx, cacheTimeout)
	defer cancel()
	b, err := c.Redis.Get(ctx, key).Bytes()
	if err != nil {
		if err != redis.Nil {
			c.errors.Add(1)
		}
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return b, true
}

// Miss counts a lookup that could not be made (Redis down).
func (c *Cache) Miss() { c.misses.Add(1) }

// Set stores an answer for ttl; failures are counted and ignored.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, cacheTimeout)
	defer cancel()
	if err := c.Redis.Set(ctx, key, value, ttl).Err(); err != nil {
		c.errors.Add(1)
	}
}

// InvalidateTenants drops every cached answer of the tenants (the sync calls it when it
// brought them new data).
func (c *Cache) InvalidateTenants(ctx context.Context, tenantIDs []string) error {
	pipe := c.Redis.Pipeline()
	for _, t := range tenantIDs {
		pipe.Incr(ctx, c.key("gen", t))
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Stats reports the counters, the number of analytics keys and Redis' memory use.
func (c *Cache) Stats(ctx context.Context) CacheStats {
	s := CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Errors: c.errors.Load(), Redis: "up"}
	if n := s.Hits + s.Misses; n > 0 {
		s.HitRate = float64(s.Hits) / float64(n)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	iter := c.Redis.Scan(ctx, 0, c.key("*"), 1000).Iterator()
	for iter.Next(ctx) {
		s.Keys++
	}
	if iter.Err() != nil {
		s.Redis = "down"
		return s
	}
	if info, err := c.Redis.Info(ctx, "memory").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
				s.MemoryBytes, _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return s
}

// Budget counts analytics queries per tenant per UTC day in Redis.
type Budget struct {
	Redis  *redis.Client
	Prefix string
	Limit  int64
}

// Take counts one query. It returns false and how long until the budget renews when the
// tenant has used it up; with Redis down it allows the query.
func (b *Budget) Take(ctx context.Context, tenantID string, now time.Time) (ok bool, retryAfter time.Duration) {
	now = now.UTC()
	tomorrow := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	key := b.Prefix + "analytics:budget:" + tenantID + ":" + now.Format("20060102")
	ctx, cancel := context.WithTimeout(ctx, cacheTimeout)
	defer cancel()
	n, err := b.Redis.Incr(ctx, key).Result()
	if err != nil {
		return true, 0
	}
	if n == 1 { // the day's first query: the counter outlives the day by an hour
		b.Redis.Expire(ctx, key, tomorrow.Sub(now)+time.Hour)
	}
	if n > b.Limit {
		return false, tomorrow.Sub(now)
	}
	return true, 0
}

// PurgeTenant deletes every cached analytics answer of the tenant, rather than only
// making it unreachable as InvalidateTenants does: an erasure must not leave a readable
// answer behind until its TTL. It returns how many keys it deleted.
func (c *Cache) PurgeTenant(ctx context.Context, tenantID string) (int64, error) {
	if err := c.InvalidateTenants(ctx, []string{tenantID}); err != nil {
		return 0, fmt.Errorf("invalidate: %w", err)
	}
	return deleteMatching(ctx, c.Redis, c.key("q", tenantID, "*"))
}

// DeleteTenant deletes every key the analytics cache and budget keep for the tenant: its
// cached answers, its generation counter and its query budgets. For a tenant's deletion,
// where PurgeTenant would leave the generation behind. It returns how many keys it deleted.
func (c *Cache) DeleteTenant(ctx context.Context, tenantID string) (int64, error) {
	return deleteMatching(ctx, c.Redis, c.key("q", tenantID, "*"), c.key("gen", tenantID), c.key("budget", tenantID, "*"))
}

// deleteMatching deletes the keys matching each pattern (SCAN MATCH, so a large keyspace
// is walked in steps rather than blocked) and returns how many it deleted.
func deleteMatching(ctx context.Context, rdb redis.UniversalClient, patterns ...string) (int64, error) {
	var n int64
	for _, pattern := range patterns {
		iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			deleted, err := rdb.Del(ctx, iter.Val()).Result()
			if err != nil {
				return n, fmt.Errorf("delete %s: %w", pattern, err)
			}
			n += deleted
		}
		if err := iter.Err(); err != nil {
			return n, fmt.Errorf("scan %s: %w", pattern, err)
		}
	}
	return n, nil
}
