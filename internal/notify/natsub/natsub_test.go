package natsub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/impactflow/impactflow/internal/events"
)

func TestDecode(t *testing.T) {
	ev, err := Decode([]byte(`{"id":"r-1","tenant_id":"acme","type":"reporting.generated","data":{"report_url":"https://x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != events.IDFor("acme", events.TypeReportGenerated, "r-1") || ev.Data["report_url"] != "https://x" {
		t.Fatalf("event %+v", ev)
	}
	for _, bad := range []string{`{"tenant_id":"acme","type":"reporting.generated"}`, `{"id":"x","type":"reporting.generated"}`,
		`{"id":"x","tenant_id":"acme","type":"nope"}`, `not json`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestSubscribeEmitsPublishedEvents(t *testing.T) {
	url := "nats://127.0.0.1:4222"
	pub, err := nats.Connect(url, nats.Timeout(time.Second))
	if err != nil {
		t.Skipf("no NATS at %s: %v", url, err)
	}
	defer pub.Close()
	subject := fmt.Sprintf("test.impactflow.events.%d.%d", os.Getpid(), time.Now().UnixNano())
	got := make(chan events.Event, 4)
	sub, err := Subscribe(url, subject, func(_ context.Context, ev events.Event) error { got <- ev; return nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	b, _ := json.Marshal(map[string]any{"id": "x-1", "tenant_id": "acme", "type": events.TypeSLOBreached})
	if err := pub.Publish(subject, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(subject, b); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.TenantID != "acme" || ev.Type != events.TypeSLOBreached {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event emitted")
	}
}
