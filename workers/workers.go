// Package workers decides which workflows and activities run on which task queue, with
// which limits.
package workers

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	analyticsact "github.com/impactflow/impactflow/activities/analytics"
	"github.com/impactflow/impactflow/activities/imports"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// Deps is what the activities need.
type Deps struct {
	Client client.Client
	Store  *store.Store

	// Analytics runs the ClickHouse sync when set (nil: this process has no analytics store).
	Analytics      *analytics.DB
	AnalyticsCache analyticsact.Invalidator
	SyncMetrics    *analyticsact.Metrics
}

// stopTimeout is how long a stopping worker lets running activities finish before
// cancelling them; an import activity checkpoints per chunk, so what is cut short resumes.
const stopTimeout = 3 * time.Second

// Workers are the running workers of this process.
type Workers struct {
	all []worker.Worker
}

// Start starts a worker on every task queue.
func Start(d Deps) (*Workers, error) {
	w := &Workers{}
	imp := worker.New(d.Client, temporal.TaskQueueImports, worker.Options{
		// Imports are Postgres-bound; a few at once keep the database busy without
		// thrashing it.
		MaxConcurrentActivityExecutionSize: 4,
		WorkerStopTimeout:                  stopTimeout,
	})
	imp.RegisterWorkflow(workflows.ImportWorkflow)
	imp.RegisterActivity(&imports.Activities{Store: d.Store})
	w.all = append(w.all, imp)

	if d.Analytics != nil {
		an := worker.New(d.Client, temporal.TaskQueueAnalytics, worker.Options{
			// One sync writes ClickHouse at a time per worker; the schedule skips overlaps.
			MaxConcurrentActivityExecutionSize: 2,
			WorkerStopTimeout:                  stopTimeout,
		})
		an.RegisterWorkflow(workflows.ClickHouseSyncWorkflow)
		an.RegisterActivity(&analyticsact.Activities{Source: analytics.Source{Pool: d.Store.Pool()}, DB: d.Analytics,
			Cache: d.AnalyticsCache, Metrics: d.SyncMetrics})
		w.all = append(w.all, an)
	}

	for _, each := range w.all {
		if err := each.Start(); err != nil {
			w.Stop()
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}
	return w, nil
}

// Stop drains the workers: no new tasks, running activities get stopTimeout to finish.
func (w *Workers) Stop() {
	for _, each := range w.all {
		each.Stop()
	}
}
