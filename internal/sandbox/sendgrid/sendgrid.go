// Package sendgrid is a sandbox of SendGrid's v3 mail/send API: a local HTTP server that
// checks requests the way SendGrid does (API key, JSON shape, recipients, content order)
// and records accepted messages. It is a test double for SendGrid's servers, used by tests,
// the dev stack and the benchmarks; it can inject failures.
package sendgrid

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/impactflow/impactflow/internal/sandbox"
)

// maxBody is SendGrid's limit on a mail/send request.
const maxBody = 30 << 20

// Email is an address as mail/send takes it.
type Email struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Personalization is one envelope of a mail/send request.
type Personalization struct {
	To                  []Email           `json:"to"`
	CC                  []Email           `json:"cc,omitempty"`
	BCC                 []Email           `json:"bcc,omitempty"`
	From                *Email            `json:"from,omitempty"`
	Subject             string            `json:"subject,omitempty"`
	Headers             map[string]string `json:"headers,omitempty"`
	Substitutions       map[string]string `json:"substitutions,omitempty"`
	DynamicTemplateData map[string]any    `json:"dynamic_template_data,omitempty"`
	CustomArgs          map[string]string `json:"custom_args,omitempty"`
	SendAt              int64             `json:"send_at,omitempty"`
}

// Content is one MIME part.
type Content struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Mail is a mail/send request body; unknown fields are refused.
type Mail struct {
	Personalizations []Personalization `json:"personalizations"`
	From             *Email            `json:"from"`
	ReplyTo          *Email            `json:"reply_to,omitempty"`
	ReplyToList      []Email           `json:"reply_to_list,omitempty"`
	Subject          string            `json:"subject,omitempty"`
	Content          []Content         `json:"content,omitempty"`
	Attachments      []json.RawMessage `json:"attachments,omitempty"`
	TemplateID       string            `json:"template_id,omitempty"`
	Sections         map[string]string `json:"sections,omitempty"`
	Headers          map[string]string `json:"headers,omitempty"`
	Categories       []string          `json:"categories,omitempty"`
	CustomArgs       map[string]string `json:"custom_args,omitempty"`
	SendAt           int64             `json:"send_at,omitempty"`
	BatchID          string            `json:"batch_id,omitempty"`
	ASM              json.RawMessage   `json:"asm,omitempty"`
	IPPoolName       string            `json:"ip_pool_name,omitempty"`
	MailSettings     json.RawMessage   `json:"mail_settings,omitempty"`
	TrackingSettings json.RawMessage   `json:"tracking_settings,omitempty"`
}

// Accepted is a message the sandbox accepted, with the ID it answered.
type Accepted struct {
	MessageID string
	Mail      Mail
}

// Server is the sandbox.
type Server struct {
	apiKey   string
	failures sandbox.Failures

	mu       sync.Mutex
	accepted []Accepted
	requests atomic.Int64
}

// New returns a sandbox that accepts apiKey.
func New(apiKey string) *Server { return &Server{apiKey: apiKey} }

// FailNext makes the next len(statuses) valid requests answer these statuses instead.
func (s *Server) FailNext(statuses ...int) {
	s.failures.Add(statuses...)
}

// Accepted returns the messages accepted so far.
func (s *Server) Accepted() []Accepted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Accepted(nil), s.accepted...)
}

// Requests is how many requests reached the sandbox.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Reset forgets accepted messages and pending failures.
func (s *Server) Reset() {
	s.mu.Lock()
	s.accepted = nil
	s.mu.Unlock()
	s.failures.Reset()
}

// APIError is one entry of SendGrid's error answer.
type APIError struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}

func reply(w http.ResponseWriter, status int, errs ...APIError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": errs})
}

func fieldErr(field, format string, args ...any) APIError {
	f := field
	return APIError{Message: fmt.Sprintf(format, args...), Field: &f}
}

// ServeHTTP answers POST /v3/mail/send.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.URL.Path != "/v3/mail/send" {
		reply(w, http.StatusNotFound, APIError{Message: "resource not found"})
		return
	}
	if r.Method != http.MethodPost {
		reply(w, http.StatusMethodNotAllowed, APIError{Message: "method not allowed"})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.apiKey || s.apiKey == "" {
		reply(w, http.StatusUnauthorized, APIError{Message: "The provided authorization grant is invalid, expired, or revoked"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		reply(w, http.StatusBadRequest, APIError{Message: "Content-Type should be application/json."})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		reply(w, http.StatusBadRequest, APIError{Message: "could not read the body"})
		return
	}
	if len(body) > maxBody {
		reply(w, http.StatusRequestEntityTooLarge, APIError{Message: "The JSON payload cannot be larger than 30MB."})
		return
	}
	var m Mail
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		reply(w, http.StatusBadRequest, APIError{Message: "Bad Request: " + err.Error()})
		return
	}
	if errs := Validate(m); len(errs) > 0 {
		reply(w, http.StatusBadRequest, errs...)
		return
	}
	if status, ok := s.failures.Next(); ok {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		reply(w, status, APIError{Message: "injected failure"})
		return
	}
	id := messageID()
	s.mu.Lock()
	s.accepted = append(s.accepted, Accepted{MessageID: id, Mail: m})
	s.mu.Unlock()
	w.Header().Set("X-Message-Id", id)
	w.WriteHeader(http.StatusAccepted)
}

// Validate applies mail/send's rules to a decoded request.
func Validate(m Mail) []APIError {
	var errs []APIError
	if len(m.Personalizations) == 0 {
		errs = append(errs, fieldErr("personalizations", "The personalizations field is required and must have at least one personalization."))
	}
	if len(m.Personalizations) > 1000 {
		errs = append(errs, fieldErr("personalizations", "You may not have more than 1000 personalizations per API request."))
	}
	recipients := 0
	for i, p := range m.Personalizations {
		if len(p.To) == 0 {
			errs = append(errs, fieldErr(fmt.Sprintf("personalizations.%d.to", i), "The to array is required for all personalization objects, and must have at least one email object with a valid email address."))
		}
		for j, group := range [][]Email{p.To, p.CC, p.BCC} {
			for k, e := range group {
				recipients++
				if !validAddress(e.Email) {
					errs = append(errs, fieldErr(fmt.Sprintf("personalizations.%d.%s.%d.email", i, []string{"to", "cc", "bcc"}[j], k), "Does not contain a valid address."))
				}
			}
		}
		if m.Subject == "" && p.Subject == "" && m.TemplateID == "" {
			errs = append(errs, fieldErr("subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."))
		}
	}
	if recipients > 1000 {
		errs = append(errs, fieldErr("personalizations", "The total number of recipients cannot exceed 1000."))
	}
	if m.From == nil || !validAddress(m.From.Email) {
		errs = append(errs, fieldErr("from.email", "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter."))
	}
	if len(m.Content) == 0 && m.TemplateID == "" {
		errs = append(errs, fieldErr("content", "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block."))
	}
	for i, c := range m.Content {
		if c.Type == "" || c.Value == "" {
			errs = append(errs, fieldErr(fmt.Sprintf("content.%d", i), "The content value must be a string at least one character in length."))
		}
		if c.Type == "text/plain" && i != 0 {
			errs = append(errs, fieldErr(fmt.Sprintf("content.%d.type", i), "If present, text/plain content must be first, followed by text/html, followed by any other content."))
		}
		if c.Type == "text/html" && i > 1 {
			errs = append(errs, fieldErr(fmt.Sprintf("content.%d.type", i), "If present, text/plain and text/html may only be provided once."))
		}
	}
	if len(m.Categories) > 10 {
		errs = append(errs, fieldErr("categories", "You cannot have more than 10 categories per request."))
	}
	size := 0
	for k, v := range m.CustomArgs {
		size += len(k) + len(v)
	}
	if size > 10000 {
		errs = append(errs, fieldErr("custom_args", "The total size of your custom args cannot exceed 10,000 bytes."))
	}
	return errs
}

func validAddress(s string) bool {
	if s == "" || strings.ContainsAny(s, " <>") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

func messageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:22]
}
