// Package workers decides which workflows and activities run on which task queue, with
// which limits.
package workers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	analyticsact "github.com/impactflow/impactflow/activities/analytics"
	"github.com/impactflow/impactflow/activities/deliveries"
	"github.com/impactflow/impactflow/activities/imports"
	"github.com/impactflow/impactflow/activities/notifications"
	privacyact "github.com/impactflow/impactflow/activities/privacy"
	"github.com/impactflow/impactflow/activities/reports"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/budget"
	"github.com/impactflow/impactflow/internal/connectors"
	"github.com/impactflow/impactflow/internal/events"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/metrics"
	"github.com/impactflow/impactflow/internal/notify/providers"
	"github.com/impactflow/impactflow/internal/notify/quota"
	"github.com/impactflow/impactflow/internal/privacy"
	"github.com/impactflow/impactflow/internal/secrets"
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
	Deliveries          DeliveryDeps
	// Notifications, when set, runs the notifications task queue.
	Notifications *NotificationDeps
	// Analytics runs the ClickHouse sync when set (nil: this process has no analytics store).
	Analytics      *analytics.DB
	AnalyticsCache analyticsact.Invalidator
	SyncMetrics    *analyticsact.Metrics
	// Namespace is the Temporal namespace of Client, where the privacy jobs delete
	// executions ("" means "default").
	// DataConverter is the clients' converter (the payload codec), with which the privacy
	// jobs read the inputs of a tenant's workflows; nil: the SDK's default.
	DataConverter converter.DataConverter
	// DataKeys destroys a deleted tenant's payload data keys (codec.Keyring); nil when
	// payloads are not encrypted.
	DataKeys privacyact.TenantKeys
	// ScrubDeleted, when set, makes the runs the privacy jobs delete unreadable in the
	// embedded server's files (devserver.Server.Scrub).
	ScrubDeleted func(ctx context.Context) error
	Namespace    string
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

// NotificationDeps is what the notification activities need beyond the store.
type NotificationDeps struct {
	Quota   *quota.Quota
	Senders providers.Channels
}

// stopTimeout is how long a stopping worker lets running activities finish before
// cancelling them; an import activity checkpoints per chunk, so what is cut short resumes.
const stopTimeout = 3 * time.Second

// stickyTimeout is how long a workflow task waits for the worker that holds its workflow
// in cache before going to any worker of the queue (the SDK's default is 5 s). In a burst
// the embedded engine, which writes one history at a time, takes longer than that to
// hand a report's or a delivery's next task over; each timeout then costs more writes
// (the timeout, a new task) and a replay of the whole history on the normal queue. A
// worker that stops tells the server to move its sticky tasks at once, and matching sends
// new tasks to the normal queue once a sticky queue has had no poll for 10 s, so the
// longer wait mostly applies to a worker that is alive but busy.
const stickyTimeout = 30 * time.Second

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

	w.all = append(w.all, reportsWorkers(d)...)
	w.all = append(w.all, deliveryWorkers(d)...)
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
	w.all = append(w.all, privacyWorker(d))

	for _, each := range w.all {
		if err := each.Start(); err != nil {
			w.Stop()
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}
	return w, nil
}

// reportsWorkers run report jobs and the per-tenant budget workflows, each on its own
// queue. Report activities wait on an LLM most of the time, so many run at once; what
// bounds spending is the budget.
func reportsWorkers(d Deps) []worker.Worker {
	if d.Writer == nil {
		d.Writer = llm.Offline{}
	}
	if d.Prices.Models == nil {
		d.Prices = llm.DefaultPrices()
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New()
	}
	acts := &reports.Activities{
		Store: d.Store, Client: d.Client, Writer: d.Writer, Prices: d.Prices, Metrics: d.Metrics.AI(),
		DefaultLimitMicros: d.AIBudgetMicros, Names: d.RedactionNames, Aggressive: d.RedactionAggressive, Logger: d.Logger,
	}
	rep := worker.New(d.Client, temporal.TaskQueueReports, worker.Options{
		// A burst of 100 three-section reports is 300 LLM calls at once, each mostly
		// waiting on the provider: the slots must not be what queues them.
		MaxConcurrentActivityExecutionSize: 512,
		// One poller takes one task per round trip; 300 calls arriving together need
		// more than the default two to be picked up in well under a call's time.
		MaxConcurrentActivityTaskPollers: 16,
		MaxConcurrentWorkflowTaskPollers: 8,
		// A report's short steps are local activities (reportLocalSteps): a burst runs a
		// few per report at once, most of them waiting on Postgres or the budget workflow.
		MaxConcurrentLocalActivityExecutionSize: 512,
		StickyScheduleToStartTimeout:            stickyTimeout,
		WorkerStopTimeout:                       stopTimeout,
	})
	rep.RegisterWorkflow(workflows.ReportWorkflow)
	// Budget workflows started before TaskQueueBudget run here until they end.
	rep.RegisterWorkflowWithOptions(workflows.BudgetWorkflow, workflow.RegisterOptions{Name: budget.WorkflowType})
	// Evidence classification (issue 3): the same activities and budget as reports.
	rep.RegisterWorkflow(workflows.ClassifyWorkflow)
	rep.RegisterActivity(acts)

	// One tenant's budget workflow takes a batch of calls per workflow task; a few pollers
	// are plenty, and being alone on the queue is what keeps its tasks prompt.
	bud := worker.New(d.Client, temporal.TaskQueueBudget, worker.Options{
		MaxConcurrentWorkflowTaskPollers: 4,
		WorkerStopTimeout:                stopTimeout,
	})
	bud.RegisterWorkflowWithOptions(workflows.BudgetWorkflow, workflow.RegisterOptions{Name: budget.WorkflowType})
	bud.RegisterActivity(acts.EmitBudgetAlert)
	return []worker.Worker{rep, bud}
}

// Stop drains the workers: no new tasks, running activities get stopTimeout to finish.
func (w *Workers) Stop() {
	for _, each := range w.all {
		each.Stop()
	}
}

// deliveryWorkers run the replay batch on the deliveries queue, and each partner's sends on
// that partner's own queue, where the partner's rate limit is a task-queue option: the
// server hands out at most that many send tasks a second to all workers of the queue
// together. DeliveryWorkflow runs where workflows.DeliveryTaskQueue puts it (and on the
// deliveries queue for runs started there before).
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
		StickyScheduleToStartTimeout:     stickyTimeout,
	})
	main.RegisterWorkflow(workflows.DeliveryWorkflow)
	main.RegisterWorkflow(workflows.ReplayBatchWorkflow)
	main.RegisterActivity(acts)
	out := []worker.Worker{main}
	for _, p := range connectors.Partners {
		queue := temporal.TaskQueuePartner(string(p))
		// The partner's deliveries run on its queue too (unless it is rate limited), so that
		// each send is handed over with the workflow task that schedules it.
		runsDeliveries := workflows.DeliveryTaskQueue(string(p)) == queue
		opts := worker.Options{
			WorkerStopTimeout: stopTimeout,
			// Sends wait on the network, not the CPU.
			MaxConcurrentActivityExecutionSize: 200,
			MaxConcurrentActivityTaskPollers:   32,
		}
		if workflows.PartnerRateLimited(string(p)) {
			opts.TaskQueueActivitiesPerSecond = GooderaRate(dd.GooderaLimit, dd.GooderaWindow)
		}
		if runsDeliveries {
			opts.MaxConcurrentWorkflowTaskPollers = 8 // as on the deliveries queue
			opts.StickyScheduleToStartTimeout = stickyTimeout
		}
		pw := worker.New(d.Client, queue, opts)
		pw.RegisterActivity(acts.Send)
		if runsDeliveries {
			pw.RegisterWorkflow(workflows.DeliveryWorkflow)
			// Building the payload and recording the outcome are its local activities.
			pw.RegisterActivity(acts.BuildPayload)
			pw.RegisterActivity(acts.RecordOutcome)
		}
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

// privacyWorker runs the privacy jobs. They are rare and each touches every store, so a
// few at a time are plenty.
func privacyWorker(d Deps) worker.Worker {
	ns := d.Namespace
	if ns == "" {
		ns = "default"
	}
	acts := &privacyact.Activities{
		Postgres: privacy.Postgres{Pool: d.Store.Pool()}, Analytics: d.Analytics,
		Temporal: privacy.Temporal{Client: d.Client, Namespace: ns, DataConverter: d.DataConverter, Scrub: d.ScrubDeleted},
		Events:   events.Emitter{Client: d.Client},
		Store:    d.Store, DataKeys: d.DataKeys,
	}
	// The analytics cache, when it can delete a tenant's answers (analytics.Cache can), is
	// purged by an erasure; one that can only invalidate them leaves nothing to purge here.
	if c, ok := d.AnalyticsCache.(privacyact.CachePurger); ok {
		acts.Cache = c
	}
	// A tenant's deletion empties the Redis stores that keep keys per tenant.
	if c, ok := d.AnalyticsCache.(privacyact.TenantCaches); ok {
		acts.TenantCaches = append(acts.TenantCaches, c)
	}
	if d.Notifications != nil && d.Notifications.Quota != nil {
		acts.TenantCaches = append(acts.TenantCaches, d.Notifications.Quota)
	}
	pw := worker.New(d.Client, temporal.TaskQueuePrivacy, worker.Options{
		MaxConcurrentActivityExecutionSize: 4,
		WorkerStopTimeout:                  stopTimeout,
	})
	pw.RegisterWorkflowWithOptions(workflows.PrivacyExportWorkflow, workflow.RegisterOptions{Name: privacy.ExportWorkflow})
	pw.RegisterWorkflowWithOptions(workflows.PrivacyEraseWorkflow, workflow.RegisterOptions{Name: privacy.EraseWorkflow})
	pw.RegisterWorkflow(workflows.RetentionWorkflow)
	pw.RegisterWorkflow(workflows.TenantRetentionWorkflow)
	pw.RegisterWorkflow(workflows.TenantDeletionWorkflow)
	pw.RegisterActivity(acts)
	return pw
}
