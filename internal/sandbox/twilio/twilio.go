// Package twilio is a sandbox of Twilio's Messages API (create a message): basic auth with
// the account SID and auth token, a form-encoded body, E.164 numbers, Twilio's error codes.
// It is a test double for Twilio's servers; it can inject failures.
package twilio

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/impactflow/impactflow/internal/sandbox"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// Message is a message the sandbox accepted.
type Message struct {
	SID            string
	To, From, Body string
	StatusCallback string
}

// Server is the sandbox for one account.
type Server struct {
	accountSID, authToken string
	failures              sandbox.Failures

	mu       sync.Mutex
	messages []Message
}

// New returns a sandbox for the account.
func New(accountSID, authToken string) *Server {
	return &Server{accountSID: accountSID, authToken: authToken}
}

// FailNext makes the next valid requests answer these statuses, in order.
func (s *Server) FailNext(statuses ...int) {
	s.failures.Add(statuses...)
}

// Messages returns the accepted messages.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

func fail(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code)})
}

// ServeHTTP answers POST /2010-04-01/Accounts/{sid}/Messages.json.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/2010-04-01/Accounts/")
	sid, rest, ok := strings.Cut(path, "/")
	if !ok || rest != "Messages.json" || path == r.URL.Path {
		fail(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	if r.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.accountSID || pass != s.authToken || sid != s.accountSID {
		fail(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		fail(w, http.StatusBadRequest, 20001, "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(w, http.StatusBadRequest, 20001, "malformed form body")
		return
	}
	f := r.PostForm
	switch {
	case f.Get("To") == "":
		fail(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case !e164.MatchString(f.Get("To")):
		fail(w, http.StatusBadRequest, 21211, "Invalid 'To' Phone Number: "+f.Get("To"))
		return
	case f.Get("From") == "" && f.Get("MessagingServiceSid") == "":
		fail(w, http.StatusBadRequest, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
		return
	case f.Get("From") != "" && !e164.MatchString(f.Get("From")):
		fail(w, http.StatusBadRequest, 21212, "Invalid 'From' Phone Number: "+f.Get("From"))
		return
	case f.Get("Body") == "" && f.Get("MediaUrl") == "":
		fail(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case len([]rune(f.Get("Body"))) > 1600:
		fail(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	if status, ok := s.failures.Next(); ok {
		fail(w, status, 20500, "injected failure")
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	m := Message{SID: "SM" + hex.EncodeToString(b), To: f.Get("To"), From: f.Get("From"), Body: f.Get("Body"), StatusCallback: f.Get("StatusCallback")}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	now := time.Now().UTC().Format(time.RFC1123Z)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sid": m.SID, "account_sid": s.accountSID, "to": m.To, "from": m.From, "body": m.Body,
		"status": "queued", "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
		"date_created": now, "date_updated": now, "uri": "/2010-04-01/Accounts/" + s.accountSID + "/Messages/" + m.SID + ".json",
	})
}
