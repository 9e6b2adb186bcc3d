package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// personalData are invented personal data and evidence text, each unique enough that a
// hit anywhere means it leaked there.
var personalData = []string{"Wilhelmina", "Okonkwo-Baptiste", "wilhelmina.ob@example.org", "7700 900461", "changed her whole week"}

// TestDevKeepsPersonalDataOutOfTemporal runs `impactflow dev` with its file-backed Temporal,
// runs an import, a report, a delivery and a notification carrying personal data, and then
// looks for that data where anyone with the files or the UI port would: Temporal's SQLite
// files (with their WAL) and the Temporal UI's JSON API. Payloads are encrypted, so none
// of it may be there.
func TestDevKeepsPersonalDataOutOfTemporal(t *testing.T) {
	stack := newDevStack(t, "privacy", privacyTestRedisDB)
	dataDir, api, ui := stack.dataDir, stack.api, stack.ui
	dev := startDev(t, stack.bin, stack.env)
	defer dev.interrupt(t)
	dev.waitReady(t, api)
	dev.waitFor(t, "is running")
	keyBytes, err := os.ReadFile(filepath.Join(dataDir, "dev-api-key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(keyBytes))
	dev.waitDemo(t, api, key)
	program := demoProgram(t)

	// Her record links the notification to her address to her, for the erasure.
	if status, b := request(t, http.MethodPost, api+"/v1/participants", key, "application/json", strings.NewReader(
		`[{"id":"p-privacy","full_name":"Wilhelmina Okonkwo-Baptiste","email":"wilhelmina.ob@example.org","phone":"+44 7700 900461"}]`)); status != http.StatusOK {
		t.Fatalf("POST participant: %d %s", status, b)
	}
	var ids []string
	start := func(path, contentType, body string) {
		t.Helper()
		status, b := request(t, http.MethodPost, api+path, key, contentType, strings.NewReader(body))
		var job struct{ ID string }
		if status != http.StatusAccepted || json.Unmarshal(b, &job) != nil || job.ID == "" {
			t.Fatalf("POST %s: %d %s", path, status, b)
		}
		ids = append(ids, job.ID)
	}
	start("/v1/impact-events", "application/x-ndjson", fmt.Sprintf(
		`{"event_id":"privacy-1","program":%q,"participant":"p-privacy","kind":"volunteer_hours","occurred_at":"2026-02-10T09:00:00Z","value":3,"attributes":{"contact":"wilhelmina.ob@example.org"}}`+"\n", program))
	start("/v1/evidence", "application/json", fmt.Sprintf(
		`[{"snippet_id":"privacy-s1","program":%q,"participant":"p-privacy","source":"interview","occurred_at":"2026-02-11T09:00:00Z",`+
			`"text":"Wilhelmina Okonkwo-Baptiste said mentoring changed her whole week; reach her at wilhelmina.ob@example.org or +44 7700 900461."}]`, program))
	for _, id := range ids {
		if j := waitJob(t, api, key, id); j["status"] != "completed" {
			t.Fatalf("import %s: %v", id, j)
		}
	}
	start("/v1/gen-reports/generate", "application/json", `{"period":{"from":"2026-01-01","to":"2026-03-31"},"locale":"en"}`)
	start("/v1/impact-in/deliveries", "application/json", `{"partner":"benevity","period_start":"2026-01-01","period_end":"2026-03-31"}`)
	start("/v1/notifications/send", "application/json",
		`{"channel":"email","to":["wilhelmina.ob@example.org"],"subject":"For Wilhelmina Okonkwo-Baptiste","body":"We will call you on +44 7700 900461."}`)
	for _, id := range ids[2:] {
		if j := waitJob(t, api, key, id); j["status"] != "completed" {
			t.Fatalf("job %s: %v", id, j)
		}
	}
	// The API, for its caller, still reads the histories.
	for _, id := range ids {
		get(t, api+"/v1/jobs/"+id+"/history", key)
	}

	// The UI decodes through the API's codec, with the browser's credentials.
	var settings struct {
		Codec struct {
			Endpoint           string
			IncludeCredentials bool
		}
	}
	if err := json.Unmarshal(get(t, ui+"/api/v1/settings", ""), &settings); err != nil ||
		settings.Codec.Endpoint != api+"/codec" || !settings.Codec.IncludeCredentials {
		t.Errorf("the UI's codec settings: %+v, %v", settings.Codec, err)
	}

	// The Temporal UI's JSON API, to anyone who reaches the port: the histories and the
	// workflow list with its memos and search attributes.
	uiPaths := []string{"/api/v1/namespaces/default/workflows?query=" + url.QueryEscape("TenantId = '"+demoTenantID+"'")}
	var notificationHistory []byte
	histories := map[string][]byte{}
	for _, id := range ids {
		uiPaths = append(uiPaths, "/api/v1/namespaces/default/workflows/"+url.PathEscape(id)+"/history?maximumPageSize=1000")
	}
	for _, p := range uiPaths {
		resp, err := http.Get(ui + p)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("UI %s: %d %s", p, resp.StatusCode, body.Bytes())
		}
		if leaks := leaksInJSON(body.Bytes()); len(leaks) > 0 {
			t.Errorf("the Temporal UI's %s shows %q", p, leaks)
		}
		if strings.Contains(p, ids[4]) {
			notificationHistory = body.Bytes()
		}
		for _, id := range ids {
			if strings.Contains(p, "/workflows/"+url.PathEscape(id)+"/") {
				histories[id] = body.Bytes()
			}
		}
	}
	checkOperatorDecodes(t, api, ui, key, notificationHistory)

	// The SQLite files, while the server runs (the WAL holds the recent writes) and after
	// it stopped.
	files := []string{"temporal.db", "temporal.db-wal", "temporal-visibility.db", "temporal-visibility.db-wal"}
	scanFiles := func(when string) {
		t.Helper()
		control := false
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dataDir, f))
			if err != nil {
				continue // a WAL is gone once checkpointed
			}
			if leaks := leaks(b); len(leaks) > 0 {
				t.Errorf("%s holds %q %s", f, leaks, when)
			}
			control = control || bytes.Contains(b, []byte(ids[2]))
		}
		if !control {
			t.Errorf("no file holds even the report's workflow ID %s: the scan looks in the wrong place", when)
		}
	}
	scanFiles("while the server runs")

	// Erasing her deletes the runs that carried her data: her imports, the report over her
	// evidence and the notification to her. Their encrypted payloads, which her tenant's
	// live key still opens, must then be in no file, the WAL included.
	var pieces [][]byte
	for _, id := range []string{ids[0], ids[1], ids[2], ids[4]} {
		pieces = append(pieces, ciphertextPieces(t, histories[id])...)
	}
	if len(pieces) == 0 {
		t.Fatal("no encrypted payload in the histories to look for")
	}
	inFiles := func() []string {
		var found []string
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dataDir, f))
			if err != nil {
				continue
			}
			for _, p := range pieces {
				if bytes.Contains(b, p) {
					found = append(found, f)
					break
				}
			}
		}
		return found
	}
	if len(inFiles()) == 0 {
		t.Fatal("before the erasure no file holds the runs' ciphertext: the search looks in the wrong place")
	}
	status, b := request(t, http.MethodPost, api+"/v1/privacy/participants/p-privacy/erase", key, "application/json",
		strings.NewReader(`{"reason":"her request"}`))
	var erase struct{ ID string }
	if status != http.StatusAccepted || json.Unmarshal(b, &erase) != nil {
		t.Fatalf("erase: %d %s", status, b)
	}
	if j := waitJob(t, api, key, erase.ID); j["status"] != "completed" {
		t.Fatalf("erase job: %v", j)
	}
	if found := inFiles(); len(found) > 0 {
		t.Errorf("after the erasure %s still hold the deleted runs' ciphertext", found)
	}
	dev.interrupt(t)
	scanFiles("after the server stopped")
	if found := inFiles(); len(found) > 0 {
		t.Errorf("after the erasure and a stop %s still hold the deleted runs' ciphertext", found)
	}
}

// ciphertextPieces returns, of each encrypted payload in a history as the UI's JSON API
// shows it, 32 bytes past the nonce: enough to find that payload's bytes in a file.
func ciphertextPieces(t *testing.T, history []byte) [][]byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(history, &doc); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if d, ok := v["data"].(string); ok {
				if _, hasMeta := v["metadata"]; hasMeta {
					if raw, err := base64.StdEncoding.DecodeString(d); err == nil && len(raw) >= 64 {
						out = append(out, raw[16:48])
					}
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return out
}

// checkOperatorDecodes does what the UI does in an operator's browser: sign in at the API,
// then decode the notification's input, from the UI's JSON history, through the codec with
// the session cookie and the UI's origin. Without the cookie the codec refuses.
func checkOperatorDecodes(t *testing.T, api, ui, key string, history []byte) {
	t.Helper()
	var h workflowservice.GetWorkflowExecutionHistoryResponse
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(history, &h); err != nil || len(h.GetHistory().GetEvents()) == 0 {
		t.Fatalf("the UI's history does not parse: %v", err)
	}
	input, _ := protojson.Marshal(h.History.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput())
	resp, err := http.PostForm(api+"/codec/signin", url.Values{"key": {key}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name != "" && c.HttpOnly && c.SameSite == http.SameSiteStrictMode {
			session = c
		}
	}
	if resp.StatusCode != http.StatusOK || session == nil {
		t.Fatalf("codec sign-in: %d %v", resp.StatusCode, resp.Cookies())
	}
	decode := func(withSession bool) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, api+"/codec/decode", bytes.NewReader(input))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", "default")
		req.Header.Set("Origin", ui)
		if withSession {
			req.AddCookie(session)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	if status, b := decode(true); status != http.StatusOK || !slices.Contains(leaksInJSON(b), "wilhelmina.ob@example.org") {
		t.Errorf("the operator's decode through the codec: %d %s", status, b)
	}
	if status, b := decode(false); status != http.StatusUnauthorized || len(leaksInJSON(b)) > 0 {
		t.Errorf("a decode without the session: %d %s", status, b)
	}
}

// privacyTestRedisDB is the Redis database TestDevKeepsPersonalDataOutOfTemporal empties and
// uses (TestDevRestartKeepsHistory has its own).
const privacyTestRedisDB = "11"

func demoProgram(t *testing.T) string {
	t.Helper()
	for _, p := range demoData().Programs {
		if p.TenantID == demoTenantID {
			return p.Code
		}
	}
	t.Fatal("the demo data set has no program for the demo tenant")
	return ""
}

// leaks returns the personal data found in b, whatever its case.
func leaks(b []byte) []string {
	lower := bytes.ToLower(b)
	var out []string
	for _, s := range personalData {
		if bytes.Contains(lower, []byte(strings.ToLower(s))) {
			out = append(out, s)
		}
	}
	return out
}

// leaksInJSON looks in a JSON document and in every base64 string in it: payload data is
// base64 in Temporal's JSON, so plaintext would not show in the raw body.
func leaksInJSON(b []byte) []string {
	found := map[string]bool{}
	for _, s := range leaks(b) {
		found[s] = true
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			if raw, err := base64.StdEncoding.DecodeString(v); err == nil {
				for _, s := range leaks(raw) {
					found[s] = true
				}
			}
		}
	}
	var doc any
	if json.Unmarshal(b, &doc) == nil {
		walk(doc)
	}
	var out []string
	for s := range found {
		out = append(out, s)
	}
	return out
}
