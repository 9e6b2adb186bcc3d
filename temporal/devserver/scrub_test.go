package devserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// TestScrubLeavesNoCopyOfDeletedRuns deletes runs whose input is a random string, scrubs,
// and looks for the string byte by byte in every file of the data directory.
func TestScrubLeavesNoCopyOfDeletedRuns(t *testing.T) {
	dir := t.TempDir()
	opts := Options{DataDir: dir, FrontendAddr: "127.0.0.1:0", Namespace: "scrub-test", Retention: 24 * time.Hour, Logger: testLogger(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startServer(t, opts)
	defer stopServer(t, s)
	c := dial(t, s, opts.Namespace)
	defer c.Close()
	w := startWorker(t, c)
	defer w.Stop()

	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	needle := "erase-me-" + hex.EncodeToString(raw)
	var ids []string
	for i := range 5 {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("scrub-%d", i), TaskQueue: testTaskQueue}, greetWorkflow, needle)
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, run.GetID())
	}
	if found := filesHolding(t, dir, needle); len(found) == 0 {
		t.Fatal("the runs' input is in no file of the data directory: the scan cannot see it")
	}

	for _, id := range ids {
		if _, err := c.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
			Namespace: opts.Namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		for {
			_, err := c.DescribeWorkflowExecution(ctx, id, "")
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s is still there: %v", id, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("after the deletion, before Scrub, the input is in %v", filesHolding(t, dir, needle))
	if err := s.Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	if found := filesHolding(t, dir, needle); len(found) > 0 {
		t.Errorf("after Scrub the deleted runs' input is still in %v", found)
	}
}

// filesHolding lists the files of dir whose bytes contain s.
func filesHolding(t *testing.T, dir, s string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !bytes.Contains(b, []byte(s)) {
			continue
		}
		out = append(out, e.Name())
	}
	return out
}
