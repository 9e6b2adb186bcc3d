// Package workers decides which workflows and activities run on which task queue, with
// which limits.
package workers

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/imports"
	"github.com/impactflow/impactflow/activities/notifications"
	"github.com/impactflow/impactflow/internal/events"
	"github.com/impactflow/impactflow/internal/notify/providers"
	"github.com/impactflow/impactflow/internal/notify/quota"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// Deps is what the activities need.
type Deps struct {
	Client client.Client
	Store  *store.Store
	// Notifications, when set, runs the notifications task queue.
	Notifications *NotificationDeps
}

// NotificationDeps is what the notification activities need beyond the store.
type NotificationDeps struct {
	Quota   *quota.Quota
	Senders providers.Channels
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

	if n := d.Notifications; n != nil {
		nw := worker.New(d.Client, temporal.TaskQueueNotifications, worker.Options{
			// Sends wait on providers, not on this process: many can be in flight at once.
			MaxConcurrentActivityExecutionSize: 64,
			// A notification due now is one workflow task whose steps, sends included, are
			// local activities (NotificationVersionFolded): the pollers that count are the
			// workflow-task ones. Eager start hands API-started ones over without a poll.
			MaxConcurrentWorkflowTaskPollers:        4,
			MaxConcurrentLocalActivityExecutionSize: 256,
			WorkerStopTimeout:                       stopTimeout,
		})
		nw.RegisterWorkflow(workflows.NotificationWorkflow)
		nw.RegisterWorkflowWithOptions(workflows.EventTriggerWorkflow, workflow.RegisterOptions{Name: events.TriggerWorkflow})
		nw.RegisterActivity(&notifications.Activities{Store: d.Store, Quota: n.Quota, Senders: n.Senders})
		w.all = append(w.all, nw)
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
