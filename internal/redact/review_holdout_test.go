package redact

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode"
)

// TestReviewHoldout measures the redactor on lines written by a reviewer who never saw the
// rules, after they were written: a span counts as found when every word of it is inside
// some match. It is a figure of generalisation, so it asserts only a floor.
func TestReviewHoldout(t *testing.T) {
	f, err := os.Open("testdata/review_holdout.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := New()
	found, total := map[string]int{}, map[string]int{}
	var redactedWords, wrongWords int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			Lang  string                         `json:"lang"`
			Text  string                         `json:"text"`
			Spans []struct{ Kind, Value string } `json:"spans"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		ms := r.Find(line.Text)
		covered := make([]bool, len(line.Text))
		for _, m := range ms {
			for i := m.Start; i < m.End; i++ {
				covered[i] = true
			}
		}
		annotated := make([]bool, len(line.Text))
		for _, s := range line.Spans {
			total[s.Kind]++
			ok, off := false, 0
			for {
				i := strings.Index(line.Text[off:], s.Value)
				if i < 0 {
					break
				}
				start := off + i
				for j := start; j < start+len(s.Value); j++ {
					annotated[j] = true
				}
				if allWordsCovered(line.Text, start, start+len(s.Value), covered) {
					ok = true
				}
				off = start + len(s.Value)
			}
			if ok {
				found[s.Kind]++
			} else {
				t.Logf("missed %s %q in %q", s.Kind, s.Value, line.Text)
			}
		}
		for _, m := range ms {
			for _, w := range words(line.Text, m.Start, m.End) {
				redactedWords++
				if !annotated[w] {
					wrongWords++
					t.Logf("over-redacted %q in %q", m.Value, line.Text)
					break
				}
			}
		}
	}
	var f1, t1 int
	for k, n := range total {
		t.Logf("recall %-8s %d/%d", k, found[k], n)
		f1 += found[k]
		t1 += n
	}
	precision := 1.0
	if redactedWords > 0 {
		precision = float64(redactedWords-wrongWords) / float64(redactedWords)
	}
	t.Logf("recall %d/%d = %.1f%%, precision %.1f%% of %d redacted words", f1, t1, 100*float64(f1)/float64(t1), 100*precision, redactedWords)
	if float64(f1) < 0.9*float64(t1) || precision < 0.95 {
		t.Errorf("held-out recall %d/%d or precision %.3f under the floor (90%%, 95%%)", f1, t1, precision)
	}
}

// words returns the start offsets of the words (letter or digit runs) within [start, end).
func words(text string, start, end int) []int {
	var out []int
	in := false
	for i, r := range text[start:end] {
		w := unicode.IsLetter(r) || unicode.IsDigit(r)
		if w && !in {
			out = append(out, start+i)
		}
		in = w
	}
	return out
}

func allWordsCovered(text string, start, end int, covered []bool) bool {
	for _, w := range words(text, start, end) {
		if !covered[w] {
			return false
		}
	}
	return true
}
