package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// refreshBefore is how long before its expiry a cached token is replaced.
const refreshBefore = time.Minute

// OAuthClient posts JSON with an OAuth 2.0 client-credentials bearer token: Goodera, and
// Workday's REST API. The token is cached and refreshed before it expires; a 401 throws it
// away and the request is tried once more with a new one.
type OAuthClient struct {
	Partner  Partner
	Endpoint string // where the payload is POSTed
	cfg      clientcredentials.Config
	http     *http.Client

	mu  sync.Mutex
	src oauth2.TokenSource
}

// NewOAuthClient returns a client for the partner's endpoint and token URL.
func NewOAuthClient(p Partner, endpoint, tokenURL, clientID, clientSecret string, hc *http.Client) *OAuthClient {
	c := &OAuthClient{Partner: p, Endpoint: endpoint, http: hc, cfg: clientcredentials.Config{
		ClientID: clientID, ClientSecret: clientSecret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader,
	}}
	c.src = c.newSource()
	return c
}

func (c *OAuthClient) newSource() oauth2.TokenSource {
	// The token source outlives any one request: its context only carries the HTTP client.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, c.http)
	return oauth2.ReuseTokenSourceWithExpiry(nil, c.cfg.TokenSource(ctx), refreshBefore)
}

func (c *OAuthClient) token(fresh bool) (*oauth2.Token, error) {
	c.mu.Lock()
	if fresh {
		c.src = c.newSource()
	}
	src := c.src
	c.mu.Unlock()
	tok, err := src.Token()
	if err == nil {
		return tok, nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		e := statusError(c.Partner, re.Response, re.ErrorDescription)
		if e.Message == "" || e.Message == http.StatusText(re.Response.StatusCode) {
			e.Message = "token request: " + jsonMessage(re.Body)
		}
		if re.Response.StatusCode == http.StatusBadRequest {
			// RFC 6749 answers a bad client with 400 invalid_client: not worth retrying.
			e.Kind = "unauthorized"
		}
		return nil, e
	}
	return nil, networkError(c.Partner, err)
}

// Send posts the payload, refreshing the token once on a 401.
func (c *OAuthClient) Send(ctx context.Context, payload []byte, idempotencyKey string) (Receipt, error) {
	for refreshed := false; ; refreshed = true {
		tok, err := c.token(refreshed)
		if err != nil {
			return Receipt{}, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint, bytes.NewReader(payload))
		if err != nil {
			return Receipt{}, &Error{Partner: c.Partner, Message: err.Error(), Kind: "rejected"}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idempotencyKey)
		tok.SetAuthHeader(req)
		resp, err := c.http.Do(req)
		if err != nil {
			return Receipt{}, networkError(c.Partner, err)
		}
		body := readBody(resp, maxErrorBody)
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && !refreshed {
			continue
		}
		if resp.StatusCode/100 != 2 {
			return Receipt{}, statusError(c.Partner, resp, jsonMessage(body))
		}
		var ok struct {
			ID        string `json:"id"`
			Duplicate bool   `json:"duplicate"`
		}
		if err := json.Unmarshal(body, &ok); err != nil || ok.ID == "" {
			return Receipt{}, &Error{Partner: c.Partner, HTTPStatus: resp.StatusCode, Message: "answer without an id", Retryable: true, Kind: "server"}
		}
		return Receipt{ID: ok.ID, HTTPStatus: resp.StatusCode, Duplicate: ok.Duplicate}, nil
	}
}
