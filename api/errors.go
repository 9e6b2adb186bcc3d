package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
)

// apiError is an error with the HTTP status and code the client sees.
type apiError struct {
	Status  int
	Code    string
	Message string
	Details any
}

func (e *apiError) Error() string { return e.Message }

func badRequest(field, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Message: fmt.Sprintf(format, args...),
		Details: map[string]string{"field": field}}
}

type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Details   any    `json:"details,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// fail answers with the error envelope. It is the one place errors are logged: a 5xx at
// error level with the cause, the rest not at all (the access log has them).
func (s *Server) fail(c *gin.Context, err error) {
	e := s.classify(err)
	if e.Status >= 500 {
		level := slog.LevelError
		if e.Status == http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
		s.log.Log(c.Request.Context(), level, "request failed", "request_id", requestID(c),
			"route", c.FullPath(), "status", e.Status, "err", err)
	}
	if e.Status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "5")
	}
	c.AbortWithStatusJSON(e.Status, errorBody{Error: errorPayload{Code: e.Code, Message: e.Message, Details: e.Details, RequestID: requestID(c)}})
}

func (s *Server) classify(err error) *apiError {
	var ae *apiError
	var maxBytes *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &maxBytes):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("the request body is larger than %d bytes", maxBytes.Limit)}
	case errors.Is(err, jobs.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such resource"}
	case errors.Is(err, jobs.ErrBadResetPoint):
		return badRequest("event_id", "%s", err.Error())
	case errors.Is(err, jobs.ErrBadPageToken):
		return badRequest("page_token", "page_token is not a token this API issued")
	case errors.Is(err, jobs.ErrConflict), errors.Is(err, store.ErrConflict):
		return &apiError{Status: http.StatusConflict, Code: "conflict", Message: conflictMessage(err)}
	case temporalUnavailable(err):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "dependency_unavailable", Message: "Temporal is unavailable; nothing was lost, try again",
			Details: map[string]string{"dependency": "temporal"}}
	case store.IsUnavailable(err):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "dependency_unavailable", Message: "Postgres is unavailable; nothing was lost, try again",
			Details: map[string]string{"dependency": "postgres"}}
	case errors.Is(err, context.Canceled):
		return &apiError{Status: 499, Code: "client_closed_request", Message: "the client went away"}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error; it has been logged with the request ID"}
}

func conflictMessage(err error) string {
	msg := err.Error()
	for _, prefix := range []string{jobs.ErrConflict.Error() + ": ", store.ErrConflict.Error() + ": "} {
		if i := strings.Index(msg, prefix); i >= 0 {
			return msg[i+len(prefix):]
		}
	}
	return msg
}

func temporalUnavailable(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if st, ok := status.FromError(e); ok && (st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded) {
			return true
		}
	}
	return false
}
