package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Rejection is a row that was not imported, with why.
type Rejection struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// EventKinds are the impact event kinds a row may have.
var EventKinds = []string{"signup", "session_started", "session_completed", "volunteer_hours", "outcome_measured", "donation"}

// EvidenceSources are the sources an evidence snippet may come from.
var EvidenceSources = []string{"survey", "interview", "case_note", "email", "other"}

// Limits on row contents.
const (
	maxAttributesBytes = 4 << 10
	maxSnippetChars    = 10000
	// MaxNameChars bounds a person's name: a participant's full_name, an entry of a
	// tenant's names list.
	MaxNameChars = 200
)

// Event is a valid impact event row, ready to upsert.
type Event struct {
	EventID       string
	ProgramID     int64
	ParticipantID string
	Kind          string
	OccurredAt    time.Time
	Value         string // a decimal literal, kept exact
	Attributes    string // a JSON object
	// ParticipantName is the participant's full name when the row carries one ("" when
	// not); it fills the participant's record.
	ParticipantName string
}

// Evidence is a valid evidence snippet row, ready to upsert.
type Evidence struct {
	SnippetID     string
	ProgramID     int64
	ParticipantID string
	Text          string
	Source        string
	OccurredAt    time.Time
	// ParticipantName is as in Event.
	ParticipantName string
}

type eventRow struct {
	EventID     *string         `json:"event_id"`
	Program     *string         `json:"program"`
	Participant *string         `json:"participant"`
	Kind        *string         `json:"kind"`
	OccurredAt  *string         `json:"occurred_at"`
	Value       json.RawMessage `json:"value"`
	Attributes  json.RawMessage `json:"attributes"`
	// ParticipantName is optional; the row's other fields do not depend on it.
	ParticipantName *string `json:"participant_name"`
}

type evidenceRow struct {
	SnippetID       *string `json:"snippet_id"`
	Program         *string `json:"program"`
	Participant     *string `json:"participant"`
	Text            *string `json:"text"`
	Source          *string `json:"source"`
	OccurredAt      *string `json:"occurred_at"`
	ParticipantName *string `json:"participant_name"`
}

// rowError is a reason a row is rejected.
type rowError string

func (e rowError) Error() string { return string(e) }

// Validator checks rows against a tenant's programs and the clock.
type Validator struct {
	Programs map[string]int64 // program code → ID
	Now      time.Time
}

// Events parses and validates a chunk of event rows. A row whose event_id appears again
// later in the chunk is rejected in favour of the later one, so one chunk never writes a
// key twice.
func (v Validator) Events(c Chunk) ([]Event, []Rejection) {
	out := make([]Event, 0, len(c.Lines))
	lines := make([]int32, 0, len(c.Lines))
	var rejected []Rejection
	seen := make(map[string]int, len(c.Lines))
	eachRow(c, func(line int32, data []byte) {
		e, err := v.event(data)
		if err != nil {
			rejected = append(rejected, Rejection{Line: int(line), Reason: err.Error()})
			return
		}
		if i, dup := seen[e.EventID]; dup {
			rejected = append(rejected, Rejection{Line: int(lines[i]), Reason: fmt.Sprintf("event_id %q appears again at line %d, which replaces this row", e.EventID, line)})
			out[i], lines[i] = e, line
			return
		}
		seen[e.EventID] = len(out)
		out = append(out, e)
		lines = append(lines, line)
	})
	return out, rejected
}

// Evidence parses and validates a chunk of evidence rows, like Events.
func (v Validator) Evidence(c Chunk) ([]Evidence, []Rejection) {
	out := make([]Evidence, 0, len(c.Lines))
	lines := make([]int32, 0, len(c.Lines))
	var rejected []Rejection
	seen := make(map[string]int, len(c.Lines))
	eachRow(c, func(line int32, data []byte) {
		e, err := v.evidence(data)
		if err != nil {
			rejected = append(rejected, Rejection{Line: int(line), Reason: err.Error()})
			return
		}
		if i, dup := seen[e.SnippetID]; dup {
			rejected = append(rejected, Rejection{Line: int(lines[i]), Reason: fmt.Sprintf("snippet_id %q appears again at line %d, which replaces this row", e.SnippetID, line)})
			out[i], lines[i] = e, line
			return
		}
		seen[e.SnippetID] = len(out)
		out = append(out, e)
		lines = append(lines, line)
	})
	return out, rejected
}

func eachRow(c Chunk, fn func(line int32, data []byte)) {
	data := c.Data
	for _, line := range c.Lines {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			i = len(data)
		}
		fn(line, data[:i])
		if i < len(data) {
			data = data[i+1:]
		} else {
			data = nil
		}
	}
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return rowError(fmt.Sprintf("%s: must be a %s", typeErr.Field, typeErr.Type.String()))
		}
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return rowError("unknown field " + msg)
		}
		return rowError("invalid JSON: " + err.Error())
	}
	return nil
}

func (v Validator) event(data []byte) (Event, error) {
	r, ok := scanEvent(data)
	if !ok {
		if err := decodeStrict(data, &r); err != nil {
			return Event{}, err
		}
	}
	var e Event
	var err error
	if e.EventID, err = requiredID("event_id", r.EventID); err != nil {
		return Event{}, err
	}
	if e.ProgramID, err = v.program(r.Program); err != nil {
		return Event{}, err
	}
	if e.ParticipantID, err = requiredID("participant", r.Participant); err != nil {
		return Event{}, err
	}
	if r.Kind == nil || *r.Kind == "" {
		return Event{}, rowError("kind: required")
	}
	if !contains(EventKinds, *r.Kind) {
		return Event{}, rowError(fmt.Sprintf("kind: %q is not one of %s", *r.Kind, strings.Join(EventKinds, ", ")))
	}
	e.Kind = *r.Kind
	if e.OccurredAt, err = v.occurredAt(r.OccurredAt); err != nil {
		return Event{}, err
	}
	if len(r.Value) == 0 || string(r.Value) == "null" {
		return Event{}, rowError("value: required")
	}
	f, perr := strconv.ParseFloat(string(r.Value), 64)
	switch {
	case perr != nil || math.IsInf(f, 0) || math.IsNaN(f):
		return Event{}, rowError("value: must be a finite number")
	case f < 0:
		return Event{}, rowError("value: must not be negative")
	case math.Abs(f) >= 1e14:
		return Event{}, rowError("value: too large")
	}
	e.Value = string(r.Value)
	e.Attributes = "{}"
	if a := bytes.TrimSpace(r.Attributes); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		if a[0] != '{' {
			return Event{}, rowError("attributes: must be a JSON object")
		}
		if len(a) > maxAttributesBytes {
			return Event{}, rowError(fmt.Sprintf("attributes: larger than %d bytes", maxAttributesBytes))
		}
		e.Attributes = string(a)
	}
	if e.ParticipantName, err = participantName(r.ParticipantName); err != nil {
		return Event{}, err
	}
	return e, nil
}

func (v Validator) evidence(data []byte) (Evidence, error) {
	var r evidenceRow
	if err := decodeStrict(data, &r); err != nil {
		return Evidence{}, err
	}
	var e Evidence
	var err error
	if e.SnippetID, err = requiredID("snippet_id", r.SnippetID); err != nil {
		return Evidence{}, err
	}
	if e.ProgramID, err = v.program(r.Program); err != nil {
		return Evidence{}, err
	}
	if r.Participant != nil && *r.Participant != "" {
		if e.ParticipantID, err = requiredID("participant", r.Participant); err != nil {
			return Evidence{}, err
		}
	}
	if r.Text == nil || strings.TrimSpace(*r.Text) == "" {
		return Evidence{}, rowError("text: required")
	}
	if !utf8.ValidString(*r.Text) || utf8.RuneCountInString(*r.Text) > maxSnippetChars {
		return Evidence{}, rowError(fmt.Sprintf("text: must be valid UTF-8 of at most %d characters", maxSnippetChars))
	}
	e.Text = *r.Text
	if r.Source == nil || !contains(EvidenceSources, *r.Source) {
		return Evidence{}, rowError("source: must be one of " + strings.Join(EvidenceSources, ", "))
	}
	e.Source = *r.Source
	if e.OccurredAt, err = v.occurredAt(r.OccurredAt); err != nil {
		return Evidence{}, err
	}
	if e.ParticipantName, err = participantName(r.ParticipantName); err != nil {
		return Evidence{}, err
	}
	if e.ParticipantName != "" && e.ParticipantID == "" {
		return Evidence{}, rowError("participant_name: needs participant, the ID of the record it names")
	}
	return e, nil
}

func (v Validator) program(code *string) (int64, error) {
	if code == nil || *code == "" {
		return 0, rowError("program: required")
	}
	id, ok := v.Programs[*code]
	if !ok {
		return 0, rowError(fmt.Sprintf("program: %q is not a program of this tenant", *code))
	}
	return id, nil
}

func (v Validator) occurredAt(s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, rowError("occurred_at: required")
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}, rowError("occurred_at: must be an RFC 3339 timestamp such as 2026-03-01T10:00:00Z")
	}
	if t.Year() < 2000 || t.After(v.Now.Add(24*time.Hour)) {
		return time.Time{}, rowError("occurred_at: must be between 2000 and tomorrow")
	}
	return t.UTC(), nil
}

// participantName is a row's optional participant_name, trimmed; "" when absent or empty,
// which leaves the record's name as it is.
func participantName(s *string) (string, error) {
	if s == nil {
		return "", nil
	}
	name := strings.TrimSpace(*s)
	if problem := NameProblem(name); problem != "" {
		return "", rowError("participant_name: " + problem)
	}
	return name, nil
}

// NameProblem says what is wrong with a person's name, "" when nothing: it must be valid
// UTF-8 of at most MaxNameChars characters without control characters.
func NameProblem(name string) string {
	if !utf8.ValidString(name) {
		return "must be valid UTF-8"
	}
	if n := utf8.RuneCountInString(name); n > MaxNameChars {
		return fmt.Sprintf("must be at most %d characters, not %d", MaxNameChars, n)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
	}
	return ""
}

func requiredID(field string, s *string) (string, error) {
	if s == nil || *s == "" {
		return "", rowError(field + ": required")
	}
	if !ValidID(*s) {
		return "", rowError(field + ": must be 1-128 letters, digits or . _ : - and start with a letter or digit")
	}
	return *s, nil
}

// ValidID reports whether s is 1-128 letters, digits or . _ : - starting with a letter or
// digit: an event's, a snippet's or a participant's ID. A loop rather than a regexp, as it
// runs twice for every imported row.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == ':' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
