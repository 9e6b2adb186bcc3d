package privacy

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// scrubber replaces a person's strings in text with ErasedMarker: whole quotes and
// snippets, their full name, email and phone anywhere, and each part of their name when it
// stands as a word of its own (so "Ana" goes, "Banana" stays). Matching ignores case and
// is Unicode-aware: Go's \b is ASCII-only, so word edges are letters and digits of any script.
type scrubber struct {
	anywhere []string
	words    *regexp.Regexp // nil: no name parts
}

// minNamePart is the shortest name part replaced on its own: shorter ones ("Li", "de")
// are particles or too common to tell apart from ordinary words.
const minNamePart = 3

func newScrubber(s Subject, quotes []string) scrubber {
	var sc scrubber
	for _, q := range append(quotes, s.needles()...) {
		if q = strings.TrimSpace(q); q != "" && q != ErasedMarker {
			sc.anywhere = append(sc.anywhere, q)
		}
	}
	// Longest first, so a snippet goes whole before a name inside it is replaced.
	sort.Slice(sc.anywhere, func(i, j int) bool { return len(sc.anywhere[i]) > len(sc.anywhere[j]) })
	var parts []string
	for _, p := range strings.Fields(s.FullName) {
		if utf8.RuneCountInString(p) >= minNamePart {
			parts = append(parts, regexp.QuoteMeta(p))
		}
	}
	if len(parts) > 0 {
		sc.words = regexp.MustCompile(`(?i)(^|[^\p{L}\p{N}])(` + strings.Join(parts, "|") + `)([^\p{L}\p{N}]|$)`)
	}
	return sc
}

// empty reports whether the scrubber has nothing to look for.
func (sc scrubber) empty() bool { return len(sc.anywhere) == 0 && sc.words == nil }

// text returns t with the person's strings replaced.
func (sc scrubber) text(t string) string {
	for _, n := range sc.anywhere {
		t = replaceFold(t, n, ErasedMarker)
	}
	if sc.words != nil {
		// Adjacent matches share the separator between them, so one pass can miss every
		// second one ("Ana Ana"): repeat until nothing changes.
		for {
			next := sc.words.ReplaceAllString(t, "${1}"+ErasedMarker+"${3}")
			if next == t {
				break
			}
			t = next
		}
	}
	return t
}

// replaceFold replaces every case-insensitive occurrence of old in s.
func replaceFold(s, old, repl string) string {
	re := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(old))
	return re.ReplaceAllLiteralString(s, repl)
}

// scrubParagraphs rewrites a report section's paragraphs (the report_sections.paragraphs
// JSON: [{"text": ..., "citations": [{"snippet_id": ..., "quote": ...}]}]): citations of
// the erased snippets get the marker as their quote, and every text loses the person's
// strings. Fields it does not know are kept. changed is false when nothing was touched.
func scrubParagraphs(raw []byte, snippets map[string]bool, sc scrubber) (out []byte, changed bool, err error) {
	var paragraphs []map[string]any
	if err := json.Unmarshal(raw, &paragraphs); err != nil {
		return nil, false, err
	}
	for _, p := range paragraphs {
		if t, ok := p["text"].(string); ok {
			if s := sc.text(t); s != t {
				p["text"], changed = s, true
			}
		}
		cites, _ := p["citations"].([]any)
		for _, c := range cites {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			id, _ := m["snippet_id"].(string)
			q, _ := m["quote"].(string)
			switch {
			case snippets[id] && q != ErasedMarker:
				m["quote"], changed = ErasedMarker, true
			case q != "":
				if s := sc.text(q); s != q {
					m["quote"], changed = s, true
				}
			}
		}
	}
	if !changed {
		return raw, false, nil
	}
	out, err = json.Marshal(paragraphs)
	return out, true, err
}

// postgresRegexp is s as a literal in a Postgres (ARE) regular expression.
func postgresRegexp(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= 0x80 || r == ' ') {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
