package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestBindJSONMessages checks that a body of the wrong shape gets a 400 that names the
// field by its JSON path and says, in JSON terms, what was expected and what was sent.
func TestBindJSONMessages(t *testing.T) {
	type section struct {
		Title string `json:"title"`
	}
	type Embedded struct {
		Weight int `json:"weight"`
	}
	type shapes struct {
		Embedded
		Sections []section      `json:"sections"`
		Scores   map[string]int `json:"scores"`
		Blob     []byte         `json:"blob"`
		Count    uint8          `json:"count"`
	}
	for _, tc := range []struct {
		name    string
		into    any
		body    string
		field   string
		message string
	}{
		{"object given a string", &generateRequest{}, `{"period":"2026-Q1"}`, "period", "period must be an object, not a string"},
		{"array given an object", &generateRequest{}, `{"programs":{"mentoring":true}}`, "programs", "programs must be an array, not an object"},
		{"string given a number", &generateRequest{}, `{"locale":12}`, "locale", "locale must be a string, not a number"},
		{"array element given a number", &generateRequest{}, `{"sections":["summary","outcomes",3]}`, "sections[2]", "sections[2] must be a string, not a number"},
		{"integer given a float", &classifyRequest{}, `{"limit":2.5}`, "limit", "limit must be an integer, not 2.5"},
		{"integer given a string", &resetRequest{}, `{"event_id":"12"}`, "event_id", "event_id must be an integer, not a string"},
		{"integer out of range", &shapes{}, `{"count":300}`, "count", "count must be an integer from 0 to 255, not 300"},
		{"bool given a string", &bulkReplayRequest{}, `{"force":"yes"}`, "force", "force must be true or false, not a string"},
		{"optional bool given a number", &ruleRequest{}, `{"enabled":1}`, "enabled", "enabled must be true or false, not a number"},
		{"string given a bool", &createKeyRequest{}, `{"role":true}`, "role", "role must be a string, not true"},
		{"nested field", &generateRequest{}, `{"period":{"from":20260101}}`, "period.from", "period.from must be a string, not a number"},
		{"field of an array element", &shapes{}, `{"sections":[{"title":"a"},{},{"title":false}]}`, "sections[2].title", "sections[2].title must be a string, not false"},
		{"field of an embedded struct", &shapes{}, `{"weight":"heavy"}`, "weight", "weight must be an integer, not a string"},
		{"map value", &shapes{}, `{"scores":{"a":1,"b":"x"}}`, "scores.b", "scores.b must be an integer, not a string"},
		{"bytes given bad base64", &shapes{}, `{"blob":"not base64!"}`, "blob", "blob must be a base64 string"},
		{"map given a string", &sendRequest{}, `{"data":"x"}`, "data", "data must be an object, not a string"},
		{"time given a number", &sendRequest{}, `{"send_at":1767225600}`, "send_at", "send_at must be a string, not a number"},
		{"time given a bad string", &sendRequest{}, `{"send_at":"tomorrow"}`, "send_at", "send_at must be an RFC 3339 time such as 2026-03-01T09:00:00Z"},
		{"nested time given an object", &sendRequest{}, `{"channel":"email","recurrence":{"start_at":{}}}`, "recurrence.start_at", "recurrence.start_at must be a string, not an object"},
		{"key in another case", &classifyRequest{}, `{"LIMIT":"ten"}`, "limit", "limit must be an integer, not a string"},
		{"first bad value wins", &classifyRequest{}, `{"model":"m","limit":"ten","batch_size":"x"}`, "limit", "limit must be an integer, not a string"},
		{"body given an array", &sendRequest{}, `[{"channel":"email"}]`, "body", "the body must be an object, not an array"},
		{"unknown field", &classifyRequest{}, `{"limit":1,"colour":"red"}`, "colour", `unknown field "colour"`},
		{"unknown field in an object", &generateRequest{}, `{"period":{"from":"2026-01-01","frm":"2026-02-01"}}`, "period.frm", `unknown field "period.frm"`},
		{"unknown field in an array element", &shapes{}, `{"sections":[{"title":"a"},{"titel":"b"}]}`, "sections[1].titel", `unknown field "sections[1].titel"`},
		{"empty body", &classifyRequest{}, ``, "body", "a JSON body is required"},
		{"truncated body", &classifyRequest{}, `{"limit":`, "body", "the body is not valid JSON: it ends before the value is complete"},
		{"invalid JSON", &classifyRequest{}, `{"limit":}`, "body", "the body is not valid JSON (at byte 10)"},
		{"trailing data", &classifyRequest{}, `{} {}`, "body", "unexpected data after the JSON body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			err := bindJSON(c, tc.into)
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("%s: got %v, want an apiError", tc.body, err)
			}
			field := ae.Details.(map[string]string)["field"]
			if ae.Status != http.StatusBadRequest || ae.Code != "invalid_request" || field != tc.field || ae.Message != tc.message {
				t.Errorf("%s:\n got %d %s field %q: %q\nwant 400 invalid_request field %q: %q", tc.body, ae.Status, ae.Code, field, ae.Message, tc.field, tc.message)
			}
			for _, goName := range []string{"struct", "int64", "uint8", "[]", "map[", "time.Time", "Time.", "Unmarshal", "Embedded", "api.", "interface"} {
				if strings.Contains(ae.Message, goName) {
					t.Errorf("%s: message %q shows the Go name %q", tc.body, ae.Message, goName)
				}
			}
		})
	}
}

// TestBindJSONAcceptsWellShapedBodies keeps the search for a bad value from finding one
// where encoding/json found none.
func TestBindJSONAcceptsWellShapedBodies(t *testing.T) {
	var req sendRequest
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(
		`{"channel":"email","to":["a@example.org"],"data":{"n":1,"x":[true,null]},"send_at":"2026-03-01T09:00:00Z","recurrence":{"cron":"0 9 * * 1","start_at":null}}`))
	if err := bindJSON(c, &req); err != nil {
		t.Fatalf("bindJSON: %v", err)
	}
	if req.Channel != "email" || req.SendAt == nil || req.SendAt.Hour() != 9 || req.Recurrence == nil || req.Recurrence.Cron != "0 9 * * 1" {
		t.Errorf("decoded %+v", req)
	}
}
