package demo

import (
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// evidenceSources are where snippets come from, with how often.
var evidenceSources = []struct {
	name   string
	weight float64
}{{"survey", 0.3}, {"interview", 0.2}, {"case_note", 0.3}, {"email", 0.2}}

// testCards are card numbers payment processors publish for testing; all pass Luhn.
var testCards = []string{"4111111111111111", "5555555555554444", "4012888888881881"}

// WriteEvidence writes tenantID's evidence snippets as NDJSON import rows and returns how many.
func (d *Dataset) WriteEvidence(w io.Writer, tenantID string) (int, error) {
	plan, err := d.plan(tenantID)
	if err != nil {
		return 0, err
	}
	r := d.rng(tenantID, "evidence")
	var active []int // enrollments with someone who came at least once
	for i, e := range plan.enrollments {
		if e.show > 0 {
			active = append(active, i)
		}
	}
	rw := newRowWriter(w)
	for i := range plan.snippetCount {
		e := &plan.enrollments[active[r.IntN(len(active))]]
		t := d.win.snippetTime(r, plan.prof, plan.programs[e.program], e)
		source := pickSource(r)
		if source == "interview" && plan.programs[e.program].kind == kindDonation {
			source = "case_note" // donors are not interviewed about their progress
		}
		text := plan.compose(r, e, source, t, &d.win)

		b := append(rw.buf, `{"snippet_id":"ev-`...)
		b = append(b, tenantID...)
		b = append(b, '-')
		b = appendPadded(b, i+1, 4)
		b = append(b, `","program":`...)
		b = appendJSONString(b, plan.programs[e.program].code)
		b = append(b, `,"participant":`...)
		b = appendJSONString(b, plan.people[e.person].ID)
		b = append(b, `,"text":`...)
		b = appendJSONString(b, text)
		b = append(b, `,"source":"`...)
		b = append(b, source...)
		b = append(b, `","occurred_at":"`...)
		b = d.win.appendStamp(b, t)
		rw.buf = append(b, "\"}\n"...)
		rw.endRow()
	}
	return plan.snippetCount, rw.flush()
}

// snippetTime is a working hour during the participant's time in the program.
func (w *window) snippetTime(r *rand.Rand, prof *profile, spec *programSpec, e *enrollment) int64 {
	last := w.days - 1
	lo := min(max(e.startDay+3, 0), last)
	hi := min(max(e.startDay+int(e.cadence*float64(e.sessions))+14, lo), last)
	d := workday(w, lo+r.IntN(hi-lo+1), spec.weekend, r)
	t := w.at(min(d, last), 8*3600+r.IntN(13*3600), prof)
	return min(max(t, w.start), w.end-1)
}

func pickSource(r *rand.Rand) string {
	x := r.Float64()
	for _, s := range evidenceSources {
		if x < s.weight {
			return s.name
		}
		x -= s.weight
	}
	return evidenceSources[len(evidenceSources)-1].name
}

// compose writes one snippet: a few sentences from the phrasebook of a language the
// tenant's people write in, in the voice the source calls for, with personal details
// dropped in the way people do drop them.
func (plan *tenantPlan) compose(r *rand.Rand, e *enrollment, source string, t int64, w *window) string {
	prof := plan.prof
	lang := prof.langs[0]
	for i, x := 0, r.Float64(); i < len(prof.langs); i++ {
		if x < prof.langWeights[i] {
			lang = prof.langs[i]
			break
		}
		x -= prof.langWeights[i]
	}
	book := phrasebooks[lang]
	spec := plan.programs[e.program]
	vars := plan.vars(r, e, lang, t, w)
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	g := 0 // which of a pair of lists: sessions, or giving
	if spec.kind == kindDonation {
		g = 1
	}
	pii := func(templates [piiKinds][]string) string {
		kind := piiPhone
		switch x := r.Float64(); {
		case x < 0.25:
			kind = piiEmail
		case x < 0.4:
			kind = piiAddress
		case x < 0.55 && spec.kind == kindDonation:
			kind = piiCard
		case x < 0.6 && len(prof.idKinds) > 0:
			kind = prof.idKinds[r.IntN(len(prof.idKinds))]
		}
		if len(templates[kind]) == 0 {
			kind = piiPhone
		}
		return pick(templates[kind])
	}

	var sentences []string
	add := func(s string) { sentences = append(sentences, s) }
	var text string
	switch source {
	case "case_note", "interview":
		switch x := r.Float64(); {
		case x < 0.7 || source == "interview" && x < 0.85:
			add(pick(book.noteOpen[g]))
		case x < 0.9:
			add(pick(book.noteOpenAnon[g]))
		}
		if source == "interview" {
			add(pick(book.noteQuote))
		}
		add(pick(themed(book.noteOutcome[spec.kind], book.noteTheme, spec.theme)))
		if r.Float64() < 0.4 {
			add(pick(book.noteFeeling[g]))
		}
		if len(sentences) < 4 && r.Float64() < 0.4 {
			add(pick(book.noteNext[g]))
		}
		if r.Float64() < 0.45 {
			if len(sentences) == 4 {
				sentences = sentences[:3]
			}
			add(pii(book.notePII))
		}
		text = strings.Join(sentences, " ")
	default: // survey, email: the participant writing
		if r.Float64() < 0.5 {
			add(pick(book.selfOpen[g]))
		}
		add(pick(themed(book.selfOutcome[spec.kind], book.selfTheme, spec.theme)))
		if r.Float64() < 0.5 {
			add(pick(book.selfFeeling[g]))
		}
		if len(sentences) < 3 && r.Float64() < 0.4 {
			add(pick(book.selfNext[g]))
		}
		if source == "email" && r.Float64() < 0.5 || r.Float64() < 0.15 {
			add(pii(book.selfPII))
		}
		text = strings.Join(sentences, " ")
		if source == "email" {
			text = pick(book.greeting) + "\n\n" + text + "\n\n" + pick(book.signoff)
		} else if r.Float64() < 0.45 {
			text += "\n" + pick(book.surveySign)
		}
	}
	return expand(text, vars)
}

// themed is a program theme's outcomes when the phrasebook has them, else its kind's.
func themed(byKind []string, byTheme map[string][]string, theme string) []string {
	if list := byTheme[theme]; len(list) > 0 {
		return list
	}
	return byKind
}

// vars are the values a snippet's placeholders take.
func (plan *tenantPlan) vars(r *rand.Rand, e *enrollment, lang string, t int64, w *window) map[string]string {
	prof, p, spec := plan.prof, &plan.people[e.person], plan.programs[e.program]
	book := phrasebooks[lang]
	places := prof.places[lang]
	if len(places) == 0 {
		places = prof.places[prof.locale]
	}
	peer := plan.people[r.IntN(len(plan.people))].FullName
	if peer == p.FullName {
		peer = plan.people[(e.person+1)%len(plan.people)].FullName
	}
	since := time.Unix(w.day0+int64(max(e.startDay, 0))*secondsPerDay, 0).UTC()
	next := time.Unix(t, 0).UTC().AddDate(0, 0, 3+r.IntN(18))
	return map[string]string{
		"name":        p.FullName,
		"first":       p.first,
		"mentor":      e.mentor,
		"mentorFirst": firstWord(e.mentor),
		"manager":     p.manager,
		"coord":       firstWord(prof.staff[e.program%len(prof.staff)]),
		"peer":        peer,
		"program":     spec.name,
		"activity":    book.activity[spec.kind],
		"city":        prof.cities[p.city].name,
		"place":       places[r.IntN(len(places))],
		"n":           itoa(2 + r.IntN(18)),
		"hours":       decimal(int64(50*(1+r.IntN(16))), lang),
		"amount":      money(giftCents[r.IntN(len(giftCents))], prof.currency, lang),
		"score":       itoa(55 + r.IntN(45)),
		"date":        localDate(next, lang, prof.region),
		"today":       localDate(time.Unix(t, 0).UTC(), lang, prof.region),
		"month":       book.months[since.Month()-1],
		"phone":       phoneAsWritten(r, p.Phone),
		"email":       p.Email,
		"address":     prof.address(r, prof.cities[p.city]),
		"iban":        iban(r, prof.ibans),
		"card":        card(r),
		"ssn":         "900-" + itoa(10+r.IntN(40)) + "-" + pad(r.IntN(10000), 4),
		"nino":        nino(r),
	}
}

// expand fills {placeholders} from vars; unknown ones are left as they are.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		if v, ok := vars[s[i+1:i+j]]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return b.String()
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i > 0 {
		return s[:i]
	}
	return s
}

// localDate writes a day the way the language (and, for English, the country) does.
func localDate(t time.Time, lang, region string) string {
	day, month := itoa(t.Day()), phrasebooks[lang].months[t.Month()-1]
	switch {
	case lang == "es":
		return day + " de " + month
	case lang == "fr" && t.Day() == 1:
		return "1er " + month
	case lang == "fr":
		return day + " " + month
	case region == "us-east":
		return month + " " + day
	}
	return day + " " + month
}

// decimal writes hundredths with the language's decimal separator: "2,5" or "2.5".
func decimal(v int64, lang string) string {
	s := string(appendHundredths(nil, v))
	if lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// money writes an amount as people write it: "25 €", "12,50 €", "€25", "$12.50", "£30".
func money(cents int64, currency, lang string) string {
	s := itoa(int(cents / 100))
	if c := cents % 100; c != 0 {
		sep := "."
		if lang != "en" {
			sep = ","
		}
		s += sep + pad(int(c), 2)
	}
	symbol := map[string]string{"EUR": "€", "USD": "$", "GBP": "£"}[currency]
	if lang != "en" && currency == "EUR" {
		return s + " " + symbol
	}
	return symbol + s
}

// phoneAsWritten is the participant's number, as stored or in its national format.
func phoneAsWritten(r *rand.Rand, phone string) string {
	if r.Float64() < 0.6 {
		return phone
	}
	switch {
	case strings.HasPrefix(phone, "+34 ") && r.Float64() < 0.5:
		return strings.ReplaceAll(phone[4:], " ", "")
	case strings.HasPrefix(phone, "+34 "):
		return phone[4:]
	case strings.HasPrefix(phone, "+33 "):
		return "0" + phone[4:]
	case strings.HasPrefix(phone, "+44 "):
		return "0" + phone[4:]
	case strings.HasPrefix(phone, "("):
		return "+1 " + strings.NewReplacer("(", "", ")", "", " ", "-").Replace(phone)
	}
	return phone
}

func iban(r *rand.Rand, ibans []string) string {
	if len(ibans) == 0 {
		return "GB82WEST12345698765432"
	}
	s := ibans[r.IntN(len(ibans))]
	if r.Float64() < 0.5 {
		return s
	}
	return group(s, 4, " ")
}

func card(r *rand.Rand) string {
	sep := []string{" ", "-", ""}[r.IntN(3)]
	return group(testCards[r.IntN(len(testCards))], 4, sep)
}

// nino is a UK National Insurance number with the QQ prefix, which HMRC never issues.
func nino(r *rand.Rand) string {
	digits := pad(r.IntN(1000000), 6)
	suffix := string("ABCD"[r.IntN(4)])
	if r.Float64() < 0.5 {
		return "QQ" + digits + suffix
	}
	return "QQ " + digits[0:2] + " " + digits[2:4] + " " + digits[4:6] + " " + suffix
}

func group(s string, n int, sep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}
