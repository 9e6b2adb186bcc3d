// Package quota enforces per-tenant daily send quotas per channel in Redis, atomically (one
// Lua script per check) so that every API and worker process shares the same counters. A
// day is the tenant's local calendar day. Taking quota is idempotent per message key: the
// API reserving a message and the workflow taking it again at send time count it once.
package quota

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultLimits are the daily limits of a tenant that has not set its own.
var DefaultLimits = map[string]int64{"email": 1000, "sms": 200, "push": 10000}

// Decision is the outcome of a check and the state of the window after it.
type Decision struct {
	Allowed   bool      `json:"allowed"`
	Used      int64     `json:"used"`
	Limit     int64     `json:"limit"`
	Remaining int64     `json:"remaining"`
	ResetAt   time.Time `json:"reset_at"`
}

// ErrUnavailable wraps a Redis failure: the caller must wait and try again, never send
// without the check.
var ErrUnavailable = errors.New("quota store unavailable")

// Quota is the counter store.
type Quota struct {
	Redis redis.UniversalClient
	// Prefix namespaces the keys (tests use a per-run prefix).
	Prefix string
}

// take adds the keys not yet counted in the window, all or nothing, when they fit.
// KEYS[1] counter, KEYS[2] set of counted message keys; ARGV[1] limit, ARGV[2] time to live
// (ms), ARGV[3...] message keys. Returns {allowed, used}.
var take = redis.NewScript(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local limit = tonumber(ARGV[1])
local fresh = {}
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then
    table.insert(fresh, ARGV[i])
  end
end
if #fresh == 0 then
  return {1, used}
end
if used + #fresh > limit then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], #fresh)
redis.call('SADD', KEYS[2], unpack(fresh))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {1, used}
`)

// release gives back the keys counted in the window. Same KEYS; ARGV are message keys.
var release = redis.NewScript(`
local n = 0
for i = 1, #ARGV do
  n = n + redis.call('SREM', KEYS[2], ARGV[i])
end
if n > 0 then
  local left = redis.call('DECRBY', KEYS[1], n)
  if left < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
end
return n
`)

// Window is a tenant's quota day for a channel.
type Window struct {
	TenantID string
	Channel  string
	Location *time.Location
	Now      time.Time
}

// Day is the window's local date and when it ends.
func (w Window) Day() (day string, resetAt time.Time) {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	local := w.Now.In(loc)
	y, m, d := local.Date()
	return local.Format("2006-01-02"), time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

func (q *Quota) keys(w Window) (counter, set string, resetAt time.Time) {
	day, resetAt := w.Day()
	base := fmt.Sprintf("%squota:{%s:%s:%s}", q.Prefix, w.TenantID, w.Channel, day)
	return base, base + ":keys", resetAt
}

// Take counts messageKeys against the window's limit when all of them fit; keys already
// counted in the window are free. Over the limit nothing is counted and Allowed is false.
func (q *Quota) Take(ctx context.Context, w Window, limit int64, messageKeys ...string) (Decision, error) {
	if len(messageKeys) == 0 {
		return Decision{}, errors.New("quota: no message keys")
	}
	counter, set, resetAt := q.keys(w)
	args := make([]any, 0, len(messageKeys)+2)
	// Keys outlive their day by a day so that a late retry still finds its key counted.
	args = append(args, limit, resetAt.Add(24*time.Hour).Sub(w.Now).Milliseconds())
	for _, k := range messageKeys {
		args = append(args, k)
	}
	res, err := take.Run(ctx, q.Redis, []string{counter, set}, args...).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return decision(res[0] == 1, res[1], limit, resetAt), nil
}

// Release gives back quota counted for messageKeys (a reservation whose send never started).
func (q *Quota) Release(ctx context.Context, w Window, messageKeys ...string) error {
	if len(messageKeys) == 0 {
		return nil
	}
	counter, set, _ := q.keys(w)
	args := make([]any, len(messageKeys))
	for i, k := range messageKeys {
		args[i] = k
	}
	if err := release.Run(ctx, q.Redis, []string{counter, set}, args...).Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// Usage reads the window without changing it.
func (q *Quota) Usage(ctx context.Context, w Window, limit int64) (Decision, error) {
	counter, _, resetAt := q.keys(w)
	used, err := q.Redis.Get(ctx, counter).Int64()
	if errors.Is(err, redis.Nil) {
		used, err = 0, nil
	}
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return decision(used < limit, used, limit, resetAt), nil
}

func decision(allowed bool, used, limit int64, resetAt time.Time) Decision {
	return Decision{Allowed: allowed, Used: used, Limit: limit, Remaining: max(0, limit-used), ResetAt: resetAt}
}

// DeleteTenant deletes the tenant's counters and counted message keys of every channel and
// day, for a tenant's deletion, and returns how many keys it deleted.
func (q *Quota) DeleteTenant(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	iter := q.Redis.Scan(ctx, 0, q.Prefix+"quota:{"+tenantID+":*", 1000).Iterator()
	for iter.Next(ctx) {
		deleted, err := q.Redis.Del(ctx, iter.Val()).Result()
		if err != nil {
			return n, fmt.Errorf("quota: delete %s: %w", iter.Val(), err)
		}
		n += deleted
	}
	if err := iter.Err(); err != nil {
		return n, fmt.Errorf("quota: scan: %w", err)
	}
	return n, nil
}
