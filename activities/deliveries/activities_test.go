package deliveries

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/connectors"
)

func TestClassifyMapsPartnerErrorsToRetryPolicy(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		typ       string
		retryable bool
		delay     time.Duration
		status    int
	}{
		{"429 keeps Retry-After", &connectors.Error{Partner: "goodera", HTTPStatus: 429, Message: "slow down", Retryable: true, RetryAfter: 7 * time.Second, Kind: "rate_limited"},
			ErrTypeUnavailable, true, 7 * time.Second, 429},
		{"503", &connectors.Error{Partner: "workday", HTTPStatus: 503, Message: "down", Retryable: true, Kind: "server"}, ErrTypeUnavailable, true, 0, 503},
		{"timeout", fmt.Errorf("send: %w", &connectors.Error{Partner: "benevity", Message: "deadline", Retryable: true, Kind: "timeout"}), ErrTypeUnavailable, true, 0, 0},
		{"422", &connectors.Error{Partner: "benevity", HTTPStatus: 422, Message: "causes[0] bad", Kind: "rejected"}, ErrTypeRejected, false, 0, 422},
		{"401 after refresh", &connectors.Error{Partner: "goodera", HTTPStatus: 401, Message: "invalid_token", Kind: "unauthorized"}, ErrTypeUnauthorized, false, 0, 401},
		{"unexpected", errors.New("boom"), ErrTypeUnavailable, true, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(tc.err, AttemptFailure{Attempt: 3})
			var app *temporal.ApplicationError
			if !errors.As(err, &app) {
				t.Fatalf("not an application error: %v", err)
			}
			if app.Type() != tc.typ || app.NonRetryable() == tc.retryable || app.NextRetryDelay() != tc.delay {
				t.Fatalf("type %s nonRetryable %v delay %s", app.Type(), app.NonRetryable(), app.NextRetryDelay())
			}
			var f AttemptFailure
			if err := app.Details(&f); err != nil || f.HTTPStatus != tc.status || f.Attempt != 3 {
				t.Fatalf("details %+v %v", f, err)
			}
			if tc.status == 422 && app.Message() != "benevity: HTTP 422: causes[0] bad" {
				t.Fatalf("the partner's message is lost: %q", app.Message())
			}
		})
	}
}
