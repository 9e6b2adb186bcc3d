package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/impactflow/impactflow/temporal/codec"
)

// testUIOrigin is the Temporal UI's origin the test API allows for the codec.
const testUIOrigin = "http://127.0.0.1:8233"

// TestCodecEndpoint: a notification's history holds its recipients only encrypted; the
// codec decodes them for an operator of the tenant, by key or by session cookie, and for
// nobody else.
func TestCodecEndpoint(t *testing.T) {
	const email = "zora.neale@example.com"
	key := env.keys["acme/operator"]
	r := postWithKey(t, "/v1/notifications/send", key, welcome(email), "")
	if r.Status != http.StatusAccepted {
		t.Fatalf("send: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	if done := waitJob(t, id, key); done.Body["status"] != "completed" {
		t.Fatalf("job: %s", done.Raw)
	}

	// The stored history: every payload encrypted, the address nowhere.
	var h historypb.History
	iter := env.temporal.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	raw, _ := proto.Marshal(&h)
	if bytes.Contains(raw, []byte("zora")) {
		t.Fatalf("history holds the recipient or no encrypted payload")
	}
	input := h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
	if len(input.GetPayloads()) == 0 || !codec.IsEncrypted(input.Payloads[0]) {
		t.Fatalf("input payload not encrypted: %v", input)
	}
	body, _ := protojson.Marshal(input)

	decode := func(key string, headers ...string) response {
		return call(t, http.MethodPost, "/codec/decode", key, "application/json", bytes.NewReader(body), append([]string{"X-Namespace", "default"}, headers...)...)
	}
	got := decode(key)
	if got.Status != http.StatusOK || !strings.Contains(decodedData(t, got.Raw), email) {
		t.Fatalf("decode by the tenant's operator: %d %s", got.Status, got.Raw)
	}
	if r := decode(env.keys["globex/operator"]); r.Status != http.StatusForbidden || strings.Contains(string(r.Raw), "zora") {
		t.Fatalf("another tenant's operator: %d %s", r.Status, r.Raw)
	}
	if r := decode(env.keys["acme/viewer"]); r.Status != http.StatusForbidden {
		t.Fatalf("a viewer: %d %s", r.Status, r.Raw)
	}
	if r := decode(""); r.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %d %s", r.Status, r.Raw)
	}
	if r := call(t, http.MethodPost, "/codec/decode", key, "application/json", bytes.NewReader(body), "X-Namespace", "other"); r.Status != http.StatusBadRequest {
		t.Fatalf("another namespace: %d", r.Status)
	}
	// Unencrypted payloads pass through; encode then decode is the identity.
	plain := []byte(`{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"IngiCg=="}]}`)
	if r := call(t, http.MethodPost, "/codec/decode", key, "application/json", bytes.NewReader(plain)); r.Status != http.StatusOK || !strings.Contains(string(r.Raw), "IngiCg==") {
		t.Fatalf("plaintext passthrough: %d %s", r.Status, r.Raw)
	}
	enc := call(t, http.MethodPost, "/codec/encode", key, "application/json", bytes.NewReader(plain))
	if enc.Status != http.StatusOK || !strings.Contains(string(enc.Raw), "encryption-key-id") {
		t.Fatalf("encode: %d %s", enc.Status, enc.Raw)
	}

	// The Temporal UI's preflight from its origin, and none for another origin.
	pre := call(t, http.MethodOptions, "/codec/decode", "", "", nil, "Origin", testUIOrigin,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,x-namespace")
	if pre.Status != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != testUIOrigin ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "X-Namespace") {
		t.Fatalf("preflight: %d %v", pre.Status, pre.Header)
	}
	if evil := call(t, http.MethodOptions, "/codec/decode", "", "", nil, "Origin", "http://evil.example"); evil.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin allowed: %v", evil.Header)
	}

	// Sign-in: a viewer is refused, an operator gets an HttpOnly SameSite=Strict cookie the
	// UI's credentialed fetch sends.
	if r := signIn(t, env.keys["acme/viewer"]); r.Status != http.StatusForbidden || len(r.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("viewer sign-in: %d", r.Status)
	}
	in := signIn(t, key)
	cookie := in.Header.Get("Set-Cookie")
	if in.Status != http.StatusOK || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") || strings.Contains(cookie, key) {
		t.Fatalf("sign-in: %d %q", in.Status, cookie)
	}
	session := strings.SplitN(cookie, ";", 2)[0]
	got = decode("", "Cookie", session, "Origin", testUIOrigin)
	if got.Status != http.StatusOK || !strings.Contains(decodedData(t, got.Raw), email) || got.Header.Get("Access-Control-Allow-Origin") != testUIOrigin {
		t.Fatalf("decode with the session: %d %s", got.Status, got.Raw)
	}
	if r := decode("", "Cookie", session, "Origin", "http://evil.example"); r.Status != http.StatusForbidden {
		t.Fatalf("session from another origin: %d", r.Status)
	}
	if r := decode("", "Cookie", session+"x"); r.Status != http.StatusUnauthorized {
		t.Fatalf("tampered session: %d", r.Status)
	}

	// The audit view keeps working over encrypted histories.
	if hist := getJSON(t, "/v1/jobs/"+id+"/history", env.keys["acme/viewer"]); hist.Status != http.StatusOK {
		t.Fatalf("history: %d %s", hist.Status, hist.Raw)
	}
}

func signIn(t *testing.T, key string) response {
	t.Helper()
	form := url.Values{"key": {key}}.Encode()
	return call(t, http.MethodPost, "/codec/signin", "", "application/x-www-form-urlencoded", strings.NewReader(form))
}

// decodedData is the decoded payloads' data, concatenated.
func decodedData(t *testing.T, raw []byte) string {
	t.Helper()
	var out commonpb.Payloads
	if err := protojson.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode answer %s: %v", raw, err)
	}
	var b strings.Builder
	for _, p := range out.Payloads {
		if codec.IsEncrypted(p) {
			t.Fatalf("payload still encrypted")
		}
		b.Write(p.Data)
	}
	return b.String()
}
