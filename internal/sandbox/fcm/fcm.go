// Package fcm is a sandbox of Firebase Cloud Messaging's HTTP v1 send API and of Google's
// OAuth2 token endpoint for service accounts: the token endpoint checks the RS256-signed
// JWT assertion against the service account's key, and messages:send only accepts the
// access tokens it issued. It is a test double for Google's servers; it can inject failures.
package fcm

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/impactflow/impactflow/internal/sandbox"
)

// Scope is the scope a token must carry to send.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

// Message is a message the sandbox accepted.
type Message struct {
	Name         string
	Token        string
	Notification map[string]string
	Data         map[string]string
}

// Server is the sandbox for one project and service account.
type Server struct {
	ProjectID   string
	ClientEmail string
	key         *rsa.PrivateKey
	tokenURL    string
	failures    sandbox.Failures

	mu       sync.Mutex
	tokens   map[string]time.Time
	messages []Message
	issued   int
}

// New returns a sandbox with a fresh service-account key. tokenURL is the URL clients will
// post assertions to (the audience the JWT must name): the sandbox's base URL + "/token".
func New(projectID string) (*Server, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Server{ProjectID: projectID, ClientEmail: "impactflow@" + projectID + ".iam.gserviceaccount.com", key: key, tokens: map[string]time.Time{}}, nil
}

// SetBaseURL tells the sandbox where it is served, which fixes the token URL.
func (s *Server) SetBaseURL(base string) { s.tokenURL = strings.TrimRight(base, "/") + "/token" }

// ServiceAccountJSON is a service-account key file for this sandbox.
func (s *Server) ServiceAccountJSON() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(s.key)
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": s.ProjectID, "private_key_id": "sandbox",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": s.ClientEmail, "token_uri": s.tokenURL,
	})
	return b
}

// FailNext makes the next valid sends answer these statuses, in order.
func (s *Server) FailNext(statuses ...int) {
	s.failures.Add(statuses...)
}

// Messages returns the accepted messages.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// TokensIssued is how many access tokens the token endpoint issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

func googleError(w http.ResponseWriter, status int, state, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": state}})
}

// ServeHTTP serves POST /token and POST /v1/projects/{project}/messages:send.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/token" && r.Method == http.MethodPost:
		s.token(w, r)
	case r.URL.Path == "/v1/projects/"+s.ProjectID+"/messages:send" && r.Method == http.MethodPost:
		s.send(w, r)
	default:
		googleError(w, http.StatusNotFound, "NOT_FOUND", "not found")
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		oauthErr("invalid_request", "malformed form")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthErr("unsupported_grant_type", "Invalid grant_type")
		return
	}
	claims, ok := s.verify(r.PostForm.Get("assertion"))
	if !ok {
		oauthErr("invalid_grant", "Invalid JWT Signature.")
		return
	}
	now := time.Now().Unix()
	switch {
	case claims.Iss != s.ClientEmail:
		oauthErr("invalid_grant", "Invalid issuer")
		return
	case claims.Aud != s.tokenURL:
		oauthErr("invalid_grant", "Invalid JWT audience")
		return
	case claims.Exp < now || claims.Iat > now+60 || claims.Exp-claims.Iat > 3600:
		oauthErr("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
		return
	case !slices.Contains(strings.Fields(claims.Scope), Scope):
		oauthErr("invalid_scope", "the firebase.messaging scope is required")
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29.sandbox." + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = time.Now().Add(time.Hour)
	s.issued++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

type claims struct {
	Iss   string `json:"iss"`
	Aud   string `json:"aud"`
	Scope string `json:"scope"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// verify checks an RS256 JWT against the service account's public key.
func (s *Server) verify(assertion string) (claims, bool) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return claims{}, false
	}
	var header struct {
		Alg string `json:"alg"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &header) != nil || header.Alg != "RS256" {
		return claims{}, false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return claims{}, false
	}
	var c claims
	if json.Unmarshal(pb, &c) != nil {
		return claims{}, false
	}
	return c, true
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.tokens[tok]
	s.mu.Unlock()
	if !ok || !known || time.Now().After(exp) {
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
		return
	}
	var body struct {
		ValidateOnly bool `json:"validate_only"`
		Message      *struct {
			Token        string            `json:"token"`
			Topic        string            `json:"topic"`
			Condition    string            `json:"condition"`
			Notification map[string]string `json:"notification"`
			Data         map[string]string `json:"data"`
			Android      json.RawMessage   `json:"android"`
			APNS         json.RawMessage   `json:"apns"`
			Webpush      json.RawMessage   `json:"webpush"`
			FCMOptions   json.RawMessage   `json:"fcm_options"`
		} `json:"message"`
	}
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(http.MaxBytesReader(w, r.Body, 1<<20))
	dec := json.NewDecoder(&raw)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Message == nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	m := body.Message
	targets := 0
	for _, t := range []string{m.Token, m.Topic, m.Condition} {
		if t != "" {
			targets++
		}
	}
	if targets != 1 {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Exactly one of token, topic or condition must be set.")
		return
	}
	for k := range m.Notification {
		if k != "title" && k != "body" && k != "image" {
			googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \""+k+"\" at 'message.notification'.")
			return
		}
	}
	if strings.HasPrefix(m.Token, "unregistered") {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "Requested entity was not found.")
		return
	}
	if status, ok := s.failures.Next(); ok {
		googleError(w, status, "UNAVAILABLE", "injected failure")
		return
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "projects/" + s.ProjectID + "/messages/0:" + hex.EncodeToString(b)
	s.mu.Lock()
	s.messages = append(s.messages, Message{Name: name, Token: m.Token, Notification: m.Notification, Data: m.Data})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"name": name})
}
