package redact

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// corpusNames are the participant records and configured names the corpus's people come from.
var corpusNames = []string{"Ana López García", "Kwame Mensah", "Siobhan O'Neill", "Bartholomew Quince"}

var reMarked = regexp.MustCompile(`«([A-Z]+)\|([^»]+)»`)

// expected is one marked piece of personal data in a corpus line.
type expected struct {
	kind       Kind
	value      string
	start, end int
}

// unmark strips the «KIND|value» markup and returns the text and where each value sits.
func unmark(line string) (string, []expected) {
	var b strings.Builder
	var want []expected
	last := 0
	for _, m := range reMarked.FindAllStringSubmatchIndex(line, -1) {
		b.WriteString(line[last:m[0]])
		start := b.Len()
		b.WriteString(line[m[4]:m[5]])
		want = append(want, expected{kind: Kind(line[m[2]:m[3]]), value: line[m[4]:m[5]], start: start, end: b.Len()})
		last = m[1]
	}
	b.WriteString(line[last:])
	return b.String(), want
}

func corpusLines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestRecall asserts that every marked piece of personal data in the corpus is found, with
// its kind, covering the whole value, and that nothing outside the marks is taken.
func TestRecall(t *testing.T) {
	r := New(corpusNames...)
	lines := corpusLines(t, "pii.txt")
	if len(lines) < 200 {
		t.Fatalf("corpus has %d lines, want at least 200", len(lines))
	}
	kinds := map[Kind]int{}
	total, found := 0, 0
	for _, line := range lines {
		text, want := unmark(line)
		if len(want) == 0 {
			t.Errorf("corpus line without a marked value: %q", line)
		}
		got := r.Find(text)
		for _, w := range want {
			total++
			kinds[w.kind]++
			ok := false
			for _, m := range got {
				if m.Kind == w.kind && m.Start <= w.start && m.End >= w.end {
					ok = true
				}
			}
			if ok {
				found++
			} else {
				t.Errorf("missed %s %q in %q; found %+v", w.kind, w.value, text, got)
			}
		}
		for _, m := range got {
			inside := false
			for _, w := range want {
				if m.Start < w.end && m.End > w.start {
					inside = true
				}
			}
			if !inside {
				t.Errorf("false positive %s %q in %q", m.Kind, m.Value, text)
			}
		}
	}
	for _, k := range Kinds {
		if kinds[k] < 3 {
			t.Errorf("corpus has %d cases of %s, want at least 3", kinds[k], k)
		}
	}
	t.Logf("recall %d/%d over %d lines", found, total, len(lines))
}

// TestCleanCorpus asserts no false positives on text without personal data.
func TestCleanCorpus(t *testing.T) {
	r := New(corpusNames...)
	for _, line := range corpusLines(t, "clean.txt") {
		if got := r.Find(line); len(got) > 0 {
			t.Errorf("false positive in %q: %+v", line, got)
		}
	}
}

func TestSessionStablePlaceholdersAndRestore(t *testing.T) {
	s := New("Ana López García").NewSession()
	a := s.Redact("Ana López García called from +34 612 345 678.")
	b := s.Redact("Later ANA LÓPEZ GARCÍA wrote to ana@example.com; her number is +34612345678.")
	if a != "[PERSON_1] called from [PHONE_1]." {
		t.Errorf("first text: %q", a)
	}
	if b != "Later [PERSON_1] wrote to [EMAIL_1]; her number is [PHONE_1]." {
		t.Errorf("second text: %q", b)
	}
	if got := s.Restore("[PERSON_1] thanked the team. [EMAIL_1] [PERSON_9]", KindPerson); got != "Ana López García thanked the team. [EMAIL_1] [PERSON_9]" {
		t.Errorf("restore names only: %q", got)
	}
	if got := s.Restore("[EMAIL_1]"); got != "ana@example.com" {
		t.Errorf("restore all: %q", got)
	}
	if c := s.Counts(); c[KindPerson] != 1 || c[KindPhone] != 1 || c[KindEmail] != 1 {
		t.Errorf("counts: %v", c)
	}
}

func TestChecksums(t *testing.T) {
	for _, tc := range []struct {
		in   string
		luhn bool
		iban bool
	}{
		{"4111 1111 1111 1111", true, false},
		{"4111 1111 1111 1112", false, false},
		{"GB82 WEST 1234 5698 7654 32", false, true},
		{"GB82 WEST 1234 5698 7654 33", false, false},
	} {
		if got := luhn(tc.in); got != tc.luhn {
			t.Errorf("luhn(%q) = %v", tc.in, got)
		}
		if got := validIBAN(tc.in); got != tc.iban {
			t.Errorf("validIBAN(%q) = %v", tc.in, got)
		}
	}
}

// TestCacheSharesRedactorsByNames: the same names in any order get the same Redactor, and
// a remembered text answers what finding it afresh answers.
func TestCacheSharesRedactorsByNames(t *testing.T) {
	var c Cache
	a := c.For("Lucía Fernández", "John Smith")
	if b := c.For("John Smith", "Lucía Fernández"); b != a {
		t.Error("the same names in another order got another Redactor")
	}
	if other := c.For("John Smith"); other == a {
		t.Error("other names got the same Redactor")
	}
	text := "John Smith (john.smith@example.com, +44 20 7946 0958) met Lucía Fernández at 12 rue de la Paix."
	first := a.Find(text)
	again := a.Find(text)
	fresh := New("John Smith", "Lucía Fernández").Find(text)
	if len(first) == 0 || !slices.Equal(first, fresh) || !slices.Equal(again, fresh) {
		t.Fatalf("cached %v, again %v, fresh %v", first, again, fresh)
	}
	again[0].Value = "changed"
	if a.Find(text)[0].Value == "changed" {
		t.Error("a caller's change to the answer reached the cache")
	}
}
