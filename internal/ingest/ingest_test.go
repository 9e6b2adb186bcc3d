package ingest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func splitAll(t *testing.T, body string, chunkRows int) ([]Chunk, error) {
	t.Helper()
	s := NewSplitter(strings.NewReader(body), chunkRows)
	var chunks []Chunk
	for {
		c, err := s.Next()
		if errors.Is(err, io.EOF) {
			return chunks, nil
		}
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, c)
	}
}

func TestSplitterFormats(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantLines []int32
		wantData  string
	}{
		{"ndjson", "{\"a\":1}\n{\"a\":2}\n", []int32{1, 2}, "{\"a\":1}\n{\"a\":2}\n"},
		{"ndjson blank lines and no final newline", "\n{\"a\":1}\n\n  {\"a\":2}  ", []int32{2, 4}, "{\"a\":1}\n{\"a\":2}\n"},
		{"crlf", "{\"a\":1}\r\n{\"a\":2}\r\n", []int32{1, 2}, "{\"a\":1}\n{\"a\":2}\n"},
		{"array", " [ {\"a\": 1},\n {\"a\" : 2} ] ", []int32{1, 2}, "{\"a\":1}\n{\"a\":2}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks, err := splitAll(t, tt.body, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(chunks) != 1 {
				t.Fatalf("got %d chunks, want 1", len(chunks))
			}
			if got := chunks[0].Lines; len(got) != len(tt.wantLines) || got[0] != tt.wantLines[0] || got[len(got)-1] != tt.wantLines[len(tt.wantLines)-1] {
				t.Errorf("lines = %v, want %v", got, tt.wantLines)
			}
			if string(chunks[0].Data) != tt.wantData {
				t.Errorf("data = %q, want %q", chunks[0].Data, tt.wantData)
			}
		})
	}
}

func TestSplitterChunksAndHash(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 25; i++ {
		b.WriteString("{\"i\":1}\n")
	}
	chunks, err := splitAll(t, b.String(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 3 || len(chunks[2].Lines) != 5 || chunks[2].Seq != 2 || chunks[2].Lines[0] != 21 {
		t.Fatalf("chunks = %d, last = %+v", len(chunks), chunks[len(chunks)-1].Lines)
	}
	a, b2 := NewSplitter(strings.NewReader("{}\n"), 10), NewSplitter(strings.NewReader("{}\n"), 10)
	for _, s := range []*Splitter{a, b2} {
		for {
			if _, err := s.Next(); err != nil {
				break
			}
		}
	}
	if string(a.Sum()) != string(b2.Sum()) || len(a.Sum()) != 32 {
		t.Error("same body must hash the same")
	}
}

// Rows longer than the reader's buffer are gathered whole, up to MaxRowBytes.
func TestSplitterLongRows(t *testing.T) {
	row := func(n int) string { // a JSON object of exactly n bytes
		return `{"a":"` + strings.Repeat("x", n-8) + `"}`
	}
	for _, n := range []int{readBufferBytes - 1, readBufferBytes, readBufferBytes + 1, 3*readBufferBytes + 17, MaxRowBytes - 1} {
		body := "{\"first\":1}\n" + row(n) + "\n{\"last\":1}"
		chunks, err := splitAll(t, body, 100)
		if err != nil {
			t.Fatalf("row of %d bytes: %v", n, err)
		}
		want := "{\"first\":1}\n" + row(n) + "\n{\"last\":1}\n"
		if len(chunks) != 1 || string(chunks[0].Data) != want || len(chunks[0].Lines) != 3 || chunks[0].Lines[2] != 3 {
			t.Fatalf("row of %d bytes: got %d chunks, lines %v, data of %d bytes, want %d", n, len(chunks), chunks[0].Lines, len(chunks[0].Data), len(want))
		}
	}
	for _, body := range []string{"{\"first\":1}\n" + row(MaxRowBytes+1) + "\n", "{\"first\":1}\n" + row(2*MaxRowBytes)} {
		_, err := splitAll(t, body, 100)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line != 2 || !strings.Contains(se.Msg, "row longer than") {
			t.Fatalf("a row over MaxRowBytes: err = %v, want a SyntaxError on line 2", err)
		}
	}
}

func TestSplitterRejectsMalformed(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantLine int
	}{
		{"empty", "", 1},
		{"whitespace only", " \n\n", 1},
		{"csv", "event_id,kind\n1,signup\n", 1},
		{"broken second line", "{\"a\":1}\n{\"a\":\n", 2},
		{"scalar line", "{\"a\":1}\n42\n", 2},
		{"array of scalars", "[1, 2]", 1},
		{"unterminated array", "[{\"a\":1}", 2},
		{"data after array", "[{\"a\":1}] {}", 2},
		{"empty array", "[]", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := splitAll(t, tt.body, 100)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a SyntaxError", err)
			}
			if se.Line != tt.wantLine {
				t.Errorf("line = %d, want %d (%v)", se.Line, tt.wantLine, se)
			}
		})
	}
}

func TestValidatorEvents(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	v := Validator{Programs: map[string]int64{"mentoring": 7}, Now: now}
	ok := `{"event_id":"e1","program":"mentoring","participant":"p-1","kind":"volunteer_hours","occurred_at":"2026-03-01T10:00:00Z","value":2.5,"attributes":{"location":"Madrid"}}`
	tests := []struct {
		name   string
		row    string
		reason string // empty: valid
	}{
		{"valid", ok, ""},
		{"no attributes", `{"event_id":"e1","program":"mentoring","participant":"p-1","kind":"signup","occurred_at":"2026-03-01T10:00:00+02:00","value":1}`, ""},
		{"unknown field", strings.Replace(ok, `"value"`, `"colour":"red","value"`, 1), `unknown field "colour"`},
		{"missing event_id", strings.Replace(ok, `"event_id":"e1",`, "", 1), "event_id: required"},
		{"bad event_id", strings.Replace(ok, `"e1"`, `"e 1"`, 1), "event_id: must be"},
		{"unknown program", strings.Replace(ok, `"mentoring"`, `"golf"`, 1), `program: "golf" is not a program`},
		{"bad kind", strings.Replace(ok, `volunteer_hours`, `napping`, 1), `kind: "napping" is not one of`},
		{"bad time", strings.Replace(ok, `2026-03-01T10:00:00Z`, `yesterday`, 1), "occurred_at: must be an RFC 3339"},
		{"future time", strings.Replace(ok, `2026-03-01`, `2027-03-01`, 1), "occurred_at: must be between"},
		{"negative value", strings.Replace(ok, `2.5`, `-1`, 1), "value: must not be negative"},
		{"string value", strings.Replace(ok, `2.5`, `"2.5"`, 1), "value: must be"},
		{"missing value", strings.Replace(ok, `,"value":2.5`, ``, 1), "value: required"},
		{"array attributes", strings.Replace(ok, `{"location":"Madrid"}`, `[1]`, 1), "attributes: must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, rejected := v.Events(Chunk{Lines: []int32{9}, Data: []byte(tt.row + "\n")})
			if tt.reason == "" {
				if len(rejected) != 0 || len(rows) != 1 {
					t.Fatalf("rejected %v", rejected)
				}
				if rows[0].ProgramID != 7 || rows[0].OccurredAt.Location() != time.UTC {
					t.Errorf("row = %+v", rows[0])
				}
				return
			}
			if len(rejected) != 1 || rejected[0].Line != 9 || !strings.Contains(rejected[0].Reason, tt.reason) {
				t.Fatalf("rejected = %v, want line 9 with %q", rejected, tt.reason)
			}
		})
	}
}

func TestValidatorDuplicateKeepsLast(t *testing.T) {
	v := Validator{Programs: map[string]int64{"m": 1}, Now: time.Now()}
	row := func(value string) string {
		return `{"event_id":"dup","program":"m","participant":"p","kind":"donation","occurred_at":"2026-01-01T00:00:00Z","value":` + value + "}\n"
	}
	rows, rejected := v.Events(Chunk{Lines: []int32{1, 2}, Data: []byte(row("5") + row("6"))})
	if len(rows) != 1 || rows[0].Value != "6" {
		t.Fatalf("rows = %+v", rows)
	}
	if len(rejected) != 1 || rejected[0].Line != 1 || !strings.Contains(rejected[0].Reason, "line 2") {
		t.Fatalf("rejected = %+v", rejected)
	}
}

func TestValidatorEvidence(t *testing.T) {
	v := Validator{Programs: map[string]int64{"m": 1}, Now: time.Now()}
	rows, rejected := v.Evidence(Chunk{Lines: []int32{1, 2, 3}, Data: []byte(
		`{"snippet_id":"s1","program":"m","participant":"p-1","text":"Ana said it helped.","source":"interview","occurred_at":"2026-01-01T00:00:00Z"}` + "\n" +
			`{"snippet_id":"s2","program":"m","text":"","source":"interview","occurred_at":"2026-01-01T00:00:00Z"}` + "\n" +
			`{"snippet_id":"s3","program":"m","text":"ok","source":"tweet","occurred_at":"2026-01-01T00:00:00Z"}` + "\n")})
	if len(rows) != 1 || rows[0].SnippetID != "s1" {
		t.Fatalf("rows = %+v", rows)
	}
	if len(rejected) != 2 || !strings.HasPrefix(rejected[0].Reason, "text:") || !strings.HasPrefix(rejected[1].Reason, "source:") {
		t.Fatalf("rejected = %+v", rejected)
	}
}

func TestValidatorParticipantName(t *testing.T) {
	v := Validator{Programs: map[string]int64{"m": 1}, Now: time.Now()}
	event := func(name string) string {
		return `{"event_id":"e1","program":"m","participant":"p-1","kind":"signup","occurred_at":"2026-01-01T00:00:00Z","value":1,"participant_name":` + name + "}\n"
	}
	tests := []struct {
		name, value, want, reason string
	}{
		{"ascii, the fast path", `"Quorvin Blathersby"`, "Quorvin Blathersby", ""},
		{"accents, the slow path", `"  Íker Campos Vargas "`, "Íker Campos Vargas", ""},
		{"escaped", `"Tom O\u0027Brien"`, "Tom O'Brien", ""},
		{"empty leaves the record alone", `""`, "", ""},
		{"null", `null`, "", ""},
		{"control character", `"Ana\tLópez"`, "", "participant_name: must not contain control characters"},
		{"too long", `"` + strings.Repeat("a", MaxNameChars+1) + `"`, "", "participant_name: must be at most 200"},
		{"not a string", `42`, "", "participant_name: must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, rejected := v.Events(Chunk{Lines: []int32{1}, Data: []byte(event(tt.value))})
			if tt.reason != "" {
				if len(rejected) != 1 || !strings.Contains(rejected[0].Reason, tt.reason) {
					t.Fatalf("rejected = %v, want %q", rejected, tt.reason)
				}
				return
			}
			if len(rejected) != 0 || len(rows) != 1 || rows[0].ParticipantName != tt.want {
				t.Fatalf("rows = %+v, rejected = %v", rows, rejected)
			}
		})
	}

	rows, rejected := v.Evidence(Chunk{Lines: []int32{1, 2}, Data: []byte(
		`{"snippet_id":"s1","program":"m","participant":"p-1","participant_name":"Ana López","text":"It helped.","source":"interview","occurred_at":"2026-01-01T00:00:00Z"}` + "\n" +
			`{"snippet_id":"s2","program":"m","participant_name":"Ana López","text":"It helped.","source":"interview","occurred_at":"2026-01-01T00:00:00Z"}` + "\n")})
	if len(rows) != 1 || rows[0].ParticipantName != "Ana López" {
		t.Fatalf("evidence rows = %+v", rows)
	}
	if len(rejected) != 1 || rejected[0].Line != 2 || !strings.HasPrefix(rejected[0].Reason, "participant_name: needs participant") {
		t.Fatalf("evidence rejected = %+v", rejected)
	}
}
