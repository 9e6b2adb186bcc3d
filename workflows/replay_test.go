package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/impactflow/impactflow/temporal/codec"
)

// TestReplayRecordedHistories replays every history in testdata/replay against today's
// workflow code: a change that would break workflows already running fails here. The
// histories are recorded from real runs by the api package's integration tests
// (IMPACTFLOW_RECORD_REPLAY=1 go test ./api/). Those in testdata/replay/encrypted were
// recorded with encrypted payloads, with the test-only data keys in its keys.json; the
// others are from before encryption, in plaintext, which the codec must keep decoding.
func TestReplayRecordedHistories(t *testing.T) {
	plain, err := filepath.Glob(filepath.Join("testdata", "replay", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := filepath.Glob(filepath.Join("testdata", "replay", "encrypted", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range append(plain, encrypted...) {
		if filepath.Base(f) != "keys.json" {
			files = append(files, f)
		}
	}
	if len(plain) == 0 || len(files) == len(plain) {
		t.Fatal("no recorded histories in testdata/replay or testdata/replay/encrypted")
	}
	keys, err := codec.LoadStaticKeys(filepath.Join("testdata", "replay", "encrypted", "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	payloads := codec.NewDataConverter(keys)
	for _, file := range files {
		name := filepath.Base(file)
		if filepath.Base(filepath.Dir(file)) == "encrypted" {
			name = "encrypted/" + name
		}
		t.Run(name, func(t *testing.T) {
			if err := replay(payloads, file); err != nil {
				t.Fatalf("replay %s: %v", file, err)
			}
		})
	}
}

// TestReplayNeedsTheKeys guards the test above: an encrypted history does not replay
// without its data keys, so passing there means its payloads were decrypted.
func TestReplayNeedsTheKeys(t *testing.T) {
	file := filepath.Join("testdata", "replay", "encrypted", "notification.json")
	if err := replay(codec.NewDataConverter(codec.NewStaticKeys()), file); err == nil {
		t.Fatalf("%s replayed without its keys", file)
	}
}

func replay(payloads *codec.DataConverter, file string) error {
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
		DataConverter: payloads, ContextPropagators: payloads.ContextPropagators(),
	})
	if err != nil {
		return err
	}
	r.RegisterWorkflow(ImportWorkflow)
	r.RegisterWorkflow(ReportWorkflow)
	r.RegisterWorkflow(BudgetWorkflow)
	r.RegisterWorkflow(DeliveryWorkflow)
	r.RegisterWorkflow(ReplayBatchWorkflow)
	r.RegisterWorkflow(NotificationWorkflow)
	r.RegisterWorkflow(EventTriggerWorkflow)
	r.RegisterWorkflow(ClickHouseSyncWorkflow)
	r.RegisterWorkflow(ClassifyWorkflow)
	r.RegisterWorkflow(RetentionWorkflow)
	r.RegisterWorkflow(TenantRetentionWorkflow)
	r.RegisterWorkflow(PrivacyExportWorkflow)
	r.RegisterWorkflow(PrivacyEraseWorkflow)
	r.RegisterWorkflow(TenantDeletionWorkflow)
	return r.ReplayWorkflowHistoryFromJSONFile(nil, file)
}
