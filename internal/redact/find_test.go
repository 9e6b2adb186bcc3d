package redact

import (
	"strings"
	"testing"
)

func TestNINOPrefixes(t *testing.T) {
	r := New()
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"NI QQ 12 34 56 C on the specimen.", true}, // HMRC's specimen prefix
		{"NI AB123456C.", true},
		{"NI ce 12 34 56 a.", true},
		{"NI JG103742A.", true},
		{"NI DA123456A.", false}, // D is never a first letter
		{"NI AO123456A.", false}, // O is never a second letter
		{"NI GB123456A.", false}, // not allocated
		{"NI TN123456A.", false},
		{"NI ZZ123456A.", false},
		{"NI AB123456E.", false}, // suffixes are A to D
	} {
		got := kindsIn(r.Find(tc.text))[KindNINO]
		if got != tc.want {
			t.Errorf("%q: NI found %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestNumbersThatAreNotPersonalData(t *testing.T) {
	r := New()
	for _, text := range []string{
		"In 2024 the programme reached 1,245 participants; 2019-2023 saw 87.5% growth.",
		"Le budget de 48 000 € a été voté le 12/03/2024, soit 1 245 000 € sur 5 ans.",
		"Im Jahr 2023 halfen 12500 Freiwillige 34567 Stunden lang.",
		"El 12.03.2024 se registraron 1.245.000 visitas y 612 socios.",
		"Il bilancio 2022-2023 è di 48.000 euro; 2.034 risposte al questionario.",
		"Reference A12 2024, table 3, figure 10.",
		"Sessions ran from 09:30 to 17:45 on 14 days between 01.02.2024 and 28.02.2024.",
	} {
		if got := r.Find(text); len(got) > 0 {
			t.Errorf("%q: found %+v", text, got)
		}
	}
}

func TestUnicodeNames(t *testing.T) {
	r := New()
	for _, tc := range []struct{ text, want string }{
		{"Íker Campos Vargas joined in May.", "Íker Campos Vargas"},
		{"We thank Siobhán Ní Bhriain.", "Siobhán Ní Bhriain"},
		{"Mentor Tom O’Brien ran it.", "Tom O’Brien"},
		{"Her mentor was Jean-Pierre Lefèvre.", "Jean-Pierre Lefèvre"},
		{"Frau Weiß leitet die Gruppe.", "Weiß"},
		{"La Sig.ra Esposito ha detto di sì.", "Esposito"},
		{"Es war Ömer Çelik, der kam.", "Ömer Çelik"},
	} {
		var names []string
		for _, m := range r.Find(tc.text) {
			if m.Kind == KindPerson {
				names = append(names, m.Value)
			}
		}
		if strings.Join(names, "|") != tc.want {
			t.Errorf("%q: names %q, want %q", tc.text, names, tc.want)
		}
	}
}

func TestKnownNamesIgnoreCaseAndDiacritics(t *testing.T) {
	r := New("Zoë Ashworth-Nkemelu")
	got := r.Find("ZOE ASHWORTH-NKEMELU called; later Ashworth-Nkemelu wrote.")
	if len(got) != 2 || got[0].Value != "ZOE ASHWORTH-NKEMELU" || got[1].Value != "Ashworth-Nkemelu" {
		t.Errorf("found %+v", got)
	}
}

func TestAggressive(t *testing.T) {
	text := "Yesterday the Zorvath committee visited Quellan near the Library in Leeds."
	if got := New().Find(text); len(got) != 0 {
		t.Errorf("default mode found %+v", got)
	}
	got := NewWithOptions(Options{Aggressive: true, Locale: "en"}).Find(text)
	var words []string
	for _, m := range got {
		words = append(words, m.Value)
	}
	// Not "Yesterday" (it starts the sentence), not "Library" or "Leeds" (common words and places).
	if strings.Join(words, " ") != "Zorvath Quellan" {
		t.Errorf("aggressive found %q", words)
	}
}

func TestCacheKeepsOptionsApart(t *testing.T) {
	var c Cache
	if c.For("Ana López") == c.ForOptions(Options{Aggressive: true}, "Ana López") {
		t.Error("an aggressive Redactor was shared with a default one")
	}
}

func kindsIn(ms []Match) map[Kind]bool {
	out := map[Kind]bool{}
	for _, m := range ms {
		out[m.Kind] = true
	}
	return out
}

// BenchmarkFind finds personal data in every line of the corpus, as report generation
// does with evidence snippets (without the Cache's memory of texts seen before).
func BenchmarkFind(b *testing.B) {
	var texts []string
	for _, line := range corpusLines(b, "corpus.txt") {
		text, _ := unmark(line)
		texts = append(texts, text)
	}
	r := New("Ana López García", "Kwame Mensah")
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, text := range texts {
			r.Find(text)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(texts)), "ns/line")
}

// BenchmarkNew builds a Redactor for a names list; the gazetteer is loaded once per process.
func BenchmarkNew(b *testing.B) {
	sharedLexicon()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		New("Ana López García", "Kwame Mensah", "Siobhan O'Neill")
	}
}

// TestGazetteerLoadedOnce: every Redactor shares the one lexicon read at first use.
func TestGazetteerLoadedOnce(t *testing.T) {
	a, b := New("Ana López"), NewWithOptions(Options{Aggressive: true})
	if a.lex != b.lex || a.lex != sharedLexicon() {
		t.Fatal("Redactors hold different lexicons")
	}
	if n := len(a.lex.names); n < 100_000 {
		t.Errorf("gazetteer has %d names, want over 100,000", n)
	}
	for _, name := range []string{"yilmaz", "mensah", "nakamura", "chowdhury", "petrovic"} {
		if a.lex.names[name] == partNone {
			t.Errorf("gazetteer lacks %q", name)
		}
	}
}
