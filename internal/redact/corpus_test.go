package redact

import (
	"testing"
)

// score is what a corpus run measured.
type score struct {
	want, found       map[Kind]int
	redacted, outside int // words redacted, and of them those outside every marked span
	misses, extras    []string
}

// scoreCorpus finds personal data in each line of a «KIND|value»-marked corpus with a
// Redactor that knows no names, as on text nobody here wrote.
func scoreCorpus(t *testing.T, file string) score {
	t.Helper()
	r := New()
	sc := score{want: map[Kind]int{}, found: map[Kind]int{}}
	for _, line := range corpusLines(t, file) {
		text, want := unmark(line)
		got := r.Find(text)
		for _, w := range want {
			sc.want[w.kind]++
			ok := false
			for _, m := range got {
				if m.Kind == w.kind && m.Start <= w.start && m.End >= w.end {
					ok = true
				}
			}
			if ok {
				sc.found[w.kind]++
			} else {
				sc.misses = append(sc.misses, string(w.kind)+" "+w.value+" in: "+text)
			}
		}
		// Precision counts words: a word redacted that no marked span covers is a mistake.
		for _, m := range got {
			for _, tok := range tokenizeAll(text[m.Start:m.End]) {
				s, e := m.Start+tok[0], m.Start+tok[1]
				sc.redacted++
				inside := false
				for _, w := range want {
					if s < w.end && e > w.start {
						inside = true
					}
				}
				if !inside {
					sc.outside++
					sc.extras = append(sc.extras, string(m.Kind)+" "+text[s:e]+" in: "+text)
				}
			}
		}
	}
	return sc
}

// tokenizeAll cuts s into words and numbers, for counting what was redacted.
func tokenizeAll(s string) [][2]int {
	var out [][2]int
	start := -1
	for i, r := range s + " " {
		word := r == '@' || r == '.' && start >= 0 || r == '-' && start >= 0 || isWordRune(r) || r >= '0' && r <= '9'
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			out = append(out, [2]int{start, i})
			start = -1
		}
	}
	return out
}

func (sc score) log(t *testing.T, name string) (recall map[Kind]float64, precision float64) {
	t.Helper()
	recall = map[Kind]float64{}
	for _, k := range Kinds {
		if sc.want[k] == 0 {
			continue
		}
		recall[k] = float64(sc.found[k]) / float64(sc.want[k])
		t.Logf("%s: %-7s recall %d/%d = %.1f%%", name, k, sc.found[k], sc.want[k], 100*recall[k])
	}
	precision = 1
	if sc.redacted > 0 {
		precision = 1 - float64(sc.outside)/float64(sc.redacted)
	}
	t.Logf("%s: precision %d/%d words redacted were marked = %.1f%%", name, sc.redacted-sc.outside, sc.redacted, 100*precision)
	return recall, precision
}

// TestCorpusRecallAndPrecision holds the redactor to finding every marked value of the
// corpus, with its kind, and to redacting few words besides. The held-out corpus was not
// read while tuning; its figures are logged so a reader can see how the rules generalise.
func TestCorpusRecallAndPrecision(t *testing.T) {
	sc := scoreCorpus(t, "corpus.txt")
	if n := len(corpusLines(t, "corpus.txt")); n < 200 {
		t.Errorf("corpus has %d lines, want at least 200", n)
	}
	recall, precision := sc.log(t, "corpus")
	for k, r := range recall {
		if r < 1 {
			t.Errorf("recall of %s is %.1f%%, want 100%%", k, 100*r)
		}
	}
	for _, m := range sc.misses {
		t.Errorf("missed %s", m)
	}
	if precision <= 0.95 {
		t.Errorf("precision %.1f%%, want above 95%%", 100*precision)
	}
	for _, e := range sc.extras {
		t.Logf("redacted unmarked %s", e)
	}

	held := scoreCorpus(t, "holdout.txt")
	held.log(t, "holdout")
}
