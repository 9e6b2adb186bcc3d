package providers

import (
	"context"
)

// OutboxStore keeps messages that were not sent to a provider.
type OutboxStore interface {
	// PutOutbox stores m once per m.Key; storing the same key again changes nothing.
	PutOutbox(ctx context.Context, m Message) error
}

// Outbox "sends" email by storing it in Postgres, where GET /v1/notifications/:id shows
// it: what runs when SENDGRID_API_KEY is not set.
type Outbox struct {
	Store OutboxStore
}

// Send stores the message under its key.
func (o *Outbox) Send(ctx context.Context, m Message) (Result, error) {
	if err := o.Store.PutOutbox(ctx, m); err != nil {
		return Result{}, networkError("outbox", err)
	}
	return Result{Provider: "outbox", MessageID: "outbox-" + m.Key, Status: "stored"}, nil
}
