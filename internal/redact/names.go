package redact

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/impactflow/impactflow/internal/redact/internal/fold"
)

// token is a word of the text: letters and marks, with apostrophes and hyphens inside
// (O'Brien, O’Brien, Jean-Pierre, d'Almeida). Go's regexp \b knows only ASCII letters, so
// words are cut here by Unicode classes instead.
type token struct {
	start, end int
	folded     string
	capital    bool // starts with an upper-case letter, or an elided particle and one (d'Almeida)
	allCaps    bool // IKEA, NHS: acronyms, not names
	initial    bool // first word of a sentence
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) }

// tokenize cuts text into words; digits and punctuation separate them.
func tokenize(text string) []token {
	var toks []token
	sentenceStart := true
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) {
			switch {
			case r == '.' || r == '!' || r == '?' || r == ';' || r == '\n':
				sentenceStart = true
			case unicode.IsDigit(r):
				sentenceStart = false
			}
			i += n
			continue
		}
		start := i
		for i < len(text) {
			r, n := utf8.DecodeRuneInString(text[i:])
			if isWordRune(r) {
				i += n
				continue
			}
			// An apostrophe or hyphen stays inside a word when a letter follows it.
			if r == '\'' || r == '’' || r == '-' || r == '‐' {
				if next, _ := utf8.DecodeRuneInString(text[i+n:]); isWordRune(next) {
					i += n
					continue
				}
			}
			break
		}
		// An English possessive is not part of the name: "Kwame Ofori's sister".
		end := i
		for _, suffix := range []string{"'s", "’s"} {
			if strings.HasSuffix(text[start:i], suffix) && i-start > len(suffix)+1 {
				end = i - len(suffix)
			}
		}
		w := text[start:end]
		toks = append(toks, token{start: start, end: end, folded: fold.Word(w), capital: capitalised(w), allCaps: allCaps(w), initial: sentenceStart})
		sentenceStart = false
	}
	return toks
}

// capitalised reports whether w is written like a name: an upper-case first letter, or an
// elided lower-case particle before one (d'Almeida, l’Hôpital).
func capitalised(w string) bool {
	first, n := utf8.DecodeRuneInString(w)
	if unicode.IsUpper(first) {
		return true
	}
	if rest := w[n:]; strings.HasPrefix(rest, "'") || strings.HasPrefix(rest, "’") {
		_, m := utf8.DecodeRuneInString(rest)
		next, _ := utf8.DecodeRuneInString(rest[m:])
		return unicode.IsUpper(next)
	}
	return false
}

func allCaps(w string) bool {
	letters := 0
	for _, r := range w {
		if unicode.IsLower(r) {
			return false
		}
		if unicode.IsLetter(r) {
			letters++
		}
	}
	return letters >= 2
}

// Particles joining the parts of a name: "María José Ruiz de la Fuente", "Pieter van der
// Berg", "Khalid bin Rashid". Written with a capital they start a name (Van der Berg said).
var particles = setOf("de", "del", "della", "dei", "di", "da", "das", "do", "dos", "du", "des", "la", "le", "los", "las",
	"van", "von", "der", "den", "ter", "ten", "zu", "bin", "ibn", "ben", "bint", "al", "el", "abu",
	"ni", "nic", "o", "mac", "mc", "ui", "st")

// Titles and honorifics of en, es, fr, de, it and pt, matched against the text just before
// a run of capitalised words; what follows one is a person whatever the gazetteer says.
var reTitleBefore = regexp.MustCompile(`(?:^|[^\p{L}])(?:Mr|Mrs|Ms|Miss|Mx|Dr|Drs|Prof|Sir|Dame|Lady|Lord|Rev|` +
	`Sr|Sra|Srta|Sres|Dra|Dña|Dª|Don|Doña|Señor|Señora|Señorita|D|` +
	`M|MM|Mme|Mmes|Mlle|Monsieur|Madame|Mademoiselle|Maître|Pr|` +
	`Herr|Frau|Hr|Fr|` +
	`Sig|Sig\.ra|Sig\.na|Signor|Signora|Signorina|Dott|Dott\.ssa|Avv|Ing|` +
	`Sr\.ª|Sra\.ª|Dona|Dom|Senhor|Senhora|Eng|Engª)\.?\s+$`)

// titleWords are the titles as words, so a run of capitalised words never takes one in.
var titleWords = setOf("mr", "mrs", "ms", "miss", "mx", "dr", "drs", "prof", "sir", "dame", "lady", "lord", "rev",
	"sr", "sra", "srta", "sres", "dra", "dna", "don", "dona", "senor", "senora", "senorita",
	"mme", "mmes", "mlle", "monsieur", "madame", "mademoiselle", "maitre", "pr",
	"herr", "frau", "hr", "sig", "signor", "signora", "signorina", "dott", "avv", "ing", "dom", "senhor", "senhora", "eng")

// Speech and attribution: a run of capitalised words right before "said" (or after
// "according to") is a person. An auxiliary may come between (a dit, ha detto).
var (
	speechVerbs = setOf("said", "says", "told", "tells", "explained", "explains", "added", "adds", "wrote", "writes",
		"recalled", "recalls", "asked", "noted", "commented", "confirmed", "reported", "admitted", "thinks", "believes",
		"dijo", "dice", "conto", "cuenta", "explico", "explica", "afirma", "afirmo", "comento", "comenta", "anadio",
		"senalo", "escribio", "asegura", "aseguro", "relata", "recuerda", "reconoce",
		"dit", "explique", "explique", "raconte", "affirme", "ajoute", "precise", "souligne", "ecrit", "confie", "estime", "declare",
		"sagte", "sagt", "meint", "meinte", "erzahlte", "erzahlt", "berichtete", "berichtet", "erklarte", "erklart", "schrieb", "betont", "findet",
		"detto", "disse", "spiega", "spiegato", "racconta", "raccontato", "afferma", "affermato", "scrive", "scritto", "aggiunge", "sottolinea",
		"diz", "contou", "conta", "explicou", "afirmou", "escreveu", "acrescenta", "referiu", "refere", "garante", "lembra")
	// A capitalised word right after a word for a relative, or a verb that takes a person,
	// is a person: "his wife Rokeya", "Ask Bongani", "sa fille Awa".
	addressing = setOf("wife", "husband", "son", "daughter", "mother", "father", "sister", "brother", "grandson",
		"granddaughter", "niece", "nephew", "cousin", "ask", "asked", "thank", "thanked", "met", "meet", "interviewed",
		"congratulate", "congratulated", "invite", "invited", "welcome", "welcomed", "dear",
		"esposa", "marido", "hijo", "hija", "madre", "padre", "hermana", "hermano", "nieta", "nieto",
		"femme", "mari", "fils", "fille", "mere", "pere", "soeur", "frere",
		"tochter", "sohn", "mutter", "vater", "schwester", "bruder", "liebe", "lieber",
		"moglie", "marito", "figlio", "figlia", "sorella", "fratello",
		"filho", "filha", "mae", "pai", "irma", "irmao", "neta", "neto")
	auxiliaries = setOf("a", "ha", "hat", "has", "had", "have", "also", "then", "later", "once")
	attribution = setOf("segun", "selon", "laut", "secondo", "segundo")
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// run is a candidate name: consecutive capitalised words, joined by single spaces and
// particles, as token indexes [first, last].
type run struct{ first, last int }

// findNames adds people's names found by the gazetteer and the context rules.
func (r *Redactor) findNames(text string, toks []token, add func(Kind, int, int)) {
	lx := r.lex
	var persons []run
	for _, rn := range candidateRuns(text, toks) {
		persons = append(persons, r.judge(text, toks, rn)...)
	}
	// A name part alone is that person when the text names them in full elsewhere
	// ("Aisha Khan … Khan said").
	mentioned := map[string]bool{}
	taken := make([]bool, len(toks))
	for _, p := range persons {
		if p.last > p.first {
			for i := p.first; i <= p.last; i++ {
				if !particles[toks[i].folded] {
					mentioned[toks[i].folded] = true
				}
			}
		}
		for i := p.first; i <= p.last; i++ {
			taken[i] = true
		}
	}
	for i, t := range toks {
		if !taken[i] && t.capital && !t.allCaps && mentioned[t.folded] && !lx.isCommon(t.folded, "") {
			persons = append(persons, run{i, i})
		}
	}
	for _, p := range persons {
		add(KindPerson, toks[p.first].start, toks[p.last].end)
	}
}

// candidateRuns groups capitalised words: "Pieter van der Berg", "Mei Lin Chen". A
// particle joins only between capitalised words; a comma, a digit or two spaces end a run.
func candidateRuns(text string, toks []token) []run {
	var runs []run
	for i := 0; i < len(toks); i++ {
		if !nameLike(toks[i]) {
			continue
		}
		j := i
		for k := i + 1; k < len(toks); k++ {
			// A possessive joins too, so "The Prince's Trust" is seen whole.
			if gap := text[toks[k-1].end:toks[k].start]; gap != " " && gap != "'s " && gap != "’s " {
				break
			}
			if nameLike(toks[k]) {
				j = k
				continue
			}
			if !particles[toks[k].folded] || toks[k].capital {
				break
			}
		}
		runs = append(runs, run{i, j})
		i = j
	}
	return runs
}

func nameLike(t token) bool {
	return t.capital && !t.allCaps && !titleWords[t.folded] && (utf8.RuneCountInString(t.folded) >= 2 || particles[t.folded])
}

// judge decides which part of a run, if any, is a person.
func (r *Redactor) judge(text string, toks []token, rn run) []run {
	// "Nuffield Foundation", "St John Ambulance", "Victoria Station", "The Prince's Trust"
	// name organisations and places, even when a person's name is in them.
	if r.hasOrgWord(toks, rn) {
		return nil
	}
	// A person's name never crosses an ordinary word or a place: "the London cohort".
	var out []run
	for i := rn.first; i <= rn.last; {
		j := i
		for j <= rn.last && !r.ordinary(toks[j]) {
			j++
		}
		if j > i {
			out = append(out, r.judgePart(text, toks, run{i, j - 1})...)
		}
		i = j + 1
	}
	return out
}

// hasOrgWord reports whether a word of the run makes it an organisation or a place.
func (r *Redactor) hasOrgWord(toks []token, rn run) bool {
	for i := rn.first; i <= rn.last; i++ {
		if r.lex.in(toks[i].folded, "org") {
			return true
		}
	}
	return false
}

// ordinary reports whether a capitalised word is a common word, place or organisation
// word rather than possibly a name. A lower-case particle is never ordinary inside a run.
func (r *Redactor) ordinary(t token) bool {
	if particles[t.folded] || r.known[t.folded] {
		return false
	}
	// "Irish-language", "Anglo-Saxon": a compound of an ordinary word is ordinary.
	if first, _, ok := strings.Cut(t.folded, "-"); ok && !particles[first] && r.lex.isCommon(first, "") {
		return true
	}
	return r.lex.isCommon(t.folded, "")
}

// partOf says how far a word is a name part: a word of a known full name counts as a
// given name; otherwise the gazetteer, then the parts of a compound, decide.
func (r *Redactor) partOf(t token) part {
	if r.known[t.folded] {
		return partGiven
	}
	if p := r.lex.names[t.folded]; p != partNone {
		return p
	}
	// Hyphenated names: Ji-woo, Owusu-Ansah, Al-Farsi; the parts speak for the whole.
	best := partNone
	if strings.Contains(t.folded, "-") {
		for _, p := range strings.Split(t.folded, "-") {
			if particles[p] {
				continue
			}
			if q := r.lex.names[p]; q > best {
				best = q
			}
		}
	}
	// Irish and Scottish patronymics and elided particles: O'Brien, MacAllister, d'Almeida.
	for _, pre := range []string{"o'", "d'", "mac", "mc"} {
		if rest, ok := strings.CutPrefix(t.folded, pre); ok && len(rest) >= 3 {
			if q := r.lex.names[rest]; q > best {
				best = q
			}
			if pre == "o'" || pre == "d'" {
				best = max(best, partSurname)
			}
		}
	}
	return best
}

// judgePart applies the rules to a run of possible name parts.
func (r *Redactor) judgePart(text string, toks []token, rn run) []run {
	// Lower-case particles neither start nor end a name.
	for rn.first <= rn.last && particles[toks[rn.first].folded] && !toks[rn.first].capital {
		rn.first++
	}
	for rn.last > rn.first && particles[toks[rn.last].folded] && !toks[rn.last].capital {
		rn.last--
	}
	if rn.first > rn.last {
		return nil
	}
	// "San Sebastián", "Saint-Étienne", "Sierra Leone" are places.
	first := toks[rn.first].folded
	if before, _, ok := strings.Cut(first, "-"); r.lex.in(first, "place-prefix") || ok && r.lex.in(before, "place-prefix") {
		return nil
	}
	if r.inContext(text, toks, rn) {
		return []run{rn}
	}
	// A sentence-initial word the gazetteer does not know is an ordinary word written with
	// a capital (Mentor, Volunteer), not part of the name after it; so is a verb (Ask).
	if t := toks[rn.first]; t.initial && rn.last > rn.first && !particles[t.folded] && r.ordinaryAtStart(toks, rn) {
		rn.first++
		if rn.first > rn.last {
			return nil
		}
		if r.inContext(text, toks, rn) {
			return []run{rn}
		}
	}
	anchors, parts, words := 0, 0, 0
	for i := rn.first; i <= rn.last; i++ {
		if particles[toks[i].folded] {
			continue
		}
		words++
		switch r.partOf(toks[i]) {
		case partGiven, partSurname:
			anchors++
			parts++
		case partWord, partGivenWord:
			parts++
		}
	}
	switch {
	case words >= 2 && (anchors >= 1 || parts >= 2):
		return []run{rn}
	case words == 1 && r.partOf(toks[rn.first]) == partGiven:
		return []run{rn} // a given name that is no ordinary word, even starting a sentence
	case words == 1 && !toks[rn.first].initial && r.partOf(toks[rn.first]) == partGivenWord:
		return []run{rn}
	case words == 1 && anchors == 1 && initialBefore(text, toks, rn.first):
		return []run{{rn.first - 1, rn.last}} // "J. Okafor"
	}
	return nil
}

// ordinaryAtStart reports whether the sentence-initial first word of a run is an ordinary
// word rather than the start of the name: one the gazetteer does not know (Mentor), a verb
// (Ask), or an ordinary word that is also a surname before an anchor (Later Chen).
func (r *Redactor) ordinaryAtStart(toks []token, rn run) bool {
	t := toks[rn.first]
	switch r.partOf(t) {
	case partNone:
		return true
	case partWord, partGivenWord:
		if addressing[t.folded] || speechVerbs[t.folded] {
			return true
		}
	}
	if r.partOf(t) != partWord {
		return false
	}
	for i := rn.first + 1; i <= rn.last; i++ {
		if p := r.partOf(toks[i]); p == partGiven || p == partSurname {
			return true
		}
	}
	return false
}

// inContext reports whether what surrounds the run says it is a person: a title, a
// speech verb, a relative or a verb that takes a person.
func (r *Redactor) inContext(text string, toks []token, rn run) bool {
	return r.titled(text, toks[rn.first].start) || r.attributed(toks, rn) || r.addressed(toks, rn)
}

// initialBefore reports whether an initial ("J. ") comes right before token i. M. and D.
// are titles in French and Spanish, not initials.
func initialBefore(text string, toks []token, i int) bool {
	if i == 0 {
		return false
	}
	t := toks[i-1]
	w := text[t.start:t.end]
	return utf8.RuneCountInString(w) == 1 && t.capital && w != "M" && w != "D" && text[t.end:toks[i].start] == ". "
}

// addressed reports whether the word before the run is a relative or a verb that takes a
// person (his wife Rokeya, Ask Bongani), and the run is not an ordinary word.
func (r *Redactor) addressed(toks []token, rn run) bool {
	k := rn.first - 1
	return k >= 0 && addressing[toks[k].folded] && r.partOf(toks[rn.first]) != partWord
}

// titled reports whether a title or honorific ends just before offset (Mme Dupont, Sig.ra
// Rossi, Dr. Demir).
func (r *Redactor) titled(text string, offset int) bool {
	from := max(0, offset-12)
	for from > 0 && !utf8.RuneStart(text[from]) {
		from--
	}
	return reTitleBefore.MatchString(text[from:offset])
}

// attributed reports whether a speech verb follows the run (Khan said, Moreau a dit) or
// comes just before it (dijo Íker Campos), or an attribution precedes it (according to
// Hamza Benali, selon Thi Hoa Tran).
func (r *Redactor) attributed(toks []token, rn run) bool {
	if k := rn.last + 1; k < len(toks) && !toks[k].capital {
		if speechVerbs[toks[k].folded] {
			return true
		}
		if auxiliaries[toks[k].folded] && k+1 < len(toks) && speechVerbs[toks[k+1].folded] {
			return true
		}
	}
	k := rn.first - 1
	if k < 0 {
		return false
	}
	before := toks[k].folded
	if attribution[before] {
		return true // also sentence-initial: "Laut Dariusz Zieliński fehlen …"
	}
	return !toks[k].capital && (speechVerbs[before] || before == "to" && k > 0 && toks[k-1].folded == "according")
}
