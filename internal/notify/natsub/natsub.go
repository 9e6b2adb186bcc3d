// Package natsub feeds platform events published on NATS into the notification triggers:
// each message on the subject is decoded and emitted (one EventTriggerWorkflow per event),
// exactly like POST /v1/events.
package natsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/impactflow/impactflow/internal/events"
)

// QueueGroup spreads the subject's messages over every worker process, each handled once.
const QueueGroup = "impactflow-notifications"

// message is what producers publish: the body of POST /v1/events plus the tenant.
type message struct {
	ID         string         `json:"id"`
	TenantID   string         `json:"tenant_id"`
	Type       string         `json:"type"`
	OccurredAt *time.Time     `json:"occurred_at"`
	Data       map[string]any `json:"data"`
}

// Decode turns a published message into an event; the event ID derives from the
// producer's id, so a message published twice is one event.
func Decode(b []byte) (events.Event, error) {
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return events.Event{}, fmt.Errorf("decode event: %w", err)
	}
	switch {
	case m.TenantID == "":
		return events.Event{}, errors.New("decode event: tenant_id is required")
	case !slices.Contains(events.Types, m.Type):
		return events.Event{}, fmt.Errorf("decode event: unknown type %q", m.Type)
	case m.ID == "":
		return events.Event{}, errors.New("decode event: id is required")
	}
	ev := events.Event{ID: events.IDFor(m.TenantID, m.Type, m.ID), TenantID: m.TenantID, Type: m.Type, OccurredAt: time.Now().UTC(), Data: m.Data}
	if m.OccurredAt != nil {
		ev.OccurredAt = m.OccurredAt.UTC()
	}
	return ev, nil
}

// Subscriber is a running subscription.
type Subscriber struct {
	conn *nats.Conn
}

// Subscribe connects to url and emits every event published on subject.
func Subscribe(url, subject string, emit func(context.Context, events.Event) error, log *slog.Logger) (*Subscriber, error) {
	conn, err := nats.Connect(url, nats.Name("impactflow notifications"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("NATS_URL: %w", err)
	}
	_, err = conn.QueueSubscribe(subject, QueueGroup, func(msg *nats.Msg) {
		ev, err := Decode(msg.Data)
		if err != nil {
			log.Warn("nats event refused", "subject", msg.Subject, "err", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := emit(ctx, ev); err != nil {
			log.Error("nats event not emitted", "tenant", ev.TenantID, "type", ev.Type, "event_id", ev.ID, "err", err)
		}
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	if err := conn.Flush(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	return &Subscriber{conn: conn}, nil
}

// Close drains the subscription.
func (s *Subscriber) Close() { _ = s.conn.Drain() }
