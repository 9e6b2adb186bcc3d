package partners

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Goodera is the Goodera sandbox: OAuth 2.0 client credentials at POST /oauth/token,
// deliveries at POST /api/v1/impact-data with the bearer token, and the partner's rate
// limit (100 requests a minute by default) on the API, answered with 429 and Retry-After.
type Goodera struct {
	Faults Faults
	Ledger Ledger
	tokens tokens
	rate   window
}

// NewGoodera returns a Goodera sandbox allowing limit API requests per window.
func NewGoodera(limit int, per time.Duration) *Goodera {
	g := &Goodera{rate: window{limit: limit, size: per}}
	g.tokens.TTL = time.Hour
	return g
}

// AddClient registers OAuth client credentials.
func (g *Goodera) AddClient(id, secret string) { g.tokens.addClient(id, secret) }

// SetTokenTTL sets the lifetime of the tokens issued from now on.
func (g *Goodera) SetTokenTTL(d time.Duration) {
	g.tokens.mu.Lock()
	defer g.tokens.mu.Unlock()
	g.tokens.TTL = d
}

// ExpireTokensOnce invalidates every token issued so far at the next API call (a one-off 401).
func (g *Goodera) ExpireTokensOnce() { g.tokens.expireOnce() }

// TokensIssued is how many tokens the sandbox has issued.
func (g *Goodera) TokensIssued() int {
	g.tokens.mu.Lock()
	defer g.tokens.mu.Unlock()
	return g.tokens.Issued
}

// RateStats returns the most API requests seen in one window and how many were refused
// with 429 for the rate limit.
func (g *Goodera) RateStats() (maxInWindow, limited int) {
	g.rate.mu.Lock()
	defer g.rate.mu.Unlock()
	return g.rate.max, g.rate.limited
}

// ServeHTTP serves Goodera's token endpoint and API, and the sandbox's control endpoints.
func (g *Goodera) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if serveControl(w, r, &g.Faults, &g.Ledger) {
		return
	}
	switch r.URL.Path {
	case "/oauth/token":
		g.tokens.issue(w, r, "")
		return
	case "/api/v1/impact-data":
	default:
		jsonError(w, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	if r.Method != http.MethodPost {
		jsonError(w, http.StatusMethodNotAllowed, "method_not_allowed", "POST only")
		return
	}
	if ok, wait := g.rate.allow(time.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		jsonError(w, http.StatusTooManyRequests, "rate_limited", "rate limit exceeded")
		return
	}
	f, slow, ra := g.Faults.draw()
	if applyFault(w, r, f, slow, ra) {
		return
	}
	client, msg := g.tokens.check(r)
	if msg != "" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		jsonError(w, http.StatusUnauthorized, "invalid_token", msg)
		return
	}
	key := idempotencyKey(w, r)
	if key == "" {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return
	}
	var sub struct {
		ExternalID  string `json:"external_id"`
		PeriodStart string `json:"period_start"`
		PeriodEnd   string `json:"period_end"`
		Metrics     []struct {
			Program string  `json:"program"`
			Metric  string  `json:"metric"`
			Value   float64 `json:"value"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(body, &sub); err != nil {
		jsonError(w, http.StatusBadRequest, "invalid_json", err.Error())
		return
	}
	if msg := gooderaValidate(sub.ExternalID, sub.PeriodStart, sub.PeriodEnd); msg != "" {
		jsonError(w, http.StatusUnprocessableEntity, "validation_failed", msg)
		return
	}
	for i, m := range sub.Metrics {
		switch m.Metric {
		case "volunteer_hours", "donations", "participants", "outcomes_measured":
		default:
			jsonError(w, http.StatusUnprocessableEntity, "validation_failed", fmt.Sprintf("metrics[%d].metric %q is not a Goodera metric", i, m.Metric))
			return
		}
		if m.Value < 0 {
			jsonError(w, http.StatusUnprocessableEntity, "validation_failed", fmt.Sprintf("metrics[%d] (%s of %s) must not be negative", i, m.Metric, m.Program))
			return
		}
	}
	g.Ledger.acceptJSON(w, r, Delivery{IdempotencyKey: key, Reference: sub.ExternalID, Account: client, Body: body}, f, "id")
}

func gooderaValidate(id, start, end string) string {
	if id == "" {
		return "external_id is required"
	}
	if msg := validPeriod(start, end); msg != "" {
		return "period: " + msg
	}
	return ""
}
