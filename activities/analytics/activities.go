// Package analytics holds the ClickHouse sync's activities: thin adapters from Temporal to
// internal/analytics, adding heartbeats with the batch checkpoint, metrics and cache
// invalidation.
package analytics

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/activity"

	"github.com/impactflow/impactflow/internal/analytics"
)

// Modes of a sync run.
const (
	// ModeIncremental copies every change since the watermark and advances it.
	ModeIncremental = "incremental"
	// ModeBackfill re-copies one tenant's events (optionally a time range of them); the
	// watermark is left alone.
	ModeBackfill = "backfill"
)

// Invalidator drops a tenant's cached analytics answers.
type Invalidator interface {
	InvalidateTenants(ctx context.Context, tenantIDs []string) error
}

// Metrics are the sync's Prometheus instruments.
type Metrics struct {
	Lag        prometheus.Gauge
	RowsSynced *prometheus.CounterVec // by op: upsert | delete
}

// NewMetrics registers the sync's instruments on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "impactflow_analytics_sync_lag_seconds",
			Help: "Now minus the newest Postgres updated_at the ClickHouse sync has copied."}),
		RowsSynced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "impactflow_analytics_rows_synced_total",
			Help: "Impact event rows written to ClickHouse by the sync, by op (upsert, delete)."}, []string{"op"}),
	}
	reg.MustRegister(m.Lag, m.RowsSynced)
	return m
}

// Activities are the sync's side effects.
type Activities struct {
	Source  analytics.Source
	DB      *analytics.DB
	Cache   Invalidator // nil: nothing cached
	Metrics *Metrics    // nil: not measured

	// AfterWrite, when set, runs after each batch is written and before it is checkpointed
	// (tests use it to stop a worker at the worst moment).
	AfterWrite func(ctx context.Context, batch int)
}

// Scope says which rows a run copies.
type Scope struct {
	Mode     string     `json:"mode"`
	TenantID string     `json:"tenant_id,omitempty"`
	From     *time.Time `json:"from,omitempty"`
	To       *time.Time `json:"to,omitempty"`
}

// PlanResult is where a run starts, where it stops and how many rows lie between.
type PlanResult struct {
	Start   analytics.Cursor `json:"start"`
	Horizon time.Time        `json:"horizon"`
	Total   int64            `json:"total"`
}

// Plan copies the dimension tables and fixes the run's range: from the watermark (or the
// start of the tenant's events) to the Postgres horizon.
func (a *Activities) Plan(ctx context.Context, s Scope) (PlanResult, error) {
	tenants, programs, err := a.Source.Dimensions(ctx)
	if err != nil {
		return PlanResult{}, err
	}
	if err := a.DB.WriteDimensions(ctx, tenants, programs, time.Now()); err != nil {
		return PlanResult{}, err
	}
	horizon, err := a.Source.Horizon(ctx)
	if err != nil {
		return PlanResult{}, err
	}
	p := PlanResult{Horizon: horizon}
	if s.Mode == ModeBackfill {
		p.Total, err = a.Source.TenantCount(ctx, s.TenantID, s.From, s.To)
		return p, err
	}
	if p.Start, err = a.DB.Watermark(ctx); err != nil {
		return PlanResult{}, err
	}
	a.observeLag(p.Start.UpdatedAt)
	p.Total, err = a.Source.Count(ctx, p.Start, horizon)
	return p, err
}

// BatchesInput asks for up to MaxBatches batches of BatchSize rows after After.
type BatchesInput struct {
	Scope      Scope            `json:"scope"`
	After      analytics.Cursor `json:"after"`
	Horizon    time.Time        `json:"horizon"`
	BatchSize  int              `json:"batch_size"`
	MaxBatches int              `json:"max_batches"`
}

// BatchesResult is what the batches wrote and where they stopped.
type BatchesResult struct {
	After   analytics.Cursor `json:"after"`
	Rows    int64            `json:"rows"`
	Upserts int64            `json:"upserts"`
	Deletes int64            `json:"deletes"`
	Tenants []string         `json:"tenants"`
	Done    bool             `json:"done"`
}

// SyncBatches reads changes in keyset batches and writes each to ClickHouse, heartbeating
// the checkpoint after every batch: a retried attempt resumes after the last batch written.
// A batch written again (the attempt died between the write and the heartbeat) replaces
// itself, so the analytics stay exact.
func (a *Activities) SyncBatches(ctx context.Context, in BatchesInput) (BatchesResult, error) {
	res := BatchesResult{After: in.After}
	if activity.HasHeartbeatDetails(ctx) {
		var saved BatchesResult
		if err := activity.GetHeartbeatDetails(ctx, &saved); err == nil {
			res = saved
		}
	}
	tenants := map[string]bool{}
	for _, t := range res.Tenants {
		tenants[t] = true
	}
	read := func(after analytics.Cursor) ([]analytics.Change, error) {
		if in.Scope.Mode == ModeBackfill {
			return a.Source.TenantChanges(ctx, in.Scope.TenantID, in.Scope.From, in.Scope.To, after, in.BatchSize)
		}
		return a.Source.Changes(ctx, after, in.Horizon, in.BatchSize)
	}
	type fetched struct {
		batch []analytics.Change
		err   error
	}
	// The next batch is read from Postgres while this one is written to ClickHouse.
	prefetch := func(after analytics.Cursor) chan fetched {
		ch := make(chan fetched, 1)
		go func() {
			b, err := read(after)
			ch <- fetched{b, err}
		}()
		return ch
	}
	next := prefetch(res.After)
	for i := 0; i < in.MaxBatches; i++ {
		f := <-next
		if f.err != nil {
			return BatchesResult{}, f.err
		}
		batch := f.batch
		full := len(batch) == in.BatchSize
		if full && i+1 < in.MaxBatches {
			next = prefetch(analytics.CursorOf(batch[len(batch)-1]))
		}
		if len(batch) > 0 {
			if err := a.DB.WriteChanges(ctx, batch); err != nil {
				drain(next, full && i+1 < in.MaxBatches)
				return BatchesResult{}, err
			}
			if a.AfterWrite != nil {
				a.AfterWrite(ctx, i)
				if err := ctx.Err(); err != nil {
					drain(next, full && i+1 < in.MaxBatches)
					return BatchesResult{}, err
				}
			}
			last := analytics.CursorOf(batch[len(batch)-1])
			if in.Scope.Mode == ModeIncremental {
				if err := a.DB.SetWatermark(ctx, last); err != nil {
					drain(next, full && i+1 < in.MaxBatches)
					return BatchesResult{}, err
				}
				a.observeLag(last.UpdatedAt)
			}
			res.After = last
			var dels int64
			for _, c := range batch {
				tenants[c.TenantID] = true
				if c.Deleted {
					dels++
				}
			}
			res.Rows += int64(len(batch))
			res.Deletes += dels
			res.Upserts += int64(len(batch)) - dels
			if a.Metrics != nil {
				a.Metrics.RowsSynced.WithLabelValues("upsert").Add(float64(int64(len(batch)) - dels))
				a.Metrics.RowsSynced.WithLabelValues("delete").Add(float64(dels))
			}
		}
		res.Tenants = sortedKeys(tenants)
		if !full {
			res.Done = true
			activity.RecordHeartbeat(ctx, res)
			return res, nil
		}
		activity.RecordHeartbeat(ctx, res)
	}
	return res, nil
}

// FinishInput closes a run.
type FinishInput struct {
	Run     analytics.Run `json:"run"`
	Tenants []string      `json:"tenants"`
}

// Finish refreshes the aggregate views, drops the cached answers of the tenants that got
// new data, and records the run. Every step is idempotent.
func (a *Activities) Finish(ctx context.Context, in FinishInput) error {
	if err := a.DB.RefreshViews(ctx); err != nil {
		return err
	}
	if a.Cache != nil && len(in.Tenants) > 0 {
		if err := a.Cache.InvalidateTenants(ctx, in.Tenants); err != nil {
			return fmt.Errorf("invalidate analytics cache: %w", err)
		}
	}
	in.Run.FinishedAt = time.Now()
	return a.DB.RecordRun(ctx, in.Run)
}

func (a *Activities) observeLag(newest time.Time) {
	if a.Metrics != nil && !newest.IsZero() {
		a.Metrics.Lag.Set(time.Since(newest).Seconds())
	}
}

// drain waits for a prefetch still running, so that no read outlives the activity.
func drain[T any](ch chan T, pending bool) {
	if pending {
		<-ch
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
