// Package openai is a sandbox of an OpenAI-compatible chat completions API: a local HTTP
// server for tests, the dev stack without a key, and benchmarks. It checks requests the way
// the real API does (Bearer key, JSON body with a model and messages), answers with scripted
// completions and usage figures, and can inject rate limits (429 with Retry-After), server
// errors and latency. It is a test double for the provider, never a writer of our own.
package openai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reply is one scripted answer.
type Reply struct {
	Status     int    // 0 or 200 for a completion
	RetryAfter string // Retry-After header of an error reply
	Message    string // error message of an error reply
	Content    string // completion text; empty means the default cited answer
}

// Server is the sandbox.
type Server struct {
	apiKey  string
	latency atomic.Int64

	mu      sync.Mutex
	script  []Reply
	prompts []string

	requests  atomic.Int64
	completed atomic.Int64
}

// New returns a sandbox that accepts apiKey.
func New(apiKey string) *Server { return &Server{apiKey: apiKey} }

// SetLatency makes every answer wait d first (0 answers at once).
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Enqueue scripts the next answers, in order; after them the default answer is given.
func (s *Server) Enqueue(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, r...)
}

// Requests is how many chat completion requests arrived.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Completed is how many requests were answered with a completion.
func (s *Server) Completed() int64 { return s.completed.Load() }

func (s *Server) next() (Reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) == 0 {
		return Reply{}, false
	}
	r := s.script[0]
	s.script = s.script[1:]
	return r, true
}

// maxPrompts bounds how many prompts the sandbox keeps for Prompts.
const maxPrompts = 1000

func (s *Server) record(prompt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.prompts) < maxPrompts {
		s.prompts = append(s.prompts, prompt)
	}
}

// Prompts returns the prompts received so far (the first 1000), so tests can check what
// left the process.
func (s *Server) Prompts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.prompts...)
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type request struct {
	Model          string    `json:"model"`
	Messages       []message `json:"messages"`
	MaxTokens      int       `json:"max_tokens"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

// ServeHTTP answers POST /v1/chat/completions (and /chat/completions).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" && r.URL.Path != "/chat/completions" {
		fail(w, http.StatusNotFound, "invalid_request_error", "unknown URL "+r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, "invalid_request_error", "use POST")
		return
	}
	s.requests.Add(1)
	if r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		fail(w, http.StatusUnauthorized, "invalid_request_error", "Incorrect API key provided.")
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "invalid_request_error", "We could not parse the JSON body of your request.")
		return
	}
	if req.Model == "" || len(req.Messages) == 0 {
		fail(w, http.StatusBadRequest, "invalid_request_error", "model and messages are required")
		return
	}
	if d := time.Duration(s.latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	var prompt strings.Builder
	for _, m := range req.Messages {
		prompt.WriteString(m.Content)
	}
	s.record(prompt.String())
	reply, _ := s.next()
	if reply.Status != 0 && reply.Status != http.StatusOK {
		if reply.RetryAfter != "" {
			w.Header().Set("Retry-After", reply.RetryAfter)
		}
		kind := "server_error"
		if reply.Status == http.StatusTooManyRequests {
			kind = "rate_limit_exceeded"
		} else if reply.Status < 500 {
			kind = "invalid_request_error"
		}
		msg := reply.Message
		if msg == "" {
			msg = http.StatusText(reply.Status)
		}
		fail(w, reply.Status, kind, msg)
		return
	}
	content := reply.Content
	if content == "" && req.ResponseFormat != nil && req.ResponseFormat.Type == "json_object" {
		content = defaultClassification(prompt.String())
	} else if content == "" {
		content = defaultAnswer(prompt.String())
	}
	s.completed.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id":      "chatcmpl-sandbox-" + strconv.FormatInt(s.completed.Load(), 10),
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   req.Model,
		"choices": []map[string]any{{
			"index": 0, "finish_reason": "stop",
			"message": map[string]string{"role": "assistant", "content": content},
		}},
		"usage": map[string]int{
			"prompt_tokens": tokens(prompt.String()), "completion_tokens": tokens(content),
			"total_tokens": tokens(prompt.String()) + tokens(content),
		},
	})
}

func tokens(s string) int { return len(s)/4 + 1 }

var reEvidence = regexp.MustCompile(`(?m)^- ([A-Za-z0-9][A-Za-z0-9._:\-]*) \(([a-z_]+)\): (.*)$`)

// defaultAnswer writes two paragraphs citing the first evidence items of the prompt.
func defaultAnswer(prompt string) string {
	ev := reEvidence.FindAllStringSubmatch(prompt, 3)
	if len(ev) == 0 {
		return "The period shows steady progress across the programs."
	}
	var paras []string
	for i, e := range ev {
		if i == 2 {
			break
		}
		text := []rune(e[3])
		if len(text) > 160 {
			text = text[:160]
		}
		paras = append(paras, fmt.Sprintf("Evidence from a %s supports this: %s [cite:%s]", e[2], strings.TrimSpace(string(text)), e[1]))
	}
	return strings.Join(paras, "\n\n")
}

// defaultClassification answers a JSON-mode request (the evidence classifier's) by
// labelling every listed snippet with confidence 0.75.
func defaultClassification(prompt string) string {
	type label struct {
		Dimension string  `json:"dimension"`
		Score     float64 `json:"score"`
	}
	type item struct {
		ID     string  `json:"id"`
		Labels []label `json:"labels"`
	}
	doc := struct {
		Items []item `json:"items"`
	}{Items: []item{}}
	for _, e := range reEvidence.FindAllStringSubmatch(prompt, -1) {
		doc.Items = append(doc.Items, item{ID: e[1], Labels: []label{{Dimension: "confidence", Score: 0.75}}})
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

func fail(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": kind, "param": nil, "code": nil}})
}
