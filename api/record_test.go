package api_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/temporal/codec"
)

// recordHistory writes the workflow's history to workflows/testdata/replay/encrypted/<name>.json
// when IMPACTFLOW_RECORD_REPLAY=1, so that the replay tests there guard the recorded shape.
// Re-record only on purpose: a new recording replaces the history old workers produced.
// The histories in workflows/testdata/replay itself are from before payloads were
// encrypted, and stay: workers must keep replaying them.
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
	if err := os.MkdirAll(recordDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(recordDir, name+".json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events to %s", len(h.Events), path)
}

// recordDir holds the recorded encrypted histories and keys.json, the test-only data keys
// they were encrypted with.
var recordDir = filepath.Join("..", "workflows", "testdata", "replay", "encrypted")

// recordedKeys are the data keys of a recording run; nil otherwise.
var recordedKeys *codec.StaticKeys

// payloadConverter is the harness's data converter: data keys in Postgres wrapped by a
// random test key ring, or, when recording, the committed test keys (new tenants get new
// ones, written back by saveRecordedKeys), so that the replay tests can decode what they
// replay.
func payloadConverter() (*codec.DataConverter, error) {
	if os.Getenv("IMPACTFLOW_RECORD_REPLAY") == "1" {
		keys, err := codec.LoadStaticKeys(filepath.Join(recordDir, "keys.json"))
		if errors.Is(err, fs.ErrNotExist) {
			keys, err = codec.NewStaticKeys(), nil
		}
		if err != nil {
			return nil, err
		}
		recordedKeys = keys
		return codec.NewDataConverter(keys), nil
	}
	box, err := secrets.Parse(secrets.NewKey())
	if err != nil {
		return nil, err
	}
	env.keyring = codec.NewKeyring(env.store, box)
	return codec.NewDataConverter(env.keyring), nil
}

func saveRecordedKeys() {
	if recordedKeys == nil {
		return
	}
	if err := recordedKeys.Save(filepath.Join(recordDir, "keys.json")); err != nil {
		fmt.Fprintln(os.Stderr, "save the recorded histories' keys:", err)
	}
}
