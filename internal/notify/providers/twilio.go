package providers

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultTwilioHost is Twilio's REST API.
const DefaultTwilioHost = "https://api.twilio.com"

// Twilio sends SMS through Twilio's Messages API.
type Twilio struct {
	AccountSID string
	AuthToken  string
	From       string
	Host       string // DefaultTwilioHost when empty
	// StatusCallback, when set, is where Twilio posts delivery updates (our signed webhook).
	StatusCallback string
	HTTP           *http.Client
}

// Send creates a Message: a form-encoded POST with basic auth; Twilio answers 201 with the
// message resource.
func (t *Twilio) Send(ctx context.Context, m Message) (Result, error) {
	host := t.Host
	if host == "" {
		host = DefaultTwilioHost
	}
	form := url.Values{"To": {m.To}, "From": {t.From}, "Body": {m.Text}}
	if t.StatusCallback != "" {
		form.Set("StatusCallback", t.StatusCallback)
	}
	endpoint := strings.TrimRight(host, "/") + "/2010-04-01/Accounts/" + url.PathEscape(t.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Result{}, &Error{Provider: "twilio", Message: err.Error()}
	}
	req.SetBasicAuth(t.AccountSID, t.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := httpClient(t.HTTP).Do(req)
	if err != nil {
		return Result{}, networkError("twilio", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return Result{}, statusError("twilio", resp, body)
	}
	var out struct {
		SID    string `json:"sid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.SID == "" {
		return Result{}, &Error{Provider: "twilio", StatusCode: resp.StatusCode, Retryable: true, Message: "unreadable answer"}
	}
	return Result{Provider: "twilio", MessageID: out.SID, Status: out.Status}, nil
}
