package retention

import (
	"testing"
	"time"
)

func TestEveryClassHasADefaultWithinBounds(t *testing.T) {
	for _, c := range Classes {
		if !c.Valid() {
			t.Errorf("%s is listed but has no default", c)
		}
		if err := CheckDays(Default(c)); err != nil {
			t.Errorf("default of %s: %v", c, err)
		}
	}
	if len(defaults) != len(Classes) {
		t.Errorf("%d defaults for %d classes", len(defaults), len(Classes))
	}
}

func TestCheckDays(t *testing.T) {
	for _, tc := range []struct {
		days int
		ok   bool
	}{{29, false}, {30, true}, {365, true}, {2555, true}, {2556, false}, {0, false}, {-5, false}} {
		if err := CheckDays(tc.days); (err == nil) != tc.ok {
			t.Errorf("CheckDays(%d) = %v, want ok=%v", tc.days, err, tc.ok)
		}
	}
}

func TestPolicyCutoff(t *testing.T) {
	asOf := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	p := Policy{Overrides: map[Class]int{Events: 30}}
	if got, want := p.Cutoff(Events, asOf), time.Date(2026, 11, 8, 3, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("events cutoff = %v, want %v", got, want)
	}
	if got, want := p.Days(StagedUploads), Default(StagedUploads); got != want {
		t.Errorf("staged uploads = %d days, want the default %d", got, want)
	}
	if Class("photos").Valid() {
		t.Error("an unknown class is valid")
	}
}
