package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// bindJSON decodes a JSON body strictly: unknown fields, wrong types and trailing data are
// 400s that name the field. Messages speak JSON ("period must be an object, not a
// string"), never Go: clients do not know our types.
func bindJSON(c *gin.Context, v any) error { return decodeJSON(c.Request.Body, v) }

// decodeJSON is bindJSON for a body read from r: one JSON value, strictly.
func decodeJSON(r io.Reader, v any) error {
	// encoding/json's type errors drop array indices, name embedded Go structs and print Go
	// types, and an UnmarshalJSON error (time.Time's) names no field at all. Keep what the
	// decoder read, so that a bad value can be found again and described in JSON terms.
	var read bytes.Buffer
	dec := json.NewDecoder(io.TeeReader(r, &read))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntaxErr *json.SyntaxError
		var maxBytes *http.MaxBytesError
		var invalid *json.InvalidUnmarshalError
		switch {
		case errors.As(err, &maxBytes), errors.As(err, &invalid):
			return err
		case errors.As(err, &syntaxErr):
			return badRequest("body", "the body is not valid JSON (at byte %d)", syntaxErr.Offset)
		case errors.Is(err, io.EOF):
			return badRequest("body", "a JSON body is required")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badRequest("body", "the body is not valid JSON: it ends before the value is complete")
		}
		bad, found := findBadValue(reflect.TypeOf(v), firstValue(read.Bytes()), "")
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			// The decoder names the key alone; the walk finds where it is (period.frm).
			if found && bad.unknown {
				return bad.apiError()
			}
			name = strings.Trim(name, `"`)
			return badRequest(name, "unknown field %q", name)
		}
		if found {
			return bad.apiError()
		}
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Type != nil {
			// Not found again (it should be): describe it from the decoder's error alone.
			kind, _, _ := strings.Cut(typeErr.Value, " ")
			t := typeErr.Type
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			return badValue{path: typeErr.Field, typ: t, got: kind}.apiError()
		}
		return badRequest("body", "the body could not be decoded")
	}
	if dec.More() {
		return badRequest("body", "unexpected data after the JSON body")
	}
	return nil
}

// badValue is a JSON value that does not decode into the Go type it is bound to.
type badValue struct {
	path string       // its JSON path: period, sections[2].title, data.key; "" for the body
	typ  reflect.Type // what it decodes into, pointers removed
	raw  []byte       // the value as sent, when known
	got  string       // its JSON kind, when raw is not known
	// unknown: path is a key the object it is in has no field for.
	unknown bool
}

var (
	timeType            = reflect.TypeFor[time.Time]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (b badValue) apiError() *apiError {
	if b.unknown {
		return badRequest(b.path, "unknown field %q", b.path)
	}
	field, name := b.path, b.path
	if field == "" {
		field, name = "body", "the body"
	}
	got := b.got
	if b.raw != nil {
		got = jsonKind(b.raw)
	}
	want, shape := expectedJSON(b.typ)
	switch {
	case want != "" && got != want:
		sent := kindPhrase(got)
		if got == "bool" && b.raw != nil {
			sent = string(b.raw) // "not true" reads better than "not a boolean"
		}
		return badRequest(field, "%s must be %s, not %s", name, shape, sent)
	case b.typ == timeType:
		return badRequest(field, "%s must be an RFC 3339 time such as 2026-03-01T09:00:00Z", name)
	case want == "number" && b.raw != nil:
		return badRequest(field, "%s", numberMessage(name, b.typ, string(b.raw)))
	case b.typ.Kind() == reflect.Slice && want == "string":
		return badRequest(field, "%s must be a base64 string", name)
	}
	return badRequest(field, "%s is not a valid value", name)
}

// expectedJSON is the JSON kind a Go type decodes from ("" when the type decides for
// itself) and how to say it to a client.
func expectedJSON(t reflect.Type) (kind, phrase string) {
	switch {
	case t == timeType:
		return "string", "a string"
	case reflect.PointerTo(t).Implements(jsonUnmarshalerType):
		return "", ""
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		return "string", "a string"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "object", "an object"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(jsonUnmarshalerType) &&
			!reflect.PointerTo(t.Elem()).Implements(textUnmarshalerType) {
			return "string", "a string" // encoding/json takes []byte as base64
		}
		return "array", "an array"
	case reflect.Array:
		return "array", "an array"
	case reflect.String:
		return "string", "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "number", "an integer"
	case reflect.Float32, reflect.Float64:
		return "number", "a number"
	case reflect.Bool:
		return "bool", "true or false"
	}
	return "", ""
}

// jsonKind is the kind of a JSON value, in encoding/json's words.
func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

func kindPhrase(kind string) string {
	switch kind {
	case "object", "array":
		return "an " + kind
	case "string", "number":
		return "a " + kind
	case "bool":
		return "a boolean"
	case "null":
		return "null"
	}
	return "a value of another kind"
}

// numberMessage explains why a number does not fit: a fraction for an integer, or a value
// out of range.
func numberMessage(name string, t reflect.Type, literal string) string {
	if len(literal) > 32 {
		literal = literal[:32] + "…"
	}
	bits := t.Bits()
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if strings.ContainsAny(literal, ".eE") {
			return fmt.Sprintf("%s must be an integer, not %s", name, literal)
		}
		return fmt.Sprintf("%s must be an integer from %d to %d, not %s", name,
			int64(math.MinInt64)>>(64-bits), int64(math.MaxInt64)>>(64-bits), literal)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if strings.ContainsAny(literal, ".eE") {
			return fmt.Sprintf("%s must be an integer, not %s", name, literal)
		}
		return fmt.Sprintf("%s must be an integer from 0 to %s, not %s", name,
			strconv.FormatUint(uint64(math.MaxUint64)>>(64-bits), 10), literal)
	}
	return fmt.Sprintf("%s is out of range: %s", name, literal)
}

// firstValue is the first JSON value in b, or nil.
func firstValue(b []byte) []byte {
	var raw json.RawMessage
	if json.NewDecoder(bytes.NewReader(b)).Decode(&raw) != nil {
		return nil
	}
	return raw
}

// findBadValue walks raw alongside t, in document order, to the first value that does not
// decode or key that no field takes (unknown), and gives its JSON path. The decoder reports
// the first of either in document order too.
func findBadValue(t reflect.Type, raw []byte, path string) (badValue, bool) {
	if len(raw) == 0 || string(raw) == "null" { // encoding/json takes null for anything
		return badValue{}, false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := badValue{path: path, typ: t, raw: raw}
	want, _ := expectedJSON(t)
	if want != "object" && want != "array" {
		// A leaf, or a type with its own UnmarshalJSON: encoding/json says whether it fits.
		if json.Unmarshal(raw, reflect.New(t).Interface()) != nil {
			return bad, true
		}
		return badValue{}, false
	}
	if jsonKind(raw) != want {
		return bad, true
	}
	var fields []jsonField
	if t.Kind() == reflect.Struct {
		fields = jsonFields(t)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return badValue{}, false
	}
	for i := 0; dec.More(); i++ {
		var key string
		if want == "object" {
			tok, err := dec.Token()
			if err != nil {
				return badValue{}, false
			}
			key, _ = tok.(string)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return badValue{}, false
		}
		var found badValue
		var ok bool
		switch t.Kind() {
		case reflect.Struct:
			if f, known := lookupField(fields, key); known {
				found, ok = findBadValue(f.typ, val, joinPath(path, f.name))
			} else {
				found, ok = badValue{path: joinPath(path, key), unknown: true}, true
			}
		case reflect.Map:
			found, ok = findBadValue(t.Elem(), val, joinPath(path, key))
		default:
			found, ok = findBadValue(t.Elem(), val, fmt.Sprintf("%s[%d]", path, i))
		}
		if ok {
			return found, true
		}
	}
	return badValue{}, false
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// jsonField is a struct field as encoding/json sees it: by its JSON name, with the fields
// of embedded structs promoted.
type jsonField struct {
	name  string
	typ   reflect.Type
	depth int
}

func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for _, f := range reflect.VisibleFields(t) {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			continue // its fields are promoted, and VisibleFields lists them
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type, depth: len(f.Index)})
	}
	return out
}

// lookupField finds the field a key decodes into: an exact name first, then, like
// encoding/json, one that differs only in case; the shallowest wins.
func lookupField(fields []jsonField, key string) (jsonField, bool) {
	for _, match := range []func(string, string) bool{func(a, b string) bool { return a == b }, strings.EqualFold} {
		best, found := jsonField{}, false
		for _, f := range fields {
			if match(f.name, key) && (!found || f.depth < best.depth) {
				best, found = f, true
			}
		}
		if found {
			return best, true
		}
	}
	return jsonField{}, false
}
