// Package retryafter reads an HTTP Retry-After header. The partner connectors, the
// notification providers and the LLM client all honour it.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse reads delay-seconds or an HTTP date (RFC 9110 10.2.3), a date being counted from
// now. It is 0 when v is empty, unreadable, negative or a date not after now.
func Parse(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
