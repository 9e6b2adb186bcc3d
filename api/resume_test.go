package api_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/impactflow/impactflow/activities/imports"
	"github.com/impactflow/impactflow/internal/ingest"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/workflows"
)

// TestImportResumesAfterWorkerDies stops a worker in the middle of an import and checks that
// another worker finishes it from the last committed chunk: every row lands exactly once and
// the chunks the first worker finished are not written again.
func TestImportResumesAfterWorkerDies(t *testing.T) {
	ctx := context.Background()
	const rows, chunkRows = 5000, 500 // 10 chunks
	id := jobs.NewID(jobs.KindImport)
	up, err := env.store.StageUpload(ctx, id, "acme", ingest.TargetEvents,
		ingest.NewSplitter(strings.NewReader(eventFile("resume", rows)), chunkRows))
	if err != nil {
		t.Fatal(err)
	}

	queue := "resume-test-" + id
	stuck := make(chan struct{})
	var once sync.Once
	first := worker.New(env.temporal, queue, worker.Options{WorkerStopTimeout: time.Second})
	first.RegisterWorkflow(workflows.ImportWorkflow)
	first.RegisterActivity(&imports.Activities{Store: env.store, OnChunkDone: func(ctx context.Context, seq int) {
		if seq == 3 { // the worker "dies" after committing chunk 3
			once.Do(func() { close(stuck) })
			<-ctx.Done()
		}
	}})
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := env.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue},
		workflows.ImportWorkflow, workflows.ImportInput{TenantID: "acme", JobID: id, Target: ingest.TargetEvents, Rows: up.Rows, Chunks: up.Chunks})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-stuck:
	case <-time.After(30 * time.Second):
		t.Fatal("the first worker never reached chunk 3")
	}
	first.Stop()
	died := time.Now()

	second := worker.New(env.temporal, queue, worker.Options{})
	second.RegisterWorkflow(workflows.ImportWorkflow)
	second.RegisterActivity(&imports.Activities{Store: env.store})
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer second.Stop()

	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var res workflows.ImportResult
	if err := run.Get(waitCtx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Rows != rows || res.Inserted != rows || res.Rejected != 0 {
		t.Fatalf("result = %+v", res)
	}
	var n, redone int
	if err := env.store.Pool().QueryRow(ctx, `SELECT count(*) FROM impact_events WHERE tenant_id = 'acme' AND event_id LIKE 'resume-%'`).Scan(&n); err != nil || n != rows {
		t.Fatalf("rows = %d (%v), want %d", n, err, rows)
	}
	if err := env.store.Pool().QueryRow(ctx, `SELECT count(*) FROM import_chunks WHERE job_id = $1 AND seq <= 3 AND done_at > $2`, id, died).Scan(&redone); err != nil || redone != 0 {
		t.Fatalf("%d of the first worker's chunks were written again (%v)", redone, err)
	}
}
