package connectors_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/impactflow/impactflow/internal/connectors"
	"github.com/impactflow/impactflow/internal/sandbox/partners"
)

func payload(t *testing.T, p connectors.Partner, protocol, ref string, hours float64) []byte {
	t.Helper()
	b, err := connectors.Map(p, protocol, connectors.ImpactSummary{
		DeliveryID: ref, TenantID: "acme", TenantName: "Acme", Currency: "USD",
		PeriodStart: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC),
		Programs: []connectors.ProgramImpact{{Code: "mentoring", Name: "Mentoring", VolunteerHours: hours, Participants: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func asError(t *testing.T, err error) *connectors.Error {
	t.Helper()
	var e *connectors.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a *connectors.Error", err)
	}
	return e
}

func client() *http.Client { return &http.Client{Timeout: 2 * time.Second} }

func TestBenevitySignatureRotationAndIdempotency(t *testing.T) {
	sb := partners.NewBenevity()
	srv := httptest.NewServer(sb)
	defer srv.Close()
	ctx := context.Background()
	sb.SetSecrets("acct-1", "old-secret")

	send := func(secret, key string, hours float64) (connectors.Receipt, error) {
		c, err := connectors.New(connectors.Benevity, connectors.Credentials{AccountID: "acct-1", SigningSecret: secret}, srv.URL, client())
		if err != nil {
			t.Fatal(err)
		}
		return c.Send(ctx, payload(t, connectors.Benevity, "", key, hours), key)
	}
	r1, err := send("old-secret", "d-1", 5)
	if err != nil || r1.Duplicate || r1.HTTPStatus != http.StatusCreated {
		t.Fatalf("first send: %+v %v", r1, err)
	}
	// Rotation: both secrets are accepted while the tenant moves to the new one.
	sb.SetSecrets("acct-1", "new-secret", "old-secret")
	if _, err := send("new-secret", "d-2", 5); err != nil {
		t.Fatalf("new secret during rotation: %v", err)
	}
	if _, err := send("old-secret", "d-3", 5); err != nil {
		t.Fatalf("old secret during rotation: %v", err)
	}
	sb.SetSecrets("acct-1", "new-secret")
	_, err = send("old-secret", "d-4", 5)
	if e := asError(t, err); e.HTTPStatus != http.StatusUnauthorized || e.Retryable || !strings.Contains(e.Message, "signature") {
		t.Fatalf("retired secret: %+v", e)
	}
	// Same key again: the partner answers with the first receipt, records nothing new.
	r2, err := send("new-secret", "d-1", 5)
	if err != nil || !r2.Duplicate || r2.ID != r1.ID {
		t.Fatalf("repeat: %+v %v (first %+v)", r2, err, r1)
	}
	if sb.Ledger.Count() != 3 || sb.Ledger.Accepted("d-1") != 1 {
		t.Fatalf("ledger: %d deliveries, d-1 accepted %d times", sb.Ledger.Count(), sb.Ledger.Accepted("d-1"))
	}
	// A validation error keeps the partner's message and is not retryable.
	_, err = send("new-secret", "d-5", -2)
	if e := asError(t, err); e.HTTPStatus != http.StatusUnprocessableEntity || e.Retryable || !strings.Contains(e.Message, "volunteerHours must not be negative") {
		t.Fatalf("422: %+v", e)
	}
	// A stale timestamp is refused.
	stale := &connectors.BenevityClient{BaseURL: srv.URL, AccountID: "acct-1", Secret: "new-secret", HTTP: client(),
		Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}
	_, err = stale.Send(ctx, payload(t, connectors.Benevity, "", "d-6", 1), "d-6")
	if e := asError(t, err); e.HTTPStatus != http.StatusUnauthorized || !strings.Contains(e.Message, "timestamp") {
		t.Fatalf("stale timestamp: %+v", e)
	}
}

func TestErrorClasses(t *testing.T) {
	sb := partners.NewBenevity()
	srv := httptest.NewServer(sb)
	defer srv.Close()
	sb.SetSecrets("a", "s")
	c, _ := connectors.New(connectors.Benevity, connectors.Credentials{AccountID: "a", SigningSecret: "s"}, srv.URL, &http.Client{Timeout: 300 * time.Millisecond})
	ctx := context.Background()

	sb.Faults.Burst(1, 7*time.Second)
	_, err := c.Send(ctx, payload(t, connectors.Benevity, "", "r-1", 1), "r-1")
	if e := asError(t, err); e.HTTPStatus != 429 || !e.Retryable || e.RetryAfter != 7*time.Second {
		t.Fatalf("429: %+v", e)
	}
	sb.Faults.Set(1, 0, 0, 0)
	_, err = c.Send(ctx, payload(t, connectors.Benevity, "", "r-1", 1), "r-1")
	if e := asError(t, err); e.HTTPStatus != 500 || !e.Retryable {
		t.Fatalf("500: %+v", e)
	}
	// A timeout after the partner recorded the delivery: retryable, and the retry with the
	// same key is answered with the recorded receipt.
	sb.Faults.Set(0, 1, 0, 0)
	_, err = c.Send(ctx, payload(t, connectors.Benevity, "", "r-1", 1), "r-1")
	if e := asError(t, err); e.Kind != "timeout" || !e.Retryable {
		t.Fatalf("timeout: %+v", e)
	}
	sb.Faults.Set(0, 0, 0, 0)
	r, err := c.Send(ctx, payload(t, connectors.Benevity, "", "r-1", 1), "r-1")
	if err != nil || !r.Duplicate || sb.Ledger.Accepted("r-1") != 1 {
		t.Fatalf("retry after timeout: %+v %v accepted=%d", r, err, sb.Ledger.Accepted("r-1"))
	}
	down, _ := connectors.New(connectors.Benevity, connectors.Credentials{AccountID: "a", SigningSecret: "s"}, "http://127.0.0.1:1", client())
	_, err = down.Send(ctx, []byte("{}"), "x")
	if e := asError(t, err); e.Kind != "network" || !e.Retryable {
		t.Fatalf("network: %+v", e)
	}
}

func TestGooderaTokenCacheRefreshAndRateLimit(t *testing.T) {
	sb := partners.NewGoodera(4, time.Minute)
	srv := httptest.NewServer(sb)
	defer srv.Close()
	sb.AddClient("cid", "csecret")
	ctx := context.Background()
	c, err := connectors.New(connectors.Goodera, connectors.Credentials{ClientID: "cid", ClientSecret: "csecret"}, srv.URL, client())
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"g-1", "g-2"} {
		if _, err := c.Send(ctx, payload(t, connectors.Goodera, "", ref, 2), ref); err != nil {
			t.Fatalf("send %s: %v", ref, err)
		}
	}
	if n := sb.TokensIssued(); n != 1 {
		t.Fatalf("tokens issued = %d, want 1 (cached)", n)
	}
	// A token the partner revoked: one 401, a new token, and the send succeeds.
	sb.ExpireTokensOnce()
	if _, err := c.Send(ctx, payload(t, connectors.Goodera, "", "g-3", 2), "g-3"); err != nil {
		t.Fatalf("send after token expiry: %v", err)
	}
	if n := sb.TokensIssued(); n != 2 {
		t.Fatalf("tokens issued = %d, want 2 (refreshed once on the 401)", n)
	}
	// The window is full (4 requests: g-3 took two, limit 4): 429 with Retry-After, retryable.
	_, err = c.Send(ctx, payload(t, connectors.Goodera, "", "g-4", 2), "g-4")
	if e := asError(t, err); e.HTTPStatus != 429 || !e.Retryable || e.RetryAfter <= 0 {
		t.Fatalf("rate limit: %+v", e)
	}

	bad, _ := connectors.New(connectors.Goodera, connectors.Credentials{ClientID: "cid", ClientSecret: "wrong"}, srv.URL, client())
	_, err = bad.Send(ctx, payload(t, connectors.Goodera, "", "g-5", 2), "g-5")
	if e := asError(t, err); e.Retryable || e.Kind != "unauthorized" || !strings.Contains(e.Message, "client authentication failed") {
		t.Fatalf("bad client: %+v", e)
	}
}

func TestGooderaShortLivedTokensAreRefreshedBeforeExpiry(t *testing.T) {
	sb := partners.NewGoodera(0, time.Minute)
	srv := httptest.NewServer(sb)
	defer srv.Close()
	sb.AddClient("cid", "cs")
	// Tokens live 59 s; the client replaces them a minute before expiry, so every send
	// fetches a fresh one rather than risk using one that expires in flight.
	sb.SetTokenTTL(59 * time.Second)
	c, _ := connectors.New(connectors.Goodera, connectors.Credentials{ClientID: "cid", ClientSecret: "cs"}, srv.URL, client())
	for _, ref := range []string{"s-1", "s-2"} {
		if _, err := c.Send(context.Background(), payload(t, connectors.Goodera, "", ref, 1), ref); err != nil {
			t.Fatal(err)
		}
	}
	if n := sb.TokensIssued(); n != 2 {
		t.Fatalf("tokens issued = %d, want 2", n)
	}
}

func TestWorkdaySOAPAndREST(t *testing.T) {
	sb := partners.NewWorkday()
	srv := httptest.NewServer(sb)
	defer srv.Close()
	sb.AddUser("acme_prod", "isu_impact", "p@ss<word>")
	sb.AddClient("acme_prod", "wd-client", "wd-secret")
	ctx := context.Background()

	soap, err := connectors.New(connectors.Workday, connectors.Credentials{Protocol: "soap", WorkdayTenant: "acme_prod", Username: "isu_impact", Password: "p@ss<word>"}, srv.URL, client())
	if err != nil {
		t.Fatal(err)
	}
	r, err := soap.Send(ctx, payload(t, connectors.Workday, "soap", "w-1", 4), "w-1")
	if err != nil || r.ID == "" {
		t.Fatalf("soap: %+v %v", r, err)
	}
	_, err = soap.Send(ctx, payload(t, connectors.Workday, "soap", "w-2", -4), "w-2")
	if e := asError(t, err); e.Retryable || e.Kind != "rejected" || !strings.Contains(e.Message, "SOAP fault SOAP-ENV:Client") || !strings.Contains(e.Message, "negative value") {
		t.Fatalf("soap validation fault: %+v", e)
	}
	wrong, _ := connectors.New(connectors.Workday, connectors.Credentials{Protocol: "soap", WorkdayTenant: "acme_prod", Username: "isu_impact", Password: "nope"}, srv.URL, client())
	_, err = wrong.Send(ctx, payload(t, connectors.Workday, "soap", "w-3", 4), "w-3")
	if e := asError(t, err); e.Retryable || e.Kind != "unauthorized" || !strings.Contains(e.Message, "FailedAuthentication") {
		t.Fatalf("soap auth fault: %+v", e)
	}
	sb.Faults.Set(1, 0, 0, 0)
	_, err = soap.Send(ctx, payload(t, connectors.Workday, "soap", "w-4", 4), "w-4")
	if e := asError(t, err); !e.Retryable || e.Kind != "server" {
		t.Fatalf("soap server fault: %+v", e)
	}
	sb.Faults.Set(0, 0, 0, 0)

	rest, _ := connectors.New(connectors.Workday, connectors.Credentials{Protocol: "rest", WorkdayTenant: "acme_prod", ClientID: "wd-client", ClientSecret: "wd-secret"}, srv.URL, client())
	if _, err := rest.Send(ctx, payload(t, connectors.Workday, "rest", "w-5", 4), "w-5"); err != nil {
		t.Fatalf("rest: %v", err)
	}
	sb.ExpireTokensOnce()
	if _, err := rest.Send(ctx, payload(t, connectors.Workday, "rest", "w-6", 4), "w-6"); err != nil {
		t.Fatalf("rest after expiry: %v", err)
	}
	if sb.Ledger.Count() != 3 {
		t.Fatalf("ledger count = %d, want 3", sb.Ledger.Count())
	}
}

func TestParseSOAPFault(t *testing.T) {
	f, ok := connectors.ParseSOAPFault([]byte(`<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><e:Fault><faultcode>e:Client</faultcode><faultstring>Validation error occurred.</faultstring><detail><x:V xmlns:x="u"><x:M>Program_ID unknown</x:M></x:V></detail></e:Fault></e:Body></e:Envelope>`))
	if !ok || f.Code != "e:Client" || f.Detail != "Program_ID unknown" {
		t.Fatalf("fault = %+v ok=%v", f, ok)
	}
	if _, ok := connectors.ParseSOAPFault([]byte(`<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>`)); ok {
		t.Fatal("found a fault in an empty body")
	}
}
