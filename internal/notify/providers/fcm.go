package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"
)

// DefaultFCMHost is Firebase Cloud Messaging's HTTP v1 API.
const DefaultFCMHost = "https://fcm.googleapis.com"

// FCMScope is the OAuth2 scope FCM's HTTP v1 API requires.
const FCMScope = "https://www.googleapis.com/auth/firebase.messaging"

// ServiceAccount is the part of a Google service-account key file FCM needs.
type ServiceAccount struct {
	ProjectID    string `json:"project_id"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
}

// ParseServiceAccount reads a service-account key file's JSON.
func ParseServiceAccount(b []byte) (ServiceAccount, error) {
	var sa ServiceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return ServiceAccount{}, fmt.Errorf("service account: %w", err)
	}
	if sa.ClientEmail == "" || sa.PrivateKey == "" || sa.TokenURI == "" || sa.ProjectID == "" {
		return ServiceAccount{}, errors.New("service account: project_id, client_email, private_key and token_uri are required")
	}
	return sa, nil
}

// FCM sends push notifications through FCM HTTP v1, authenticated with an OAuth2 access
// token obtained from the service account (JWT bearer grant), cached until it expires.
type FCM struct {
	Account ServiceAccount
	Host    string // DefaultFCMHost when empty
	HTTP    *http.Client

	once   sync.Once
	tokens oauth2.TokenSource
}

// Send posts the message to projects/{project}/messages:send; m.To is the device token.
func (f *FCM) Send(ctx context.Context, m Message) (Result, error) {
	f.once.Do(func() {
		cfg := &jwt.Config{
			Email: f.Account.ClientEmail, PrivateKey: []byte(f.Account.PrivateKey), PrivateKeyID: f.Account.PrivateKeyID,
			Scopes: []string{FCMScope}, TokenURL: f.Account.TokenURI,
		}
		// The token source outlives this call's context: it is cached for the process.
		tctx := context.WithValue(context.Background(), oauth2.HTTPClient, httpClient(f.HTTP))
		f.tokens = oauth2.ReuseTokenSource(nil, cfg.TokenSource(tctx))
	})
	tok, err := f.tokens.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			e := statusError("fcm token", re.Response, re.Body)
			return Result{}, e
		}
		return Result{}, networkError("fcm token", err)
	}
	host := f.Host
	if host == "" {
		host = DefaultFCMHost
	}
	payload := map[string]any{"message": map[string]any{
		"token":        m.To,
		"notification": map[string]string{"title": m.Subject, "body": m.Text},
		"data":         withKey(m),
	}}
	body, _ := json.Marshal(payload)
	endpoint := strings.TrimRight(host, "/") + "/v1/projects/" + f.Account.ProjectID + "/messages:send"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return Result{}, &Error{Provider: "fcm", Message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	tok.SetAuthHeader(req)
	resp, err := httpClient(f.HTTP).Do(req)
	if err != nil {
		return Result{}, networkError("fcm", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return Result{}, statusError("fcm", resp, rb)
	}
	var out struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(rb, &out); err != nil || out.Name == "" {
		return Result{}, &Error{Provider: "fcm", StatusCode: resp.StatusCode, Retryable: true, Message: "unreadable answer"}
	}
	return Result{Provider: "fcm", MessageID: out.Name, Status: "sent"}, nil
}

func withKey(m Message) map[string]string {
	d := map[string]string{"impactflow_message_key": m.Key}
	for k, v := range m.Data {
		d[k] = v
	}
	return d
}
