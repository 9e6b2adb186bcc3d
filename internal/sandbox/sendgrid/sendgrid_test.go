package sendgrid

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMailSendIsValidatedStrictly(t *testing.T) {
	srv := httptest.NewServer(New("SG.k"))
	defer srv.Close()
	const ok = `{"personalizations":[{"to":[{"email":"a@example.com"}]}],"from":{"email":"n@example.com"},"subject":"s",
		"content":[{"type":"text/plain","value":"t"},{"type":"text/html","value":"<p>h</p>"}]}`
	cases := []struct {
		name, key, ctype, body string
		want                   int
	}{
		{"valid", "SG.k", "application/json", ok, http.StatusAccepted},
		{"wrong key", "SG.x", "application/json", ok, http.StatusUnauthorized},
		{"not json content type", "SG.k", "text/plain", ok, http.StatusBadRequest},
		{"unknown field", "SG.k", "application/json", strings.Replace(ok, `"subject"`, `"subjekt"`, 1), http.StatusBadRequest},
		{"no recipients", "SG.k", "application/json", strings.Replace(ok, `{"email":"a@example.com"}`, ``, 1), http.StatusBadRequest},
		{"bad recipient", "SG.k", "application/json", strings.Replace(ok, `a@example.com`, `a example`, 1), http.StatusBadRequest},
		{"no from", "SG.k", "application/json", strings.Replace(ok, `"from":{"email":"n@example.com"},`, ``, 1), http.StatusBadRequest},
		{"no subject", "SG.k", "application/json", strings.Replace(ok, `"subject":"s",`, ``, 1), http.StatusBadRequest},
		{"html before text", "SG.k", "application/json", strings.Replace(ok, `{"type":"text/plain","value":"t"},{"type":"text/html","value":"<p>h</p>"}`, `{"type":"text/html","value":"<p>h</p>"},{"type":"text/plain","value":"t"}`, 1), http.StatusBadRequest},
		{"empty content", "SG.k", "application/json", strings.Replace(ok, `"value":"t"`, `"value":""`, 1), http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v3/mail/send", strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+c.key)
			req.Header.Set("Content-Type", c.ctype)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
			if c.want == http.StatusAccepted && resp.Header.Get("X-Message-Id") == "" {
				t.Fatal("202 without X-Message-Id")
			}
		})
	}
}
