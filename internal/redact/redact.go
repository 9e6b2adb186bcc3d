// Package redact replaces personal data in free text with stable placeholders before the
// text leaves the process (to an LLM), and restores it afterwards where allowed.
//
// It finds emails, phone numbers (international and national formats), US social security
// numbers, UK national insurance numbers, IBANs (checked with mod 97), card numbers
// (checked with Luhn), street addresses (English, Spanish and French forms) and people's
// names (the tenant's participant records, a configurable names list, a built-in list of
// given names, and titles such as Mr, Sra. or Mme).
//
// A Session numbers what it finds per kind in order of first appearance, so the same value
// gets the same placeholder everywhere in one report ([PERSON_1] is always the same
// person). The mapping back to the original values lives only in the Session: callers keep
// it inside the activity that needs it and never put it in a workflow history or a log.
package redact

import (
	_ "embed"
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

//go:embed given_names.txt
var givenNamesFile string

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
	// known holds full names from participant records and the configured list, longest first.
	known *regexp.Regexp
	given map[string]bool
	memo  *memo // set by Cache: remembers Find's answers per text
}

// New returns a Redactor that also knows the given names (participants' full names, the
// tenant's or operator's names list). Empty names are ignored.
func New(names ...string) *Redactor {
	r := &Redactor{given: map[string]bool{}}
	for _, line := range strings.Split(givenNamesFile, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			r.given[line] = true
		}
	}
	var alts []string
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.Join(strings.Fields(n), " ")
		if utf8.RuneCountInString(n) < 3 || seen[n] {
			continue
		}
		seen[n] = true
		alts = append(alts, n)
		// A participant called by their first name alone is still that participant.
		if parts := strings.Fields(n); len(parts) > 1 && utf8.RuneCountInString(parts[0]) >= 3 {
			r.given[parts[0]] = true
		}
	}
	if len(alts) > 0 {
		sort.Slice(alts, func(i, j int) bool { return len(alts[i]) > len(alts[j]) })
		quoted := make([]string, len(alts))
		for i, a := range alts {
			quoted[i] = strings.ReplaceAll(regexp.QuoteMeta(a), `\ `, `\s+`)
			quoted[i] = strings.ReplaceAll(quoted[i], " ", `\s+`)
		}
		r.known = regexp.MustCompile(`(?i:\b(?:` + strings.Join(quoted, "|") + `)\b)`)
	}
	return r
}

var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}`)
	reIBAN  = regexp.MustCompile(`\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b`)
	// Cards are written in groups of four (Amex: 4-6-5) or as one run of digits.
	reCard = regexp.MustCompile(`\b\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?\b|\b\d{4}[ -]\d{6}[ -]\d{5}\b|\b\d{13,19}\b`)
	reSSN  = regexp.MustCompile(`\b(\d{3})[- ](\d{2})[- ](\d{4})\b`)
	reNINO = regexp.MustCompile(`(?i:\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b)`)
	// A phone number: an international prefix (+ or 00) or a national form with separators.
	// Candidates are kept only with 9 to 15 digits, so years, counts and dates never match.
	rePhone = regexp.MustCompile(`(?:\+|\b00)\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){2,6}\b` +
		`|\(\d{2,5}\)[ .\-]?\d{2,4}(?:[ .\-]?\d{2,4}){1,3}\b` +
		`|\b0\d{1,4}(?:[ .\-]\d{2,6}){1,4}\b` + // national with a trunk 0: 06 12 34 56 78, 020 7946 0958, 07700 900123
		`|\b\d{3}[.\-]\d{3}[.\-]\d{4}\b` + // North American: 212-555-0147
		`|\b[6-9]\d{2} \d{3} \d{3}\b|\b9\d \d{3} \d{2} \d{2}\b` + // Spanish: 612 345 678, 91 123 45 67
		`|\b0\d{9,10}\b`)
	// Street addresses: "221B Baker Street", "Flat 2, 14 Church Street", "1600 Maple Ave.",
	// "Calle de Alcalá 45", "C/ Mayor, 3", "Avenida de la Constitución nº 12",
	// "12 bis rue de la République", "3, avenue Jean Jaurès".
	reAddressEN = regexp.MustCompile(`(?:\b(?:Flat|Apt\.?|Apartment|Unit|Suite)\s+\d+[A-Z]?,?\s+)?\b\d{1,5}[A-Z]?,?\s+(?:[A-Z][\p{L}'’]+\s+){1,3}` +
		`(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Boulevard|Blvd|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Close|Crescent|Square|Sq|Gardens|Grove|Row|Parkway|Pkwy|Highway|Hwy)\b\.?` +
		`(?:,?\s+(?:Apt|Apartment|Unit|Suite|Flat)\.?\s+#?\d+[A-Z]?)?`)
	reAddressES = regexp.MustCompile(`\b(?:Calle|C/|Avenida|Avda\.|Av\.|Paseo|Plaza|Pza\.|Camino|Carrer|Ronda|Travesía|Glorieta)\s+` +
		`(?:(?:de|del|de la|de los|de las|la|el|San|Santa)\s+)*[\p{Lu}\d][\p{L}'’.\-]*(?:\s+(?:de\s+|del\s+|de la\s+)?[\p{Lu}][\p{L}'’.\-]*){0,3}` +
		`,?\s*(?:n[º°o]\.?\s*|número\s+)?\d{1,4}[A-Za-z]?(?:,\s*(?:\d+º\s*[\p{L}]*\.?|bajo|ático))?`)
	reAddressFR = regexp.MustCompile(`\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|av\.|boulevard|bd|place|allée|impasse|chemin|quai|cours|route|square)\s+` +
		`(?:(?:de la|de l'|de l’|des|du|de|d'|d’)\s*)?[\p{Lu}\d][\p{L}'’\-]*(?:\s+[\p{Lu}][\p{L}'’\-]*){0,3}`)
	// A capitalised word, for names.
	reWord   = regexp.MustCompile(`\b\p{Lu}[\p{Ll}'’\-]*\p{Ll}\b|\b\p{Lu}'\p{Lu}\p{Ll}+\b`)
	reTitled = regexp.MustCompile(`\b(?:Mr|Mrs|Ms|Miss|Dr|Sr|Sra|Srta|Mme|Mlle|Don|Doña|Monsieur|Madame|Señor|Señora)\.?\s+` +
		`(\p{Lu}[\p{L}'’\-]+(?:\s+(?:de\s+|del\s+|de la\s+|van\s+|von\s+)?\p{Lu}[\p{L}'’\-]+){0,2})`)
)

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
		all = append(all, Match{Kind: k, Start: s, End: e, Value: text[s:e]})
	}
	for _, loc := range reEmail.FindAllStringIndex(text, -1) {
		add(KindEmail, loc[0], loc[1])
	}
	for _, loc := range reIBAN.FindAllStringIndex(text, -1) {
		if validIBAN(text[loc[0]:loc[1]]) {
			add(KindIBAN, loc[0], loc[1])
		}
	}
	for _, loc := range reCard.FindAllStringIndex(text, -1) {
		if luhn(text[loc[0]:loc[1]]) {
			add(KindCard, loc[0], loc[1])
		}
	}
	for _, m := range reSSN.FindAllStringSubmatchIndex(text, -1) {
		area, group, serial := text[m[2]:m[3]], text[m[4]:m[5]], text[m[6]:m[7]]
		if area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000" {
			add(KindSSN, m[0], m[1])
		}
	}
	for _, loc := range reNINO.FindAllStringIndex(text, -1) {
		v := strings.ToUpper(strings.ReplaceAll(text[loc[0]:loc[1]], " ", ""))
		if p := v[:2]; p != "BG" && p != "GB" && p != "NK" && p != "KN" && p != "TN" && p != "NT" && p != "ZZ" {
			add(KindNINO, loc[0], loc[1])
		}
	}
	for _, re := range []*regexp.Regexp{reAddressEN, reAddressES, reAddressFR} {
		for _, loc := range re.FindAllStringIndex(text, -1) {
			add(KindAddress, loc[0], loc[1])
		}
	}
	for _, loc := range rePhone.FindAllStringIndex(text, -1) {
		if n := digits(text[loc[0]:loc[1]]); n >= 9 && n <= 15 {
			add(KindPhone, loc[0], loc[1])
		}
	}
	r.findNames(text, add)
	return resolve(all)
}

// findNames adds people's names: known full names, titled names (Mme Dupont), and runs of
// capitalised words that start with a known given name (Lucía Fernández Ruiz).
func (r *Redactor) findNames(text string, add func(Kind, int, int)) {
	if r.known != nil {
		for _, loc := range r.known.FindAllStringIndex(text, -1) {
			add(KindPerson, loc[0], loc[1])
		}
	}
	for _, m := range reTitled.FindAllStringSubmatchIndex(text, -1) {
		add(KindPerson, m[0], m[1])
	}
	words := reWord.FindAllStringIndex(text, -1)
	for i := 0; i < len(words); i++ {
		w := words[i]
		if !r.given[text[w[0]:w[1]]] {
			continue
		}
		end := w[1]
		// Surnames follow with single spaces, optionally joined by de/del/y (Spanish) or a hyphen.
		for j := i + 1; j < len(words) && j <= i+3; j++ {
			gap := text[end:words[j][0]]
			if gap != " " && gap != " de " && gap != " del " && gap != " y " && gap != "-" {
				break
			}
			end = words[j][1]
			i = j
		}
		add(KindPerson, w[0], end)
	}
}

// resolve sorts matches and keeps, of overlapping ones, the one starting first, then the
// longest, then the kind listed first in Kinds.
func resolve(all []Match) []Match {
	rank := map[Kind]int{}
	for i, k := range Kinds {
		rank[k] = i
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End-a.Start != b.End-b.Start {
			return a.End-a.Start > b.End-b.Start
		}
		return rank[a.Kind] < rank[b.Kind]
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

func digits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// luhn checks a card number's check digit; only 13-19 digit numbers qualify.
func luhn(s string) bool {
	var ds []int
	for _, r := range s {
		if r >= '0' && r <= '9' {
			ds = append(ds, int(r-'0'))
		}
	}
	if len(ds) < 13 || len(ds) > 19 {
		return false
	}
	sum := 0
	for i := range ds {
		d := ds[len(ds)-1-i]
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// validIBAN checks an IBAN's mod-97 checksum (ISO 13616).
func validIBAN(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	s = s[4:] + s[:4]
	rem := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			rem = (rem*10 + int(r-'0')) % 97
		case r >= 'A' && r <= 'Z':
			rem = (rem*100 + int(r-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}
