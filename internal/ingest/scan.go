package ingest

import (
	"bytes"
	"encoding/json"
)

// scanEvent reads an event row of the usual shape without encoding/json, which costs
// several times more per row and dominates the Go side of a big import. The usual shape is
// one object whose keys are exactly the eventRow field names, whose string values are
// printable ASCII without escapes, whose value is a number and whose attributes are an
// object or null. Anything else (other keys, nulls, escapes, non-ASCII, a type mismatch)
// returns ok = false and the caller decodes the row with encoding/json, which alone words
// the errors, so the outcome for every row is what encoding/json would give.
func scanEvent(data []byte) (r eventRow, ok bool) {
	s := scanner{data: data}
	if !s.byte('{') {
		return eventRow{}, false
	}
	if s.byte('}') {
		return r, s.end()
	}
	for {
		key, ok := s.plainString()
		if !ok || !s.byte(':') {
			return eventRow{}, false
		}
		switch string(key) {
		case "event_id":
			r.EventID, ok = s.stringField()
		case "program":
			r.Program, ok = s.stringField()
		case "participant":
			r.Participant, ok = s.stringField()
		case "kind":
			r.Kind, ok = s.stringField()
		case "occurred_at":
			r.OccurredAt, ok = s.stringField()
		case "value":
			r.Value, ok = s.number()
		case "attributes":
			r.Attributes, ok = s.objectOrNull()
		case "participant_name":
			r.ParticipantName, ok = s.stringField()
		default:
			ok = false
		}
		if !ok {
			return eventRow{}, false
		}
		if s.byte('}') {
			return r, s.end()
		}
		if !s.byte(',') {
			return eventRow{}, false
		}
	}
}

// scanner walks one JSON row; every method skips white space before its token.
type scanner struct {
	data []byte
	i    int
}

func (s *scanner) skipSpace() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// byte consumes c if it is the next token.
func (s *scanner) byte(c byte) bool {
	s.skipSpace()
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether nothing but white space is left.
func (s *scanner) end() bool {
	s.skipSpace()
	return s.i == len(s.data)
}

// plainString reads a string of printable ASCII without escapes, the bytes between quotes.
func (s *scanner) plainString() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.data); s.i++ {
		switch c := s.data[s.i]; {
		case c == '"':
			s.i++
			return s.data[start : s.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, false
		}
	}
	return nil, false
}

func (s *scanner) stringField() (*string, bool) {
	b, ok := s.plainString()
	if !ok {
		return nil, false
	}
	str := string(b)
	return &str, true
}

// number reads a JSON number literal as it is written.
func (s *scanner) number() ([]byte, bool) {
	s.skipSpace()
	start := s.i
	if s.i < len(s.data) && s.data[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.data) && isDigit(s.data[s.i]) {
		s.i++
	}
	// JSON allows no leading zero but "0" itself.
	if s.i == digits || (s.data[digits] == '0' && s.i-digits > 1) {
		return nil, false
	}
	if s.i < len(s.data) && s.data[s.i] == '.' {
		s.i++
		if !s.digits() {
			return nil, false
		}
	}
	if s.i < len(s.data) && (s.data[s.i] == 'e' || s.data[s.i] == 'E') {
		s.i++
		if s.i < len(s.data) && (s.data[s.i] == '+' || s.data[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return nil, false
		}
	}
	return s.data[start:s.i], true
}

// digits consumes one or more digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.data) && isDigit(s.data[s.i]) {
		s.i++
	}
	return s.i > start
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// objectOrNull reads null, or an object as it is written, strings and nesting included.
func (s *scanner) objectOrNull() ([]byte, bool) {
	s.skipSpace()
	start := s.i
	if bytes.HasPrefix(s.data[s.i:], []byte("null")) {
		s.i += len("null")
		return s.data[start:s.i], true
	}
	if s.i == len(s.data) || s.data[s.i] != '{' {
		return nil, false
	}
	depth := 0
	for ; s.i < len(s.data); s.i++ {
		switch s.data[s.i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.i++
				// Counting brackets finds the object's end only in valid JSON: the splitter
				// lets no other row through, but the check is cheap next to a decode.
				obj := s.data[start:s.i]
				return obj, json.Valid(obj)
			}
		case '"':
			if !s.skipString() {
				return nil, false
			}
		}
	}
	return nil, false
}

// skipString moves past a string, escapes included; s.i is on its opening quote and ends
// on its closing one.
func (s *scanner) skipString() bool {
	for s.i++; s.i < len(s.data); s.i++ {
		switch s.data[s.i] {
		case '\\':
			s.i++
		case '"':
			return true
		}
	}
	return false
}
