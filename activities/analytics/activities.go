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

// SyncBatches reads changes in keyset batches (COPY text for chDB) and writes each to
// ClickHouse in one insert, reading the next batch while writing this one, heartbeating
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
	r := analytics.Range{Backfill: in.Scope.Mode == ModeBackfill, TenantID: in.Scope.TenantID,
		From: in.Scope.From, To: in.Scope.To, Horizon: in.Horizon}
	done, err := a.DB.CopyBatches(ctx, a.Source, r, res.After, in.BatchSize, in.MaxBatches, func(i int, b *analytics.Batch) error {
		if b.Rows > 0 {
			if a.AfterWrite != nil {
				a.AfterWrite(ctx, i)
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if in.Scope.Mode == ModeIncremental {
				if err := a.DB.SetWatermark(ctx, b.Last); err != nil {
					return err
				}
				a.observeLag(b.Last.UpdatedAt)
			}
			res.After = b.Last
			for _, t := range b.Tenants {
				tenants[t] = true
			}
			res.Rows += b.Rows
			res.Deletes += b.Deletes
			res.Upserts += b.Rows - b.Deletes
			if a.Metrics != nil {
				a.Metrics.RowsSynced.WithLabelValues("upsert").Add(float64(b.Rows - b.Deletes))
				a.Metrics.RowsSynced.WithLabelValues("delete").Add(float64(b.Deletes))
			}
		}
		res.Tenants = sortedKeys(tenants)
		activity.RecordHeartbeat(ctx, res)
		return nil
	})
	if err != nil {
		return BatchesResult{}, err
	}
	res.Done = done
	if done {
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
// new data, and records the run. Every step is idempotent. It heartbeats while the views
// refresh: over millions of events that outlasts the heartbeat timeout, and a Finish that
// did not would be timed out and start the refresh over, again and again.
func (a *Activities) Finish(ctx context.Context, in FinishInput) error {
	if err := a.DB.RefreshViews(ctx, func() { activity.RecordHeartbeat(ctx, "refresh") }); err != nil {
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

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
