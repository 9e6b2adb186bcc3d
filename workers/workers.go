// Package workers decides which workflows and activities run on which task queue, with
// which limits.
package workers

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/impactflow/impactflow/activities/imports"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// Deps is what the activities need.
type Deps struct {
	Client client.Client
	Store  *store.Store
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
