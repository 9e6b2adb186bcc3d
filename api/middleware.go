package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
)

const requestIDHeader = "X-Request-Id"

// withRequestID tags each request with an ID (the caller's, if it sent a sane one), echoed
// in the response and in every log line and error about the request.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(requestIDHeader)
		if len(id) == 0 || len(id) > 64 || !printable(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set("request_id", id)
		c.Header(requestIDHeader, id)
		c.Next()
	}
}

func requestID(c *gin.Context) string { return c.GetString("request_id") }

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// accessLog writes one structured line per request. It logs the route template, not the
// query string or headers, so keys and tokens never reach the log.
//
// The record is built with typed attributes and handed to the handler directly: through
// Logger.Log, boxing the attributes and capturing the caller's PC (which no handler here
// prints) made the line ~3.1 µs of CPU instead of ~2.3 µs, ~9% of the server's CPU for a
// cached status poll (pprof, bench job-status).
func (s *Server) accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		level := slog.LevelInfo
		if route == "/health/live" || route == "/health/ready" || route == "/metrics" {
			level = slog.LevelDebug
		}
		ctx, h := c.Request.Context(), s.log.Handler()
		if !h.Enabled(ctx, level) {
			return
		}
		now := time.Now()
		r := slog.NewRecord(now, level, "http request", 0)
		r.AddAttrs(slog.String("request_id", requestID(c)), slog.String("method", c.Request.Method), slog.String("route", route),
			slog.Int("status", c.Writer.Status()), slog.Float64("duration_ms", float64(now.Sub(start).Microseconds())/1000),
			slog.Int("bytes", c.Writer.Size()))
		if p, ok := principalOf(c); ok {
			r.AddAttrs(slog.String("tenant_id", p.TenantID), slog.String("key_prefix", p.Prefix))
		}
		_ = h.Handle(ctx, r)
	}
}

// recoverPanics turns a panic into a logged 500 with the error envelope.
func (s *Server) recoverPanics() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "request_id", requestID(c), "route", c.FullPath(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				c.AbortWithStatusJSON(http.StatusInternalServerError, errorBody{Error: errorPayload{
					Code: "internal", Message: "internal error; it has been logged with the request ID", RequestID: requestID(c)}})
			}
		}()
		c.Next()
	}
}

// limitBody caps the request body; reading past the cap fails with *http.MaxBytesError,
// which the error helper turns into a 413.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, errorBody{Error: errorPayload{
				Code: "body_too_large", Message: fmt.Sprintf("the request body is larger than %d bytes", n), RequestID: requestID(c)}})
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}
