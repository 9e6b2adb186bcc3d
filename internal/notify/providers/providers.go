// Package providers sends notifications through third parties: SendGrid for email (or the
// Postgres outbox when no SendGrid key is configured), Twilio for SMS and Firebase Cloud
// Messaging for push. Each provider's host is configurable so tests, the dev stack and the
// benchmarks talk to the local sandboxes in internal/sandbox.
//
// Errors tell the caller whether trying again can help: a 4xx from the provider is a
// permanent *Error (Retryable false), a 5xx, a 429 or a network failure a retryable one.
package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/impactflow/impactflow/internal/retryafter"
)

// Channels.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
	ChannelPush  = "push"
)

// Message is one message to one recipient, already rendered.
type Message struct {
	// Key is stable for this notification and recipient: it is the same on every attempt
	// of the send, so the outbox stores one row and the provider's events map back to it.
	Key            string            `json:"key"`
	TenantID       string            `json:"tenant_id"`
	NotificationID string            `json:"notification_id"`
	Channel        string            `json:"channel"`
	To             string            `json:"to"`
	Subject        string            `json:"subject,omitempty"`
	HTML           string            `json:"html,omitempty"`
	Text           string            `json:"text"`
	Data           map[string]string `json:"data,omitempty"`
}

// Result is what the provider answered.
type Result struct {
	Provider  string `json:"provider"`
	MessageID string `json:"message_id"`
	Status    string `json:"status"`
}

// Sender sends one message.
type Sender interface {
	Send(ctx context.Context, m Message) (Result, error)
}

// Error is a provider's refusal or failure.
type Error struct {
	Provider   string
	StatusCode int // 0 for a network failure
	Retryable  bool
	RetryAfter time.Duration
	Message    string
}

func (e *Error) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("%s: %s", e.Provider, e.Message)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Provider, e.StatusCode, e.Message)
}

// IsRetryable reports whether err may succeed when tried again. Errors that are not a
// provider *Error (a context deadline, a connection reset) are retryable.
func IsRetryable(err error) bool {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Retryable
	}
	return true
}

// statusError classifies an HTTP answer: 429 and 5xx are retryable, other 4xx are not.
func statusError(provider string, resp *http.Response, body []byte) *Error {
	return classify(provider, resp.StatusCode, resp.Header.Get("Retry-After"), body)
}

func classify(provider string, status int, retryAfter string, body []byte) *Error {
	msg := string(body)
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return &Error{Provider: provider, StatusCode: status, Message: msg,
		Retryable:  status == http.StatusTooManyRequests || status >= 500 || status == http.StatusRequestTimeout,
		RetryAfter: retryafter.Parse(retryAfter, time.Now())}
}

func networkError(provider string, err error) *Error {
	return &Error{Provider: provider, Retryable: true, Message: err.Error()}
}

// httpClient is the client every provider uses unless told otherwise: a send that hangs is
// cut off and retried by the activity's RetryPolicy.
func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: 15 * time.Second}
}

// Channels maps a channel to its sender.
type Channels map[string]Sender

// Send sends through the message's channel.
func (c Channels) Send(ctx context.Context, m Message) (Result, error) {
	s, ok := c[m.Channel]
	if !ok {
		return Result{}, &Error{Provider: m.Channel, Message: "no provider is configured for channel " + m.Channel}
	}
	return s.Send(ctx, m)
}
