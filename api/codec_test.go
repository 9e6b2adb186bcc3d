package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

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
	if env.keyring != nil {
		all, plain := historyPayloadsByPath(t, id)
		for _, p := range all {
			if k, err := env.keyring.ByID(context.Background(), codec.KeyID(p)); err != nil || k.Tenant != "acme" {
				t.Fatalf("a payload under key %s of tenant %q (%v)", codec.KeyID(p), k.Tenant, err)
			}
		}
		if len(plain) > 0 {
			t.Fatalf("plaintext payloads at %v", plain)
		}
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

// TestHistoriesUseTheirTenantsKey: every payload of a report's history (activities, local
// activities, side effects, version markers, the budget update) and of the tenant's budget
// workflow is encrypted with the report tenant's own key, so its operator decodes all of
// it and no other tenant's, nor the platform's, key is involved. Headers and search
// attributes are the only plaintext.
func TestHistoriesUseTheirTenantsKey(t *testing.T) {
	if env.keyring == nil {
		t.Skip("recording: the keys are the committed test keys")
	}
	const tenant = "codec-report"
	key := reportTenant(t, tenant)
	r := call(t, http.MethodPost, "/v1/gen-reports/generate", key, "application/json",
		strings.NewReader(`{"period":{"from":"2026-01-01","to":"2026-03-31"},"locale":"en"}`))
	if r.Status != http.StatusAccepted && r.Status != http.StatusOK {
		t.Fatalf("generate: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	if done := waitJob(t, id, key); done.Body["status"] != "completed" {
		t.Fatalf("report: %s", done.Raw)
	}
	for _, wf := range []string{id, "ai-budget-" + tenant} {
		payloads, plain := historyPayloadsByPath(t, wf)
		if len(plain) > 0 {
			t.Errorf("%s: plaintext payloads at %v", wf, plain)
		}
		for _, p := range payloads {
			k, err := env.keyring.ByID(context.Background(), codec.KeyID(p))
			if err != nil || k.Tenant != tenant {
				t.Fatalf("%s: a payload under key %s of tenant %q (%v)", wf, codec.KeyID(p), k.Tenant, err)
			}
		}
		body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
		if d := call(t, http.MethodPost, "/codec/decode", key, "application/json", bytes.NewReader(body)); d.Status != http.StatusOK {
			t.Errorf("%s: the tenant's admin decodes its history: %d %s", wf, d.Status, d.Raw)
		}
		if len(payloads) < 3 {
			t.Errorf("%s: only %d payloads found", wf, len(payloads))
		}
	}
}

// historyPayloadsByPath returns the encrypted payloads of the workflow's history, and the
// paths of the plaintext ones, headers and search attributes left out.
func historyPayloadsByPath(t *testing.T, id string) (encrypted []*commonpb.Payload, plain []string) {
	t.Helper()
	iter := env.temporal.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		walkPayloads(ev.ProtoReflect(), ev.GetEventType().String(), func(path string, p *commonpb.Payload) {
			if codec.IsEncrypted(p) {
				encrypted = append(encrypted, p)
			} else {
				plain = append(plain, path)
			}
		})
	}
	return encrypted, plain
}

func walkPayloads(m protoreflect.Message, path string, visit func(string, *commonpb.Payload)) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		visit(path, p)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		if name == "header" || name == "search_attributes" {
			return true
		}
		at := path + "." + name
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				walkPayloads(v.List().Get(i).Message(), at, visit)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				walkPayloads(mv.Message(), at+"["+k.String()+"]", visit)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			walkPayloads(v.Message(), at, visit)
		}
		return true
	})
}

// TestCodecRoundTripsAPayloadOfTwoMegabytes encodes and decodes through the endpoint a
// payload as large as Temporal admits (2 MB): the UI decodes histories that hold such
// payloads, and a request of them is larger than MaxBodyBytes.
func TestCodecRoundTripsAPayloadOfTwoMegabytes(t *testing.T) {
	key := env.keys["acme/operator"]
	data := bytes.Repeat([]byte("Invented evidence text of a large report. "), (2<<20)/42)
	plain, _ := json.Marshal(map[string]any{"payloads": []map[string]any{{
		"metadata": map[string]string{"encoding": base64.StdEncoding.EncodeToString([]byte("json/plain"))},
		"data":     base64.StdEncoding.EncodeToString(data),
	}}})
	enc := call(t, http.MethodPost, "/codec/encode", key, "application/json", bytes.NewReader(plain), "X-Namespace", "default")
	if enc.Status != http.StatusOK || strings.Contains(string(enc.Raw), base64.StdEncoding.EncodeToString(data[:300])) {
		t.Fatalf("encode of %d bytes: %d %.200s", len(data), enc.Status, enc.Raw)
	}
	dec := call(t, http.MethodPost, "/codec/decode", key, "application/json", bytes.NewReader(enc.Raw), "X-Namespace", "default")
	if dec.Status != http.StatusOK || decodedData(t, dec.Raw) != string(data) {
		t.Fatalf("decode: %d %.200s", dec.Status, dec.Raw)
	}
}
