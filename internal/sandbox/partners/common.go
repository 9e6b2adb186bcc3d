// Package partners holds strict local sandboxes of the CSR partners' APIs (Benevity,
// Goodera, Workday): test doubles for someone else's servers, used by tests, by
// `impactflow dev` when no real partner URL is configured, and by the benchmark. Each
// checks what the real API checks (signatures, tokens, WS-Security, rate limits, payload
// validation), records every accepted delivery by idempotency key, and injects faults on
// request.
package partners

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults are what a sandbox does wrong on purpose. Rates are shares of requests in [0, 1].
type Faults struct {
	mu sync.Mutex
	// ErrorRate answers a 500 before processing.
	ErrorRate float64
	// TimeoutRate accepts and records the delivery, then never answers (the client times
	// out): the retry must not record it twice.
	TimeoutRate float64
	// SlowRate delays the answer by SlowDelay.
	SlowRate  float64
	SlowDelay time.Duration
	// Burst429 answers the next n requests with 429 and Retry-After RetryAfter.
	Burst429   int
	RetryAfter time.Duration
	rng        *mrand.Rand
}

// Set replaces the fault configuration (the zero Faults means none).
func (f *Faults) Set(errRate, timeoutRate, slowRate float64, slow time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ErrorRate, f.TimeoutRate, f.SlowRate, f.SlowDelay = errRate, timeoutRate, slowRate, slow
}

// Burst makes the next n requests answer 429 with Retry-After.
func (f *Faults) Burst(n int, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Burst429, f.RetryAfter = n, retryAfter
}

type fault int

const (
	faultNone fault = iota
	fault500
	faultTimeout
	fault429
)

func (f *Faults) draw() (fault, time.Duration, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rng == nil {
		var seed [16]byte
		_, _ = rand.Read(seed[:])
		f.rng = seeded(seed)
	}
	var slow time.Duration
	if f.SlowRate > 0 && f.rng.Float64() < f.SlowRate {
		slow = f.SlowDelay
	}
	if f.Burst429 > 0 {
		f.Burst429--
		return fault429, slow, f.RetryAfter
	}
	x := f.rng.Float64()
	switch {
	case x < f.ErrorRate:
		return fault500, slow, 0
	case x < f.ErrorRate+f.TimeoutRate:
		return faultTimeout, slow, 0
	}
	return faultNone, slow, 0
}

func seeded(seed [16]byte) *mrand.Rand {
	var a, b uint64
	for i := 0; i < 8; i++ {
		a = a<<8 | uint64(seed[i])
		b = b<<8 | uint64(seed[8+i])
	}
	return mrand.New(mrand.NewPCG(a, b))
}

// Delivery is one delivery a sandbox accepted.
type Delivery struct {
	IdempotencyKey string
	Reference      string // the delivery reference inside the payload
	Account        string // who sent it (account, client or user)
	ReceiptID      string
	Body           []byte
	At             time.Time
}

// Ledger records accepted deliveries by idempotency key, and counts how many times each
// payload reference was accepted as new: more than once means a duplicate at the partner.
type Ledger struct {
	mu         sync.Mutex
	byKey      map[string]*Delivery
	refs       map[string]int
	duplicates int // requests answered with an earlier receipt
}

// accept records the delivery, or returns the earlier one for the same key.
func (l *Ledger) accept(d Delivery) (Delivery, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byKey == nil {
		l.byKey, l.refs = map[string]*Delivery{}, map[string]int{}
	}
	if prev, ok := l.byKey[d.IdempotencyKey]; ok {
		l.duplicates++
		return *prev, true
	}
	d.ReceiptID = newID("rcpt")
	d.At = time.Now()
	l.byKey[d.IdempotencyKey] = &d
	l.refs[d.Reference]++
	return d, false
}

// acceptOrHang records the delivery like accept; under a timeout fault it then holds the
// request unanswered (see hang) and reports false, so the caller writes nothing.
func (l *Ledger) acceptOrHang(r *http.Request, d Delivery, f fault) (Delivery, bool, bool) {
	d, dup := l.accept(d)
	if f == faultTimeout {
		hang(r)
		return d, dup, false
	}
	return d, dup, true
}

// acceptJSON records the delivery and answers 201 with its receipt under idField, or 200
// with the earlier receipt for a replayed key; a timeout fault records it and never answers.
func (l *Ledger) acceptJSON(w http.ResponseWriter, r *http.Request, d Delivery, f fault, idField string) {
	d, dup, ok := l.acceptOrHang(r, d, f)
	if !ok {
		return
	}
	status := http.StatusCreated
	if dup {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{idField: d.ReceiptID, "duplicate": dup})
}

// idempotencyKey returns the request's Idempotency-Key, or answers 400 and returns "".
func idempotencyKey(w http.ResponseWriter, r *http.Request) string {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		jsonError(w, http.StatusBadRequest, "missing_idempotency_key", "Idempotency-Key header is required")
	}
	return key
}

// Count is how many distinct deliveries were accepted.
func (l *Ledger) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey)
}

// Get returns the delivery accepted under the key.
func (l *Ledger) Get(key string) (Delivery, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, ok := l.byKey[key]
	if !ok {
		return Delivery{}, false
	}
	return *d, true
}

// Accepted returns how many times a payload reference was accepted as a new delivery.
func (l *Ledger) Accepted(reference string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refs[reference]
}

// DuplicateRefs lists references accepted as new more than once.
func (l *Ledger) DuplicateRefs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for r, n := range l.refs {
		if n > 1 {
			out = append(out, r)
		}
	}
	return out
}

// Replays is how many requests were answered with an earlier receipt (same key).
func (l *Ledger) Replays() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.duplicates
}

func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// applyFault answers the request when the drawn fault says so and reports whether it did.
// A timeout fault is applied by the caller after recording (see hang).
func applyFault(w http.ResponseWriter, r *http.Request, f fault, slow, retryAfter time.Duration) bool {
	if slow > 0 {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return true
		}
	}
	switch f {
	case fault500:
		jsonError(w, http.StatusInternalServerError, "internal_error", "sandbox: injected server error")
		return true
	case fault429:
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
		jsonError(w, http.StatusTooManyRequests, "rate_limited", "sandbox: injected rate limit burst")
		return true
	}
	return false
}

// hang holds the request without answering until the client gives up (or a minute).
func hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// Server is a sandbox listening on a local port.
type Server struct {
	URL string
	srv *http.Server
}

// Serve listens on addr (127.0.0.1:0 for any free port) and serves h.
func Serve(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener closed under us; Close reports nothing more useful
		}
	}()
	return s, nil
}

// Close stops the server, cutting hanging requests.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

// tokens issues and checks OAuth 2.0 client-credentials bearer tokens with an expiry.
type tokens struct {
	mu      sync.Mutex
	clients map[string]string    // client ID → secret
	issued  map[string]tokenInfo // access token → info
	TTL     time.Duration
	expire  bool // the next API call finds its token expired (one-off)
	Issued  int  // tokens issued so far
}

type tokenInfo struct {
	client  string
	expires time.Time
}

func (t *tokens) addClient(id, secret string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clients == nil {
		t.clients, t.issued = map[string]string{}, map[string]tokenInfo{}
	}
	t.clients[id] = secret
}

// issue answers a token request (RFC 6749 §4.4, client authentication by HTTP Basic or form).
func (t *tokens) issue(w http.ResponseWriter, r *http.Request, scope string) {
	if r.Method != http.MethodPost {
		jsonError(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	id = scope + id
	t.mu.Lock()
	defer t.mu.Unlock()
	if want, known := t.clients[id]; !known || want != secret || secret == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	}
	ttl := t.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	tok := newID("tok")
	t.issued[tok] = tokenInfo{client: id, expires: time.Now().Add(ttl)}
	t.Issued++
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl / time.Second)})
}

// check validates the request's bearer token and returns its client.
func (t *tokens) check(r *http.Request) (string, string) {
	auth := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(auth) <= len(prefix) || auth[:len(prefix)] != prefix {
		return "", "missing bearer token"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.expire {
		t.expire = false
		clear(t.issued)
	}
	info, ok := t.issued[auth[len(prefix):]]
	switch {
	case !ok:
		return "", "unknown or revoked token"
	case time.Now().After(info.expires):
		return "", "token expired"
	}
	return info.client, ""
}

// ExpireOnce makes every token issued so far invalid at the next API call: the one-off 401
// a client must survive by fetching a new token.
func (t *tokens) expireOnce() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire = true
}

// window counts requests in a sliding window, answers 429 past the limit, and remembers
// the most it ever saw in one window.
type window struct {
	mu      sync.Mutex
	limit   int
	size    time.Duration
	times   []time.Time
	max     int
	limited int
}

// allow records a request at now and reports whether it is within the limit, and if not
// when the oldest request leaves the window.
func (w *window) allow(now time.Time) (bool, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cut := now.Add(-w.size)
	i := 0
	for i < len(w.times) && !w.times[i].After(cut) {
		i++
	}
	w.times = w.times[i:]
	if w.limit > 0 && len(w.times) >= w.limit {
		w.limited++
		return false, w.times[0].Sub(cut)
	}
	w.times = append(w.times, now)
	w.max = max(w.max, len(w.times))
	return true, 0
}

// FaultSettings is the body of POST /_sandbox/faults, the sandbox's own control endpoint
// (benchmarks and demos drive a sandbox in another process through it).
type FaultSettings struct {
	ErrorRate   float64 `json:"error_rate"`
	TimeoutRate float64 `json:"timeout_rate"`
	SlowRate    float64 `json:"slow_rate"`
	SlowMS      int     `json:"slow_ms"`
	Burst429    int     `json:"burst_429"`
	RetryAfterS int     `json:"retry_after_s"`
}

// LedgerStats is the answer of GET /_sandbox/stats.
type LedgerStats struct {
	Deliveries    int      `json:"deliveries"`
	Replays       int      `json:"replays"`
	DuplicateRefs []string `json:"duplicate_refs"`
}

// serveControl answers the sandbox's control endpoints and reports whether it did.
func serveControl(w http.ResponseWriter, r *http.Request, f *Faults, l *Ledger) bool {
	switch {
	case r.URL.Path == "/_sandbox/faults" && r.Method == http.MethodPost:
		var s FaultSettings
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil || s.ErrorRate < 0 || s.TimeoutRate < 0 || s.ErrorRate+s.TimeoutRate > 1 {
			jsonError(w, http.StatusBadRequest, "invalid_request", "want {error_rate, timeout_rate, slow_rate, slow_ms, burst_429, retry_after_s}")
			return true
		}
		f.Set(s.ErrorRate, s.TimeoutRate, s.SlowRate, time.Duration(s.SlowMS)*time.Millisecond)
		f.Burst(s.Burst429, time.Duration(s.RetryAfterS)*time.Second)
		writeJSON(w, http.StatusOK, s)
		return true
	case r.URL.Path == "/_sandbox/stats" && r.Method == http.MethodGet:
		dup := l.DuplicateRefs()
		if dup == nil {
			dup = []string{}
		}
		writeJSON(w, http.StatusOK, LedgerStats{Deliveries: l.Count(), Replays: l.Replays(), DuplicateRefs: dup})
		return true
	}
	return false
}
