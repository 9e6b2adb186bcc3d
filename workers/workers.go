// Package workers decides which workflows and activities run on which task queue, with
// which limits.
package workers

import (
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/activities/imports"
	"github.com/impactflow/impactflow/activities/reports"
	"github.com/impactflow/impactflow/internal/budget"
	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/metrics"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// Deps is what the activities need.
type Deps struct {
	Client client.Client
	Store  *store.Store

	// Reports: Writer nil means the offline extractive writer; Prices with no rows means
	// llm.DefaultPrices; Metrics nil means a registry of the workers' own.
	Writer              llm.Writer
	Prices              llm.Prices
	Metrics             *metrics.Registry
	AIBudgetMicros      int64
	RedactionNames      []string
	RedactionAggressive bool
	Logger              *slog.Logger
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

	w.all = append(w.all, reportsWorker(d))

	for _, each := range w.all {
		if err := each.Start(); err != nil {
			w.Stop()
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}
	return w, nil
}

// reportsWorker runs report jobs and the per-tenant budget workflows. Its activities wait
// on an LLM most of the time, so many run at once; what bounds spending is the budget.
func reportsWorker(d Deps) worker.Worker {
	if d.Writer == nil {
		d.Writer = llm.Offline{}
	}
	if d.Prices.Models == nil {
		d.Prices = llm.DefaultPrices()
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	rep := worker.New(d.Client, temporal.TaskQueueReports, worker.Options{
		MaxConcurrentActivityExecutionSize: 200,
		WorkerStopTimeout:                  stopTimeout,
	})
	rep.RegisterWorkflow(workflows.ReportWorkflow)
	rep.RegisterWorkflowWithOptions(workflows.BudgetWorkflow, workflow.RegisterOptions{Name: budget.WorkflowType})
	rep.RegisterActivity(&reports.Activities{
		Store: d.Store, Client: d.Client, Writer: d.Writer, Prices: d.Prices, Metrics: d.Metrics.AI(),
		DefaultLimitMicros: d.AIBudgetMicros, Names: d.RedactionNames, Aggressive: d.RedactionAggressive, Logger: d.Logger,
	})
	return rep
}

// Stop drains the workers: no new tasks, running activities get stopTimeout to finish.
func (w *Workers) Stop() {
	for _, each := range w.all {
		each.Stop()
	}
}
