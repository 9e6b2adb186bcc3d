package budget

import (
	"slices"
	"testing"
	"time"
)

func TestPeriodInTimezone(t *testing.T) {
	// 23:30 UTC on 31 March is already 1 April in Madrid (UTC+2 in summer time).
	now := time.Date(2026, 3, 31, 23, 30, 0, 0, time.UTC)
	start, reset, err := Period(now, "Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC); !start.Equal(want) {
		t.Errorf("start %v, want %v", start, want)
	}
	if want := time.Date(2026, 4, 30, 22, 0, 0, 0, time.UTC); !reset.Equal(want) {
		t.Errorf("reset %v, want %v", reset, want)
	}
	if _, _, err := Period(now, "Mars/Olympus"); err == nil {
		t.Error("want an error for an unknown zone")
	}
}

func TestReserveSettleAlertsAndRollover(t *testing.T) {
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	l, err := New("acme", 1000, "UTC", now)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := l.Reserve("r1", "job", "m", 600, now); d != Granted {
		t.Fatal("r1 must be granted")
	}
	if d, _ := l.Reserve("r1", "job", "m", 600, now); d != Granted || l.ReservedMicros() != 600 {
		t.Fatal("reserving the same ID again must be idempotent")
	}
	if d, _ := l.Reserve("r2", "job", "m", 500, now); d != Held {
		t.Fatalf("r2 exceeds the budget with r1 held: %s", d)
	}
	if d, _ := l.Reserve("r2", "job", "m", 1001, now); d != Exhausted {
		t.Fatalf("r2 exceeds the budget by itself: %s", d)
	}
	alerts, known, _ := l.Settle("r1", 850, now)
	if !known || !slices.Equal(alerts, []int{80}) || l.SpentMicros != 850 || l.ReservedMicros() != 0 {
		t.Fatalf("settle: alerts %v known %v spent %d", alerts, known, l.SpentMicros)
	}
	if d, _ := l.Reserve("r3", "job", "m", 100, now); d != Granted {
		t.Fatal("r3 fits")
	}
	alerts, _, _ = l.Settle("r3", 100, now)
	if !slices.Equal(alerts, []int{90}) {
		t.Errorf("alerts %v, want [90]", alerts)
	}
	alerts, _, _ = l.Settle("r3", 0, now) // a repeated settle adds nothing and fires nothing
	if len(alerts) != 0 || l.SpentMicros != 950 {
		t.Errorf("repeat settle: alerts %v spent %d", alerts, l.SpentMicros)
	}
	if s := l.Status(now.AddDate(0, 1, 0)); s.SpentMicros != 0 || len(s.Alerts) != 0 || l.SpentMicros != 950 {
		t.Errorf("status of next month must show a fresh period without changing the ledger: %+v", s)
	}
	next := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if d, _ := l.Reserve("r4", "job", "m", 1000, next); d != Granted || l.SpentMicros != 0 || len(l.Alerts) != 0 || !l.PeriodStart.Equal(next) {
		t.Errorf("June is a new period: %+v", l.Status(next))
	}
}

func TestReservationsExpire(t *testing.T) {
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	l, _ := New("acme", 1000, "UTC", now)
	l.Reserve("r1", "job", "m", 1000, now)
	if d, _ := l.Reserve("r2", "job", "m", 1, now.Add(ReservationTTL-time.Second)); d != Held {
		t.Fatal("r1 still holds the budget")
	}
	if d, _ := l.Reserve("r2", "job", "m", 1, now.Add(ReservationTTL)); d != Granted {
		t.Fatal("r1 has expired")
	}
}

func TestSettleOnceCountsAReservationOnce(t *testing.T) {
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	l, _ := New("acme", 1000, "UTC", now)
	l.Reserve("r1", "job", "m", 100, now)
	l.Reserve("late", "job", "m", 100, now)
	if _, known, applied, _ := l.SettleOnce("r1", 80, now); !known || !applied || l.SpentMicros != 80 {
		t.Fatalf("first settle: known %v applied %v spent %d", known, applied, l.SpentMicros)
	}
	if _, _, applied, _ := l.SettleOnce("r1", 80, now); applied || l.SpentMicros != 80 {
		t.Errorf("a settle delivered twice counts once: applied %v spent %d", applied, l.SpentMicros)
	}
	// "late" expires (its holder was slow), then settles: the money was spent all the same.
	later := now.Add(ReservationTTL + time.Minute)
	l.Reserve("other", "job", "m", 1, later)
	if _, known, applied, _ := l.SettleOnce("late", 90, later); known || !applied || l.SpentMicros != 170 {
		t.Errorf("settle after expiry: known %v applied %v spent %d", known, applied, l.SpentMicros)
	}
	if _, _, applied, _ := l.SettleOnce("late", 90, later); applied || l.SpentMicros != 170 {
		t.Errorf("a late settle delivered twice counts once: spent %d", l.SpentMicros)
	}
	// Expired IDs are forgotten one TTL after they expired.
	l.Reserve("gone", "job", "m", 1, later)
	much := later.Add(3 * ReservationTTL)
	l.Reserve("x", "job", "m", 1, much)
	if len(l.Expired) != 2 { // "gone" and "other" expired just now; nothing older is kept
		t.Errorf("expired %v", l.Expired)
	}
}
