package fold

import "testing"

func TestWord(t *testing.T) {
	for in, want := range map[string]string{
		"Siobhán": "siobhan", "SIOBHAN": "siobhan", "O’Brien": "o'brien", "Weiß": "weiss",
		"Bjørn": "bjorn", "Łukasz": "lukasz", "Yıldız": "yildiz", "Nguyễn": "nguyen",
		"Conceição": "conceicao", "Dvořák": "dvorak", "smith": "smith",
	} {
		if got := Word(in); got != want {
			t.Errorf("Word(%q) = %q, want %q", in, got, want)
		}
	}
}
