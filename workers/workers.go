// Package workers decides which workflows and activities run on which task queue, with
// which limits.
package workers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/impactflow/impactflow/activities/deliveries"
	"github.com/impactflow/impactflow/activities/imports"
	"github.com/impactflow/impactflow/internal/connectors"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// Deps is what the activities need.
type Deps struct {
	Client client.Client
	Store  *store.Store

	Deliveries DeliveryDeps
}

// DeliveryDeps configures the delivery workers.
type DeliveryDeps struct {
	Box  *secrets.Box                  // nil: sends fail with a clear NoCredentials error
	URLs map[connectors.Partner]string // the platform's URL per partner
	Jobs *jobs.Service                 // resets workflows for replays
	HTTP *http.Client
	// AttemptTimeout bounds one HTTP exchange with a partner.
	AttemptTimeout time.Duration
	// GooderaLimit requests per GooderaWindow (100 a minute): Goodera's limit, enforced by
	// the Temporal task queue of Goodera sends across every worker.
	GooderaLimit  int
	GooderaWindow time.Duration
	// BeforeSend, when set, runs before each send (tests stop a worker mid-send with it).
	BeforeSend func(ctx context.Context, deliveryID string)
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

	w.all = append(w.all, deliveryWorkers(d)...)

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

// deliveryWorkers run DeliveryWorkflow and the replay batch on the deliveries queue, and
// each partner's sends on that partner's own queue, where the partner's rate limit is a
// task-queue option: the server hands out at most that many send tasks a second to all
// workers of the queue together.
func deliveryWorkers(d Deps) []worker.Worker {
	dd := d.Deliveries
	hc := dd.HTTP
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	}
	acts := &deliveries.Activities{
		Store: d.Store, Box: dd.Box, URLs: dd.URLs, HTTP: hc, AttemptTimeout: dd.AttemptTimeout, BeforeSend: dd.BeforeSend,
	}
	if dd.Jobs != nil {
		acts.Replayer = &deliveries.Replayer{Store: d.Store, Jobs: dd.Jobs}
	}
	main := worker.New(d.Client, temporal.TaskQueueDeliveries, worker.Options{
		WorkerStopTimeout: stopTimeout,
		// More pollers drain a burst of deliveries faster (measured: 2 pollers 50–80/s).
		MaxConcurrentWorkflowTaskPollers: 8,
	})
	main.RegisterWorkflow(workflows.DeliveryWorkflow)
	main.RegisterWorkflow(workflows.ReplayBatchWorkflow)
	main.RegisterActivity(acts)
	out := []worker.Worker{main}
	for _, p := range connectors.Partners {
		opts := worker.Options{
			WorkerStopTimeout: stopTimeout,
			// Sends wait on the network, not the CPU.
			MaxConcurrentActivityExecutionSize: 200,
			MaxConcurrentActivityTaskPollers:   8,
		}
		if p == connectors.Goodera {
			opts.TaskQueueActivitiesPerSecond = GooderaRate(dd.GooderaLimit, dd.GooderaWindow)
		}
		pw := worker.New(d.Client, temporal.TaskQueuePartner(string(p)), opts)
		pw.RegisterActivity(acts.Send)
		out = append(out, pw)
	}
	return out
}

// GooderaRate is the task-queue rate (sends a second) that keeps Goodera's sandbox or API
// at or under limit requests in any window. The server's limiter lets a small burst
// through on top of the rate (a second's worth, at least one task per queue partition,
// four by default), and a revoked OAuth token costs a send one extra request, so 5% of the
// limit and four tasks are kept free.
func GooderaRate(limit int, window time.Duration) float64 {
	if limit <= 0 {
		limit = 100
	}
	if window <= 0 {
		window = time.Minute
	}
	free := float64(limit)*0.95 - 4
	if free < 1 {
		free = 1
	}
	return free / (window + time.Second).Seconds()
}
