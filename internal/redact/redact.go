// Package redact replaces personal data in free text with stable placeholders before the
// text leaves the process (to an LLM), and restores it afterwards where allowed.
//
// It finds emails, phone numbers (international, and the national forms of the UK,
// Ireland, France, Germany, Spain, Italy and Portugal), US social security numbers, UK
// national insurance numbers, IBANs of any country (checked with mod 97), card numbers
// (checked with Luhn), street addresses with the postcode and town after them, postcodes
// with their town, and people's names: the tenant's participant records and names list,
// a built-in gazetteer of given names and surnames, and context (titles such as Mr, Sra.
// or Mme, speech verbs such as said, dijo or a dit). Words are cut by Unicode classes, so
// "Íker", "O’Brien" and "Ní Bhriain" are words like any other.
//
// A Session numbers what it finds per kind in order of first appearance, so the same value
// gets the same placeholder everywhere in one report ([PERSON_1] is always the same
// person). The mapping back to the original values lives only in the Session: callers keep
// it inside the activity that needs it and never put it in a workflow history or a log.
package redact

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is a kind of personal data; it names the placeholder ([EMAIL_1]).
type Kind string

// The kinds of personal data the redactor finds.
const (
	KindEmail   Kind = "EMAIL"
	KindPhone   Kind = "PHONE"
	KindSSN     Kind = "SSN"
	KindNINO    Kind = "NI"
	KindIBAN    Kind = "IBAN"
	KindCard    Kind = "CARD"
	KindAddress Kind = "ADDRESS"
	KindPerson  Kind = "PERSON"
)

// Kinds lists every kind, in the order overlapping matches are preferred when they start
// at the same place and have the same length.
var Kinds = []Kind{KindEmail, KindIBAN, KindCard, KindSSN, KindNINO, KindAddress, KindPhone, KindPerson}

// Match is one piece of personal data found in a text: the byte range [Start, End).
type Match struct {
	Kind  Kind
	Start int
	End   int
	Value string
}

// Redactor finds personal data. It is safe for concurrent use; build one per report (or
// per tenant) with the names that tenant's texts may contain.
type Redactor struct {
	opts Options
	lex  *lexicon
	// full holds the folded words of each known full name (participant records, the
	// configured list), by its first word; known holds every word of them, which is a
	// name part wherever it appears.
	full  map[string][][]string
	known map[string]bool
	memo  *memo // set by Cache: remembers Find's answers per text
}

// Options change what a Redactor takes for personal data.
type Options struct {
	// Aggressive also takes every capitalised word that does not start a sentence and is
	// not an ordinary word of Locale: a name no list knows is more likely than not one.
	Aggressive bool
	// Locale ("en", "es", "fr", "de", "it", "pt") picks the common words Aggressive keeps;
	// empty keeps the common words of all of them.
	Locale string
}

// New returns a Redactor that also knows the given names (participants' full names, the
// tenant's or operator's names list). Empty names are ignored.
func New(names ...string) *Redactor { return NewWithOptions(Options{}, names...) }

// NewWithOptions is New with options.
func NewWithOptions(opts Options, names ...string) *Redactor {
	r := &Redactor{opts: opts, lex: sharedLexicon(), full: map[string][][]string{}, known: map[string]bool{}}
	seen := map[string]bool{}
	for _, n := range names {
		var words []string
		for _, t := range tokenize(n) {
			words = append(words, t.folded)
		}
		joined := strings.Join(words, " ")
		// The lists overlap (a participant is also on the names list): one entry each.
		if len(words) == 0 || utf8.RuneCountInString(strings.Join(words, "")) < 3 || seen[joined] {
			continue
		}
		seen[joined] = true
		r.full[words[0]] = append(r.full[words[0]], words)
		// A participant called by one part of their name alone is still that participant.
		for _, w := range words {
			if utf8.RuneCountInString(w) >= 3 && !particles[w] && !r.lex.isWord(w) {
				r.known[w] = true
			}
		}
	}
	for first := range r.full {
		// Longest first, so "Ana López García" wins over "Ana López".
		sort.Slice(r.full[first], func(i, j int) bool { return len(r.full[first][i]) > len(r.full[first][j]) })
	}
	return r
}

// Find returns every piece of personal data in text, in order, without overlaps: where two
// matches overlap the one starting first wins, then the longer one.
func (r *Redactor) Find(text string) []Match {
	if r.memo == nil {
		return r.find(text)
	}
	if ms, ok := r.memo.get(text); ok {
		return slices.Clone(ms)
	}
	ms := r.find(text)
	r.memo.put(text, slices.Clone(ms))
	return ms
}

func (r *Redactor) find(text string) []Match {
	var all []Match
	add := func(k Kind, s, e int) {
		all = append(all, Match{Kind: k, Start: s, End: e})
	}
	r.findIdentifiers(text, add)
	toks := tokenize(text)
	r.findKnown(text, toks, add)
	r.findNames(text, toks, add)
	if r.opts.Aggressive {
		r.findCapitalised(toks, add)
	}
	out := resolve(all)
	for i := range out {
		out[i].Value = text[out[i].Start:out[i].End]
	}
	return out
}

// findKnown adds the known full names, in any case and with or without diacritics.
func (r *Redactor) findKnown(text string, toks []token, add func(Kind, int, int)) {
	if len(r.full) == 0 {
		return
	}
	for i := range toks {
	names:
		for _, words := range r.full[toks[i].folded] {
			if i+len(words) > len(toks) {
				continue
			}
			for j, w := range words {
				t := toks[i+j]
				if t.folded != w || j > 0 && strings.TrimSpace(text[toks[i+j-1].end:t.start]) != "" {
					continue names
				}
			}
			add(KindPerson, toks[i].start, toks[i+len(words)-1].end)
			break
		}
	}
}

// findCapitalised adds, in aggressive mode, each run of capitalised words that do not
// start a sentence and are not common words of the locale.
func (r *Redactor) findCapitalised(toks []token, add func(Kind, int, int)) {
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if !t.capital || t.initial || titleWords[t.folded] || r.lex.isCommon(t.folded, r.opts.Locale) {
			continue
		}
		add(KindPerson, t.start, t.end)
	}
}

// kindRank is each kind's place in Kinds, which breaks ties between overlapping matches.
var kindRank = func() map[Kind]int {
	rank := make(map[Kind]int, len(Kinds))
	for i, k := range Kinds {
		rank[k] = i
	}
	return rank
}()

// resolve sorts matches and keeps, of overlapping ones, the one starting first, then the
// longest, then the kind listed first in Kinds.
func resolve(all []Match) []Match {
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End-a.Start != b.End-b.Start {
			return a.End-a.Start > b.End-b.Start
		}
		return kindRank[a.Kind] < kindRank[b.Kind]
	})
	out := all[:0]
	end := -1
	for _, m := range all {
		if m.Start < end {
			continue
		}
		out = append(out, m)
		end = m.End
	}
	return out
}

// Session redacts the texts of one report with stable placeholders and can restore them.
// It is not safe for concurrent use.
type Session struct {
	r       *Redactor
	forward map[string]string // kind + normalised value → placeholder
	reverse map[string]string // placeholder → first original value
	counts  map[Kind]int
}

// NewSession starts a report's numbering.
func (r *Redactor) NewSession() *Session {
	return &Session{r: r, forward: map[string]string{}, reverse: map[string]string{}, counts: map[Kind]int{}}
}

// Redact returns text with each piece of personal data replaced by its placeholder.
func (s *Session) Redact(text string) string {
	ms := s.r.Find(text)
	if len(ms) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(text[last:m.Start])
		b.WriteString(s.placeholder(m))
		last = m.End
	}
	b.WriteString(text[last:])
	return b.String()
}

func (s *Session) placeholder(m Match) string {
	key := string(m.Kind) + "\x00" + normalise(m.Kind, m.Value)
	if p, ok := s.forward[key]; ok {
		return p
	}
	s.counts[m.Kind]++
	p := fmt.Sprintf("[%s_%d]", m.Kind, s.counts[m.Kind])
	s.forward[key] = p
	s.reverse[p] = m.Value
	return p
}

// Counts returns how many distinct values of each kind the session has replaced.
func (s *Session) Counts() map[Kind]int {
	out := make(map[Kind]int, len(s.counts))
	for k, n := range s.counts {
		out[k] = n
	}
	return out
}

var rePlaceholder = regexp.MustCompile(`\[(EMAIL|PHONE|SSN|NI|IBAN|CARD|ADDRESS|PERSON)_\d+\]`)

// Restore puts back the original values of the placeholders of the given kinds (all kinds
// when none are given). Placeholders the session did not make are left as they are.
func (s *Session) Restore(text string, kinds ...Kind) string {
	return rePlaceholder.ReplaceAllStringFunc(text, func(p string) string {
		kind := Kind(rePlaceholder.FindStringSubmatch(p)[1])
		if len(kinds) > 0 && !slices.Contains(kinds, kind) {
			return p
		}
		if v, ok := s.reverse[p]; ok {
			return v
		}
		return p
	})
}

// Placeholders returns the placeholders in text, for checking that a model kept them.
func Placeholders(text string) []string { return rePlaceholder.FindAllString(text, -1) }

// normalise makes two spellings of one value share a placeholder: "+34 612 345 678" and
// "+34612345678", "Ana López" and "ANA LÓPEZ".
func normalise(k Kind, v string) string {
	switch k {
	case KindPhone, KindCard, KindSSN, KindIBAN, KindNINO:
		return strings.Map(func(r rune) rune {
			if unicode.IsDigit(r) || unicode.IsLetter(r) || r == '+' {
				return unicode.ToUpper(r)
			}
			return -1
		}, v)
	default:
		return strings.ToLower(strings.Join(strings.Fields(v), " "))
	}
}
