// Package connectors sends a tenant's impact data to the CSR platforms its employers use:
// Benevity (signed REST), Goodera (OAuth 2.0 REST) and Workday (WS-Security SOAP or OAuth
// 2.0 REST). Each connector maps impact data to the partner's schema (pure functions, see
// mapping.go) and sends it with a stable idempotency key; failures come back as *Error,
// classified retryable or not so that the activity can tell Temporal.
package connectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/impactflow/impactflow/internal/retryafter"
)

// Partner names a CSR platform.
type Partner string

// The partners.
const (
	Benevity Partner = "benevity"
	Goodera  Partner = "goodera"
	Workday  Partner = "workday"
)

// Partners lists every partner.
var Partners = []Partner{Benevity, Goodera, Workday}

// Valid reports whether p is a known partner.
func (p Partner) Valid() bool { return p == Benevity || p == Goodera || p == Workday }

// Workday protocols: the tenant's credentials pick one.
const (
	ProtocolSOAP = "soap"
	ProtocolREST = "rest"
)

// Credentials are a tenant's credentials for one partner. The partner's URL is the
// platform's (BENEVITY_URL, ...), never the tenant's: a tenant cannot point our workers at
// an address of its choosing. They are stored sealed
// (internal/secrets), loaded by the send activity, and never logged or put in a workflow
// payload. String hides every secret.
type Credentials struct {
	// Benevity: the account and its HMAC signing secret.
	AccountID     string `json:"account_id,omitempty"`
	SigningSecret string `json:"signing_secret,omitempty"`
	// Goodera and Workday REST: OAuth 2.0 client credentials.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Workday: protocol (soap | rest), the Workday tenant, and the SOAP integration user.
	Protocol      string `json:"protocol,omitempty"`
	WorkdayTenant string `json:"workday_tenant,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
}

// String hides the secrets.
func (c Credentials) String() string { return "connectors.Credentials{[redacted]}" }

// GoString hides the secrets from %#v.
func (c Credentials) GoString() string { return c.String() }

// Validate reports the first missing or malformed field for the partner, by its JSON name.
func (c Credentials) Validate(p Partner) (field string, err error) {
	need := func(name, v string) (string, error) {
		if strings.TrimSpace(v) == "" {
			return name, fmt.Errorf("%s is required for %s", name, p)
		}
		return "", nil
	}
	var checks [][2]string
	switch p {
	case Benevity:
		checks = [][2]string{{"account_id", c.AccountID}, {"signing_secret", c.SigningSecret}}
	case Goodera:
		checks = [][2]string{{"client_id", c.ClientID}, {"client_secret", c.ClientSecret}}
	case Workday:
		switch c.Protocol {
		case ProtocolSOAP:
			checks = [][2]string{{"workday_tenant", c.WorkdayTenant}, {"username", c.Username}, {"password", c.Password}}
		case ProtocolREST:
			checks = [][2]string{{"workday_tenant", c.WorkdayTenant}, {"client_id", c.ClientID}, {"client_secret", c.ClientSecret}}
		default:
			return "protocol", errors.New("protocol must be soap or rest for workday")
		}
	default:
		return "partner", fmt.Errorf("unknown partner %q", p)
	}
	for _, ch := range checks {
		if f, err := need(ch[0], ch[1]); err != nil {
			return f, err
		}
	}
	return "", nil
}

// Receipt is the partner's acknowledgement of a delivery.
type Receipt struct {
	ID         string `json:"id"`
	HTTPStatus int    `json:"http_status"`
	Duplicate  bool   `json:"duplicate"` // the partner had already accepted this idempotency key
}

// Sender sends one mapped payload to a partner.
type Sender interface {
	// Send delivers payload under idempotencyKey, which must stay the same across retries,
	// replays and resets so that the partner records the delivery once.
	Send(ctx context.Context, payload []byte, idempotencyKey string) (Receipt, error)
}

// Error is a failed send: the HTTP status (0 for a network error or timeout), the partner's
// own message, and whether trying again can help.
type Error struct {
	Partner    Partner
	HTTPStatus int
	Message    string
	Retryable  bool
	RetryAfter time.Duration // from a 429's Retry-After
	Kind       string        // network | timeout | server | rate_limited | rejected | unauthorized
}

// Error says which partner failed and how, with the partner's message.
func (e *Error) Error() string {
	if e.HTTPStatus == 0 {
		return fmt.Sprintf("%s: %s: %s", e.Partner, e.Kind, e.Message)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Partner, e.HTTPStatus, e.Message)
}

// networkError classifies a transport failure: always retryable.
func networkError(p Partner, err error) *Error {
	kind := "network"
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		kind = "timeout"
	}
	return &Error{Partner: p, Message: err.Error(), Retryable: true, Kind: kind}
}

// statusError classifies an HTTP answer that is not a success. msg is the partner's message.
func statusError(p Partner, resp *http.Response, msg string) *Error {
	e := &Error{Partner: p, HTTPStatus: resp.StatusCode, Message: msg}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		e.Retryable, e.Kind = true, "rate_limited"
		e.RetryAfter = retryafter.Parse(resp.Header.Get("Retry-After"), time.Now())
	case code == http.StatusRequestTimeout || code >= 500:
		e.Retryable, e.Kind = true, "server"
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Kind = "unauthorized"
	default:
		e.Kind = "rejected"
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// maxErrorBody bounds how much of an error response is read for the partner's message.
const maxErrorBody = 16 << 10

func readBody(resp *http.Response, limit int64) []byte {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	return b
}
