package redact

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/impactflow/impactflow/internal/redact/internal/fold"
)

// Identifiers. The patterns find candidates; checksums, prefix rules, digit counts and the
// neighbouring runes (Go's \b is ASCII-only) decide.
var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}`)
	// IBANs of any country, grouped by four or not, in either case; the longest prefix that
	// passes mod 97 is taken, so a word after the number is not.
	reIBAN = regexp.MustCompile(`(?i)[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?`)
	// Cards are written in groups of four (Amex: 4-6-5) or as one run of digits.
	reCard = regexp.MustCompile(`\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?|\d{4}[ -]\d{6}[ -]\d{5}|\d{13,19}`)
	reSSN  = regexp.MustCompile(`(\d{3})[- ](\d{2})[- ](\d{4})`)
	reNINO = regexp.MustCompile(`(?i)[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]`)

	// Phone numbers: international (+ or 00 and a country code), national with a trunk 0
	// (UK 020 7946 0958, FR 06 12 34 56 78, DE 030 12345678, IT 06 6982 0000, IE 087 123
	// 4567), and national without one (ES 612 345 678, PT 912 345 678, IT 347 123 4567).
	// Digit counts per form, checked after, keep years, amounts, dates and counts out.
	rePhoneIntl    = regexp.MustCompile(`(?:\+|00)[1-9]\d{0,2}(?:[ .\-]?\(0\))?(?:[ .\-]?(?:\(\d{1,4}\)|\d{1,5})){2,6}`)
	rePhoneTrunk   = regexp.MustCompile(`0\d{1,4}(?:[ ./\-]?\d{2,8}){1,4}|\(0\d{1,4}\) ?\d{3,8}(?:[ .\-]\d{2,4}){0,2}`)
	rePhoneNoTrunk = regexp.MustCompile(`[236789]\d{1,2}(?:[ .]\d{2,4}){2,3}`)
	reNANP         = regexp.MustCompile(`(?:\d{3}[.\-]|\(\d{3}\) ?)\d{3}[.\-]\d{4}`)

	// Postcodes of the UK, Ireland (Eircode), FR/DE/ES/IT (five digits) and PT (4-3), with
	// the town written beside them: "London NW1 6XE", "Dublin D02 X285", "75002 Paris".
	reUKPostcode = regexp.MustCompile(`(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) ?\d[ABD-HJLNP-UW-Z]{2}`)
	reEircode    = regexp.MustCompile(`(?:[AC-FHKNPRTV-Y]\d{2}|D6W) ?([0-9AC-FHKNPRTV-Y]{4})`)
	rePostcode   = regexp.MustCompile(`(?:[A-Z]{1,2}-)?(?:\d{5}|\d{4}-\d{3}) +(\p{Lu}[\p{L}'’\-]+)(?: (?:am|an der|sur|sous|en|de|del|di|do|da) \p{Lu}[\p{L}'’\-]+| Cedex(?: \d{1,2})?)?`)

	// Street addresses: "221B Baker Street", "Flat 2, 14 Church Street", "Calle de Alcalá
	// 45", "C/ Mayor, 3", "12 bis rue de la République", "Hauptstraße 12", "Via Roma 15",
	// "Rua Augusta 27". A postcode and town after one joins it.
	reAddressEN = regexp.MustCompile(`(?:\b(?:Flat|Apt\.?|Apartment|Unit|Suite)\s+\d+[A-Z]?,?\s+)?\b\d{1,5}[A-Z]?,?\s+(?:[A-Z][\p{L}'’]+\s+){1,3}` +
		`(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Boulevard|Blvd|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Close|Crescent|Square|Sq|Gardens|Grove|Row|Parkway|Pkwy|Highway|Hwy|Quay|Walk|Hill|Park)\b\.?` +
		`(?:,?\s+(?:Apt|Apartment|Unit|Suite|Flat)\.?\s+#?\d+[A-Z]?)?`)
	reAddressES = regexp.MustCompile(`\b(?:Calle|C/|Avenida|Avda\.|Av\.|Paseo|Plaza|Pza\.|Camino|Carrer|Ronda|Travesía|Glorieta)\s+` +
		`(?:(?:de|del|de la|de los|de las|la|el|San|Santa)\s+)*[\p{Lu}\d][\p{L}'’.\-]*(?:\s+(?:de\s+|del\s+|de la\s+)?[\p{Lu}][\p{L}'’.\-]*){0,3}` +
		`,?\s*(?:n[º°o]\.?\s*|número\s+)?\d{1,4}[A-Za-z]?(?:,\s*(?:\d+º\s*[\p{L}]*\.?|bajo|ático))?`)
	reAddressFR = regexp.MustCompile(`\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|av\.|boulevard|bd|place|allée|impasse|chemin|quai|cours|route|square)\s+` +
		`(?:(?:de la|de l'|de l’|des|du|de|d'|d’)\s*)?[\p{Lu}\d][\p{L}'’\-]*(?:\s+[\p{Lu}][\p{L}'’\-]*){0,3}`)
	reAddressDE = regexp.MustCompile(`\p{Lu}[\p{L}\-]*(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|chaussee) \d{1,4}[a-z]?` +
		`|\p{Lu}[\p{L}\-]* (?:Straße|Strasse|Str\.|Weg|Platz|Allee|Gasse|Ring|Damm) \d{1,4}[a-z]?`)
	reAddressIT = regexp.MustCompile(`\b(?:Via|Viale|Piazza|Piazzale|Corso|Largo|Vicolo|Contrada)\s+(?:(?:dei|del|della|delle|degli|di|San|Santa|Sant')\s*)*` +
		`\p{Lu}[\p{L}'’\-]*(?:\s+\p{Lu}[\p{L}'’\-]*){0,3},?\s*(?:n\.\s*)?\d{1,4}(?:/?[A-Za-z]\b)?`)
	reAddressPT = regexp.MustCompile(`\b(?:Rua|Avenida|Av\.|Travessa|Largo|Praça|Estrada|Alameda|Calçada|Beco)\s+(?:(?:do|da|dos|das|de)\s+)*` +
		`\p{Lu}[\p{L}'’\-]*(?:\s+(?:(?:do|da|dos|das|de)\s+)?\p{Lu}[\p{L}'’\-]*){0,3},?\s*(?:n\.?º\s*)?\d{1,4}[A-Za-z]?`)
	// Each pattern with the words one of which an address it finds must contain (in lower
	// case): trying a pattern at every capital or digit costs more than looking for them.
	addressPatterns = []struct {
		re    *regexp.Regexp
		words []string
	}{
		{reAddressEN, []string{"street", " st", "avenue", " ave", "road", " rd", "lane", " ln", "boulevard", "blvd", "drive", " dr",
			"court", " ct", " way", "place", " pl", "terrace", "close", "crescent", "square", " sq", "gardens", "grove", " row",
			"parkway", "pkwy", "highway", "hwy", "quay", "walk", "hill", "park"}},
		{reAddressES, []string{"calle", "c/", "av", "paseo", "plaza", "pza", "camino", "carrer", "ronda", "travesía", "glorieta"}},
		{reAddressFR, []string{"rue", "av", "boulevard", "bd", "place", "allée", "impasse", "chemin", "quai", "cours", "route", "square"}},
		{reAddressDE, []string{"straße ", "strasse ", "str. ", "weg ", "platz ", "allee ", "gasse ", "ring ", "damm ", "ufer ", "chaussee "}},
		{reAddressIT, []string{"via", "viale", "piazza", "corso", "largo", "vicolo", "contrada"}},
		{reAddressPT, []string{"rua", "av", "travessa", "largo", "praça", "estrada", "alameda", "calçada", "beco"}},
	}
)

// findIdentifiers adds every identifier, address and postcode in text.
func (r *Redactor) findIdentifiers(text string, add func(Kind, int, int)) {
	if strings.IndexByte(text, '@') >= 0 {
		for _, loc := range reEmail.FindAllStringIndex(text, -1) {
			add(KindEmail, loc[0], loc[1])
		}
	}
	// Every other identifier has a digit, and most sentences have none.
	if !strings.ContainsAny(text, "0123456789") {
		return
	}
	each := func(re *regexp.Regexp, f func(s, e int)) {
		for _, loc := range re.FindAllStringIndex(text, -1) {
			if isolated(text, loc[0], loc[1]) {
				f(loc[0], loc[1])
			}
		}
	}
	// IBANs, NI numbers and British and Irish postcodes have a letter just before a digit;
	// the patterns that start with a letter would otherwise be tried at each one.
	letterDigit := hasLetterBeforeDigit(text)
	if letterDigit {
		for _, loc := range reIBAN.FindAllStringIndex(text, -1) {
			if e := ibanEnd(text, loc[0], loc[1]); e > 0 {
				add(KindIBAN, loc[0], e)
			}
		}
	}
	each(reCard, func(s, e int) {
		if luhn(text[s:e]) {
			add(KindCard, s, e)
		}
	})
	for _, m := range reSSN.FindAllStringSubmatchIndex(text, -1) {
		area, group, serial := text[m[2]:m[3]], text[m[4]:m[5]], text[m[6]:m[7]]
		if isolated(text, m[0], m[1]) && area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000" {
			add(KindSSN, m[0], m[1])
		}
	}
	if letterDigit {
		each(reNINO, func(s, e int) {
			if ninoPrefix(strings.ToUpper(text[s : s+2])) {
				add(KindNINO, s, e)
			}
		})
	}
	if strings.IndexByte(text, '+') >= 0 || strings.Contains(text, "00") {
		each(rePhoneIntl, func(s, e int) {
			n := digits(text[s:e])
			if strings.HasPrefix(text[s:], "00") {
				n -= 2
			}
			if n >= 9 && n <= 15 {
				add(KindPhone, s, e)
			}
		})
	}
	each(rePhoneTrunk, func(s, e int) {
		if n := digits(text[s:e]); n >= 9 && n <= 12 {
			add(KindPhone, s, e)
		}
	})
	each(rePhoneNoTrunk, func(s, e int) {
		n := digits(text[s:e])
		if text[s] == '3' && n == 10 || text[s] != '3' && n == 9 {
			add(KindPhone, s, e)
		}
	})
	each(reNANP, func(s, e int) { add(KindPhone, s, e) })

	var addresses []Match
	addAddress := func(s, e int) { addresses = append(addresses, Match{Kind: KindAddress, Start: s, End: e}) }
	lower := strings.ToLower(text)
	for _, p := range addressPatterns {
		if !slices.ContainsFunc(p.words, func(w string) bool { return strings.Contains(lower, w) }) {
			continue
		}
		for _, loc := range p.re.FindAllStringIndex(text, -1) {
			addAddress(loc[0], loc[1])
		}
	}
	r.findPostcodes(text, letterDigit, addAddress)
	for _, m := range joinAdjacent(text, addresses) {
		add(KindAddress, m.Start, m.End)
	}
}

// findPostcodes adds postcodes with the town beside them. A five-digit number before an
// ordinary word ("12500 Freiwillige") is a count, not a postcode.
func (r *Redactor) findPostcodes(text string, letterDigit bool, add func(s, e int)) {
	if letterDigit {
		r.findBritishIrishPostcodes(text, add)
	}
	if !hasDigitRun(text, 4) {
		return
	}
	for _, m := range rePostcode.FindAllStringSubmatchIndex(text, -1) {
		if isolated(text, m[0], m[1]) && !r.lex.isWord(fold.Word(text[m[2]:m[3]])) {
			add(m[0], m[1])
		}
	}
}

// findBritishIrishPostcodes adds UK postcodes and Eircodes, with the town before them.
func (r *Redactor) findBritishIrishPostcodes(text string, add func(s, e int)) {
	for _, loc := range reUKPostcode.FindAllStringIndex(text, -1) {
		if isolated(text, loc[0], loc[1]) {
			add(r.withTown(text, loc[0]), loc[1])
		}
	}
	for _, m := range reEircode.FindAllStringSubmatchIndex(text, -1) {
		if !isolated(text, m[0], m[1]) {
			continue
		}
		start := r.withTown(text, m[0])
		// A unique identifier of digits only ("A12 2024") is an Eircode only after a
		// known place: "Cork 1234" could be anything else.
		if !strings.ContainsFunc(text[m[2]:m[3]], unicode.IsLetter) && (start == m[0] || !r.lex.in(fold.Word(text[start:m[0]-1]), "places")) {
			continue
		}
		add(start, m[1])
	}
}

// hasLetterBeforeDigit reports whether an ASCII letter is followed by a digit, directly
// or after one space (QQ 12 34 56 C).
func hasLetterBeforeDigit(text string) bool {
	for i := 1; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			continue
		}
		j := i - 1
		if text[j] == ' ' && j > 0 {
			j--
		}
		if c := text[j] | 0x20; c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
}

// hasDigitRun reports whether text has n digits in a row.
func hasDigitRun(text string, n int) bool {
	run := 0
	for i := 0; i < len(text); i++ {
		if text[i] >= '0' && text[i] <= '9' {
			if run++; run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// withTown returns where a postcode at s starts once the town written before it is
// counted in: "London NW1 6XE". An ordinary word before it ("Meet NW1 6XE") is no town.
func (r *Redactor) withTown(text string, s int) int {
	if s < 2 || text[s-1] != ' ' {
		return s
	}
	start := s - 1
	for start > 0 {
		c, n := utf8.DecodeLastRuneInString(text[:start])
		if !isWordRune(c) && c != '-' && c != '\'' && c != '’' {
			break
		}
		start -= n
	}
	word := text[start : s-1]
	if first, _ := utf8.DecodeRuneInString(word); word == "" || !unicode.IsUpper(first) || r.lex.isWord(fold.Word(word)) {
		return s
	}
	return start
}

// joinAdjacent merges addresses that touch or are separated only by a comma and spaces:
// a street followed by its postcode and town is one address.
func joinAdjacent(text string, ms []Match) []Match {
	ms = resolve(ms)
	var out []Match
	for _, m := range ms {
		if n := len(out); n > 0 && m.Start-out[n-1].End <= 3 && strings.Trim(text[out[n-1].End:m.Start], ", ") == "" {
			out[n-1].End = m.End
			continue
		}
		out = append(out, m)
	}
	return out
}

// isolated reports whether text[s:e] stands alone: no letter or digit touches either end.
func isolated(text string, s, e int) bool {
	if s > 0 {
		r, _ := utf8.DecodeLastRuneInString(text[:s])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	if e < len(text) {
		r, _ := utf8.DecodeRuneInString(text[e:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// ninoPrefix reports whether HMRC issues a national insurance number with this prefix, or
// uses it for specimens (QQ). First letters D, F, I, Q, U, V and second letters D, F, I,
// O, Q, U, V are not used, nor BG, GB, KN, NK, NT, TN and ZZ.
func ninoPrefix(p string) bool {
	if p == "QQ" {
		return true
	}
	switch p {
	case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
		return false
	}
	return !strings.ContainsRune("DFIQUV", rune(p[0])) && !strings.ContainsRune("DFIOQUV", rune(p[1]))
}

// ibanEnd returns where the IBAN starting at s ends: the longest candidate up to e, cut
// at a group boundary, that passes mod 97; 0 when none does.
func ibanEnd(text string, s, e int) int {
	if r, _ := utf8.DecodeLastRuneInString(text[:s]); s > 0 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
		return 0
	}
	for end := e; end-s >= 15; end-- {
		if end < len(text) && text[end] != ' ' && !isolated(text, s, end) {
			continue
		}
		if validIBAN(strings.ToUpper(text[s:end])) {
			return end
		}
	}
	return 0
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
