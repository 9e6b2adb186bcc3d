package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/temporal/codec"
)

// The engine scenario's workflow and activity, registered on a task queue of its own.
const (
	engineWorkflowName = "BenchEngineWorkflow"
	engineActivityName = "BenchEngineActivity"
	// engineFirstTaskName is the smallest job a workflow can be: it completes in its first
	// workflow task, as a small import does.
	engineFirstTaskName = "BenchEngineFirstTaskWorkflow"
)

const (
	// engineBurst is how many workflows the engine scenario starts with no worker running.
	engineBurst = 2000
	// engineSequential is how many workflows the single-client latency phases run.
	engineSequential = 50
	// engineWorkflowTimeout closes, eventually, a backlog left behind by an interrupted run,
	// whose task queue no worker will ever poll again.
	engineWorkflowTimeout = time.Hour
	// engineOpTimeout bounds one start, or one start and its result.
	engineOpTimeout = 2 * time.Minute
	// drainLimit bounds how long a backlog of workflows may take to complete.
	drainLimit = 5 * time.Minute
)

// engineWorkflow is the trivial workflow: one activity, its result returned.
func engineWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, engineActivityName, name).Get(ctx, &out)
	return out, err
}

// engineActivity is the trivial activity.
func engineActivity(_ context.Context, name string) (string, error) {
	return "hello " + name, nil
}

// engineFirstTaskWorkflow returns at once, so its run is a start and one task completion.
func engineFirstTaskWorkflow(_ workflow.Context, name string) (string, error) {
	return "hello " + name, nil
}

// engine is a Temporal client and a worker, not yet started, on a task queue of its own.
type engine struct {
	client  client.Client
	queue   string
	worker  worker.Worker
	started bool
	seq     atomic.Int64
}

// dialEngine connects to the dev process's Temporal server and builds the worker from the
// same client, which eager workflow start requires.
func dialEngine(ctx context.Context, o Options) (*engine, error) {
	// Payloads are encrypted as the platform's are, so the numbers include the codec's
	// cost; the workflows carry no data, so an ephemeral key of this process will do.
	return dialEngineWith(ctx, o, codec.NewDataConverter(codec.NewStaticKeys()))
}

// dialEngineWith is dialEngine with the given payload codec; nil means the SDK's default
// converter, plaintext payloads.
func dialEngineWith(ctx context.Context, o Options, payloads *codec.DataConverter) (*engine, error) {
	opts := client.Options{
		HostPort:  o.TemporalAddress,
		Namespace: o.Namespace,
		// The SDK logs every poll and retry at info level; keep the report readable.
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))),
	}
	if payloads != nil {
		opts.DataConverter, opts.ContextPropagators = payloads, payloads.ContextPropagators()
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (is `impactflow dev` running?): %w", o.TemporalAddress, err)
	}
	e := &engine{client: c, queue: "bench-engine-" + randomHex(6)}
	e.worker = worker.New(c, e.queue, worker.Options{
		MaxConcurrentWorkflowTaskPollers: 8,
		MaxConcurrentActivityTaskPollers: 8,
	})
	e.worker.RegisterWorkflowWithOptions(engineWorkflow, workflow.RegisterOptions{Name: engineWorkflowName})
	e.worker.RegisterActivityWithOptions(engineActivity, activity.RegisterOptions{Name: engineActivityName})
	e.worker.RegisterWorkflowWithOptions(engineFirstTaskWorkflow, workflow.RegisterOptions{Name: engineFirstTaskName})
	return e, nil
}

func (e *engine) close() {
	if e.started {
		e.worker.Stop()
	}
	e.client.Close()
}

func (e *engine) startWorker() error {
	if e.started {
		return nil
	}
	if err := e.worker.Start(); err != nil {
		return fmt.Errorf("start the bench worker: %w", err)
	}
	e.started = true
	return nil
}

// start starts one workflow of the given type with a fresh ID.
func (e *engine) start(ctx context.Context, workflowType string, eager bool) (client.WorkflowRun, error) {
	id := fmt.Sprintf("%s-%d", e.queue, e.seq.Add(1))
	ctx, cancel := context.WithTimeout(ctx, engineOpTimeout)
	defer cancel()
	return e.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                e.queue,
		EnableEagerStart:         eager,
		WorkflowExecutionTimeout: engineWorkflowTimeout,
	}, workflowType, id)
}

// waitQueueIdle polls visibility until no workflow of the engine's task queue is running,
// or limit passes. A count every 100 ms costs the server little next to what it waits for.
func (e *engine) waitQueueIdle(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	query := fmt.Sprintf("TaskQueue = '%s' AND ExecutionStatus = 'Running'", e.queue)
	for {
		resp, err := e.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		if err == nil && resp.GetCount() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workflows of %s still running: %w", e.queue, context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// execute starts one workflow and waits for its result.
func (e *engine) execute(ctx context.Context, eager bool) error {
	run, err := e.start(ctx, engineWorkflowName, eager)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, engineOpTimeout)
	defer cancel()
	var out string
	return run.Get(ctx, &out)
}

// burstAndDrain measures (a) how fast the server starts n workflows with no worker to run
// them, within limit, then (b) how fast a worker, started afterwards, completes that backlog.
func (e *engine) burstAndDrain(ctx context.Context, o Options, r *report, n int, limit time.Duration) (phase, error) {
	r.progress("starting up to %d workflows on %s with %d clients, no worker running", n, e.queue, o.Concurrency)
	runs := make([]client.WorkflowRun, n)
	cpu := startCPU(o.PID)
	burst := r.add(runClients(ctx, "start, no worker", o.Concurrency, limit, n, func(ctx context.Context, t int) error {
		run, err := e.start(ctx, engineWorkflowName, false)
		runs[t] = run // each ticket is one goroutine's alone
		return err
	}))
	burst.cpu = cpu.stop()
	if err := ctx.Err(); err != nil {
		return burst, err
	}
	started := runs[:0]
	for _, run := range runs {
		if run != nil {
			started = append(started, run)
		}
	}
	r.progress("%d started (%.0f/s); starting the worker and draining the backlog", len(started), burst.rate())
	r.fact("engine start rate", "%.0f starts/s with no worker running (%d clients)", burst.rate(), o.Concurrency)
	if ms, ok := burst.cpuPerOp(); ok {
		r.fact("dev CPU per start", "%.2f ms (the server's alone: the starts come from this process)", ms)
	}

	drain, err := e.drain(ctx, r, o.Concurrency, started)
	r.add(drain)
	r.check("backlog drained: every started workflow completed", drain.ops == len(started) && drain.errors == 0,
		"%d of %d", drain.ops, len(started))
	return burst, err
}

// drain starts the worker and waits for every run; the drain's length runs from the
// worker's start to the last close time the server recorded, so a client's late long poll
// does not count against the server.
func (e *engine) drain(ctx context.Context, r *report, clients int, runs []client.WorkflowRun) (phase, error) {
	workerStart := time.Now()
	if err := e.startWorker(); err != nil {
		return phase{}, err
	}
	waited := runClients(ctx, "drain backlog", clients, drainLimit, len(runs), func(ctx context.Context, t int) error {
		ctx, cancel := context.WithTimeout(ctx, drainLimit)
		defer cancel()
		var out string
		return runs[t].Get(ctx, &out)
	})
	if err := ctx.Err(); err != nil {
		return waited, err
	}
	lastGet := time.Since(workerStart)

	var mu sync.Mutex
	var lastClose time.Time
	closed := runClients(ctx, "describe", clients, drainLimit, len(runs), func(ctx context.Context, t int) error {
		resp, err := e.client.DescribeWorkflowExecution(ctx, runs[t].GetID(), runs[t].GetRunID())
		if err != nil {
			return err
		}
		info := resp.GetWorkflowExecutionInfo()
		if info.GetCloseTime() == nil {
			return fmt.Errorf("workflow %s is %s", runs[t].GetID(), info.GetStatus())
		}
		mu.Lock()
		defer mu.Unlock()
		if ct := info.GetCloseTime().AsTime(); ct.After(lastClose) {
			lastClose = ct
		}
		return nil
	})
	drained := lastClose.Sub(workerStart)
	if lastClose.IsZero() {
		drained = lastGet
	}
	d := phase{name: "drain backlog", elapsed: drained, ops: min(waited.latency.n, closed.latency.n),
		errors: max(waited.errors, closed.errors), firstErr: waited.firstErr}
	if d.firstErr == nil {
		d.firstErr = closed.firstErr
	}
	r.fact("drain", "%d completed %.2f s after the worker started (server close times): %.0f/s; the last client Get returned after %.2f s",
		d.ops, drained.Seconds(), d.rate(), lastGet.Seconds())
	return d, nil
}

// runEngine measures the embedded server alone: the ceiling every API scenario compares to.
func runEngine(ctx context.Context, o Options, r *report) error {
	e, err := dialEngine(ctx, o)
	if err != nil {
		return err
	}
	defer e.close()
	r.fact("server", "%s, namespace %s, task queue %s", o.TemporalAddress, o.Namespace, e.queue)

	if _, err := e.burstAndDrain(ctx, o, r, engineBurst, o.Duration); err != nil {
		return err
	}

	r.progress("%d sequential workflows, start to result, without and with eager start", engineSequential)
	plain := r.add(runClients(ctx, "end to end, 1 client", 1, drainLimit, engineSequential, func(ctx context.Context, _ int) error {
		return e.execute(ctx, false)
	}))
	eager := r.add(runClients(ctx, "end to end, 1 client, eager", 1, drainLimit, engineSequential, func(ctx context.Context, _ int) error {
		return e.execute(ctx, true)
	}))
	if err := ctx.Err(); err != nil {
		return err
	}
	r.fact("eager start", "p50 %s ms with, %s ms without; p99 %s ms with, %s ms without",
		millis(eager.latency.p50), millis(plain.latency.p50), millis(eager.latency.p99), millis(plain.latency.p99))

	r.progress("%d clients each running workflows to completion for %s, eager start", o.Concurrency, o.Duration)
	steady := r.add(runClients(ctx, fmt.Sprintf("end to end, %d clients, eager", o.Concurrency), o.Concurrency, o.Duration, 0,
		func(ctx context.Context, _ int) error { return e.execute(ctx, true) }))
	if err := ctx.Err(); err != nil {
		return err
	}
	r.fact("steady state", "%.0f workflows completed/s with %d clients", steady.rate(), o.Concurrency)
	return nil
}
