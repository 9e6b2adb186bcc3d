package quota

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func newQuota(t testing.TB) *Quota {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", PoolSize: 64})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Skipf("no Redis at 127.0.0.1:6379: %v", err)
	}
	prefix := fmt.Sprintf("test-quota-%d-%d:", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	return &Quota{Redis: rdb, Prefix: prefix}
}

func TestExactlyLimitOfConcurrentSendsPass(t *testing.T) {
	q := newQuota(t)
	w := Window{TenantID: "acme", Channel: "email", Location: time.UTC, Now: time.Now()}
	var allowed, denied atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 200; i++ {
		wg.Go(func() {
			<-start
			d, err := q.Take(context.Background(), w, 100, fmt.Sprintf("n-%d/0", i))
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allowed {
				allowed.Add(1)
			} else {
				denied.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if allowed.Load() != 100 || denied.Load() != 100 {
		t.Fatalf("allowed %d, denied %d; want 100 and 100", allowed.Load(), denied.Load())
	}
	u, err := q.Usage(context.Background(), w, 100)
	if err != nil {
		t.Fatal(err)
	}
	if u.Used != 100 || u.Remaining != 0 || u.Allowed {
		t.Fatalf("usage %+v", u)
	}
}

func TestTakeIsIdempotentPerMessageKey(t *testing.T) {
	q := newQuota(t)
	ctx := context.Background()
	w := Window{TenantID: "acme", Channel: "sms", Location: time.UTC, Now: time.Now()}
	for i := 0; i < 3; i++ {
		d, err := q.Take(ctx, w, 2, "a")
		if err != nil || !d.Allowed || d.Used != 1 {
			t.Fatalf("take a #%d: %+v %v", i, d, err)
		}
	}
	// Two keys where one fits: all or nothing.
	if d, _ := q.Take(ctx, w, 2, "b", "c"); d.Allowed || d.Used != 1 {
		t.Fatalf("b+c over the limit: %+v", d)
	}
	if d, _ := q.Take(ctx, w, 2, "a", "b"); !d.Allowed || d.Used != 2 {
		t.Fatalf("a (counted) + b: %+v", d)
	}
	if err := q.Release(ctx, w, "b", "never-taken"); err != nil {
		t.Fatal(err)
	}
	if d, _ := q.Usage(ctx, w, 2); d.Used != 1 {
		t.Fatalf("after release: %+v", d)
	}
}

func TestDayIsTheTenantsLocalDay(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 03:30 UTC on 10 March is still 9 March in New York.
	now := time.Date(2026, 3, 10, 3, 30, 0, 0, time.UTC)
	day, reset := Window{Location: ny, Now: now}.Day()
	if day != "2026-03-09" || !reset.Equal(time.Date(2026, 3, 10, 4, 0, 0, 0, time.UTC)) {
		t.Fatalf("day %s reset %s", day, reset.UTC())
	}
	// The DST day in New York (8 March 2026) is 23 hours long.
	day, reset = Window{Location: ny, Now: time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)}.Day()
	if day != "2026-03-08" || !reset.Equal(time.Date(2026, 3, 9, 4, 0, 0, 0, time.UTC)) {
		t.Fatalf("DST day %s reset %s", day, reset.UTC())
	}

	q := newQuota(t)
	ctx := context.Background()
	before := Window{TenantID: "acme", Channel: "email", Location: ny, Now: now}
	after := before
	after.Now = now.Add(time.Hour) // 00:30 in New York: a new day
	if d, _ := q.Take(ctx, before, 1, "x"); !d.Allowed {
		t.Fatal("first send of the day refused")
	}
	if d, _ := q.Take(ctx, before, 1, "y"); d.Allowed {
		t.Fatal("second send over a limit of 1 allowed")
	}
	if d, _ := q.Take(ctx, after, 1, "y"); !d.Allowed {
		t.Fatal("the next local day did not start a new window")
	}
}

func TestRedisDownIsUnavailableNotAllowed(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	q := &Quota{Redis: rdb}
	d, err := q.Take(context.Background(), Window{TenantID: "acme", Channel: "email", Now: time.Now()}, 10, "k")
	if !errors.Is(err, ErrUnavailable) || d.Allowed {
		t.Fatalf("got %+v, %v; want ErrUnavailable and not allowed", d, err)
	}
}

// BenchmarkTake measures one quota check against the local Redis and reports its p50 and
// p95 (target: p95 under 2 ms).
func BenchmarkTake(b *testing.B) {
	q := newQuota(b)
	ctx := context.Background()
	w := Window{TenantID: "bench", Channel: "email", Location: time.UTC, Now: time.Now()}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := q.Take(ctx, w, 1<<40, fmt.Sprintf("k-%d", i)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
}
