package ingest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var scanRows = []string{
	`{"event_id":"e1","program":"mentoring","participant":"p-1","kind":"volunteer_hours","occurred_at":"2026-03-01T10:00:00Z","value":2.5,"attributes":{"location":"Madrid"}}`,
	`{"event_id":"e1","program":"m","participant":"p","kind":"signup","occurred_at":"2026-03-01T10:00:00Z","value":1}`,
	`{}`,
	` { "event_id" : "e1" , "value" : -0.5e+3 , "attributes" : null } `,
	`{"event_id":"e1","event_id":"e2"}`,
	`{"event_id":"e1","event_id":null}`,
	`{"event_id":null}`,
	`{"Event_ID":"e1"}`,
	`{"event_id":"e\u00e9"}`,
	`{"event_id":"é"}`,
	`{"event_id":"a\"b"}`,
	`{"event_id":7}`,
	`{"colour":"red"}`,
	`{"value":"2.5"}`,
	`{"value":null}`,
	`{"value":01}`,
	`{"value":1.}`,
	`{"value":true}`,
	`{"attributes":[1]}`,
	`{"attributes":"x"}`,
	`{"attributes":{"a":{"b":[1,{"c":"}"}]},"d":"\"{"}}`,
	`{"attributes":{}}`,
	`{"attributes":{"a":1},"attributes":{"b":2}}`,
	`{"event_id":"e1",}`,
	`{"event_id":"e1"} x`,
	`{"event_id":"e1"`,
	`{"attributes":{"a":1}`,
	`{"value":1e}`,
	`{"value":-}`,
	`[]`,
}

// eventRowText is r with its pointers followed, to compare two decodes.
func eventRowText(r eventRow) []any {
	deref := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	return []any{deref(r.EventID), deref(r.Program), deref(r.Participant), deref(r.Kind), deref(r.OccurredAt), string(r.Value), string(r.Attributes)}
}

// checkScan fails when scanEvent accepts a row that encoding/json would decode differently
// or reject.
func checkScan(t *testing.T, row []byte) {
	got, ok := scanEvent(row)
	if !ok {
		return
	}
	var want eventRow
	if err := decodeStrict(row, &want); err != nil {
		t.Fatalf("scanEvent(%s) accepted a row encoding/json rejects: %v", row, err)
	}
	if !reflect.DeepEqual(eventRowText(got), eventRowText(want)) {
		t.Fatalf("scanEvent(%s) = %q, encoding/json gives %q", row, eventRowText(got), eventRowText(want))
	}
}

func TestScanEventAgreesWithEncodingJSON(t *testing.T) {
	accepted := 0
	for _, row := range scanRows {
		checkScan(t, []byte(row))
		if _, ok := scanEvent([]byte(row)); ok {
			accepted++
		}
	}
	// The fast path must actually take the common rows, or it buys nothing.
	for _, row := range scanRows[:5] {
		if _, ok := scanEvent([]byte(row)); !ok {
			t.Errorf("scanEvent(%s) fell back to encoding/json", row)
		}
	}
	if accepted == len(scanRows) {
		t.Error("scanEvent accepted every row, the odd ones included")
	}
}

func FuzzScanEvent(f *testing.F) {
	for _, row := range scanRows {
		f.Add([]byte(row))
	}
	f.Fuzz(func(t *testing.T, row []byte) {
		if !json.Valid(row) || !bytes.HasPrefix(bytes.TrimSpace(row), []byte("{")) {
			return
		}
		checkScan(t, row)
	})
}

func TestValidIDMatchesThePattern(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	ids := []string{"", "a", "A9", "evt-syn-1f-12", "_a", ".a", "a.b_c:d-e", "a b", "a/b", "é", "a\n",
		strings.Repeat("x", 128), strings.Repeat("x", 129), "a\x00"}
	for _, id := range ids {
		if got, want := ValidID(id), pattern.MatchString(id); got != want {
			t.Errorf("ValidID(%q) = %v, the pattern says %v", id, got, want)
		}
	}
}
