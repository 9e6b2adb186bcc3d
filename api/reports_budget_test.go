package api

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBudgetCacheReadsATenantOncePerTTL(t *testing.T) {
	var bc budgetCache
	var reads atomic.Int32
	release := make(chan struct{})
	read := func(context.Context, string) (budgetRead, error) {
		reads.Add(1)
		<-release
		return budgetRead{limit: 100, spent: 10, zoneOK: true, reset: time.Now().Add(time.Hour)}, nil
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if b, err := bc.get(context.Background(), "acme", read); err != nil || b.spent != 10 {
				t.Errorf("get = %+v, %v", b, err)
			}
		})
	}
	for reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if _, err := bc.get(context.Background(), "acme", read); err != nil || reads.Load() != 1 {
		t.Fatalf("%d reads for 21 gets within the TTL (%v), want 1", reads.Load(), err)
	}

	// Past the TTL, or past the period's reset, the figures are read again.
	age := func(d time.Duration, reset time.Time) {
		bc.mu.Lock()
		b := bc.entries["acme"]
		b.at, b.reset = b.at.Add(-d), reset
		bc.entries["acme"] = b
		bc.mu.Unlock()
	}
	age(budgetCheckTTL, time.Now().Add(time.Hour))
	if _, _ = bc.get(context.Background(), "acme", read); reads.Load() != 2 {
		t.Fatalf("%d reads after the TTL, want 2", reads.Load())
	}
	age(0, time.Now().Add(-time.Millisecond))
	if _, _ = bc.get(context.Background(), "acme", read); reads.Load() != 3 {
		t.Fatalf("%d reads after the period's reset, want 3", reads.Load())
	}

	// A failed read is not kept.
	boom := errors.New("postgres down")
	fail := func(context.Context, string) (budgetRead, error) { reads.Add(1); return budgetRead{}, boom }
	for want := int32(4); want <= 5; want++ {
		if _, err := bc.get(context.Background(), "globex", fail); !errors.Is(err, boom) || reads.Load() != want {
			t.Fatalf("get after a failed read: %v, %d reads; want the error again from read %d", err, reads.Load(), want)
		}
	}
}
