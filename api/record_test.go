package api_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// recordHistory writes the workflow's history to workflows/testdata/replay/<name>.json when
// IMPACTFLOW_RECORD_REPLAY=1, so that the replay tests there guard the recorded shape.
// Re-record only on purpose: a new recording replaces the history old workers produced.
func recordHistory(t *testing.T, workflowID, name string) {
	t.Helper()
	if os.Getenv("IMPACTFLOW_RECORD_REPLAY") != "1" {
		return
	}
	iter := env.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "workflows", "testdata", "replay", name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events to %s", len(h.Events), path)
}
