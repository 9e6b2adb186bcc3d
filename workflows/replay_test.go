package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
)

// TestReplayRecordedHistories replays every history in testdata/replay against today's
// workflow code: a change that would break workflows already running fails here. The
// histories are recorded from real runs by the api package's integration tests
// (IMPACTFLOW_RECORD_REPLAY=1 go test ./api/).
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "replay", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/replay")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(ImportWorkflow)
			r.RegisterWorkflow(ReportWorkflow)
			r.RegisterWorkflow(BudgetWorkflow)
			r.RegisterWorkflow(DeliveryWorkflow)
			r.RegisterWorkflow(ReplayBatchWorkflow)
			r.RegisterWorkflow(NotificationWorkflow)
			r.RegisterWorkflow(EventTriggerWorkflow)
			r.RegisterWorkflow(ClickHouseSyncWorkflow)
			r.RegisterWorkflow(ClassifyWorkflow)
			r.RegisterWorkflow(PrivacyExportWorkflow)
			r.RegisterWorkflow(PrivacyEraseWorkflow)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replay %s: %v", file, err)
			}
		})
	}
}
