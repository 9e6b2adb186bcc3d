// Package budget is the arithmetic of a tenant's monthly AI budget: reservations made
// before each LLM call, settled with the actual cost after it, alerts at 80, 90 and 100%,
// and the monthly period in the tenant's time zone. It has no clock and no I/O: the
// per-tenant budget workflow owns one Ledger and feeds it workflow time, which is what
// makes it deterministic and race-free (see workflows/budget.go for why).
//
// Amounts are micro-dollars (millionths of a US dollar) so that sums are exact.
package budget

import (
	"fmt"
	"sort"
	"time"
)

// DefaultLimitMicros is a tenant's monthly budget when nothing else is configured: $100.
const DefaultLimitMicros int64 = 100_000_000

// Thresholds are the shares of the limit, in percent, at which an alert fires once per period.
var Thresholds = []int{80, 90, 100}

// ReservationTTL is how long an unsettled reservation holds budget; a report that died
// between reserving and settling does not keep the money forever.
const ReservationTTL = 30 * time.Minute

// Reservation is budget held for one LLM call that has not been settled yet.
type Reservation struct {
	JobID     string    `json:"job_id"`
	Model     string    `json:"model"`
	Micros    int64     `json:"micros"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Ledger is one tenant's budget for the current period.
type Ledger struct {
	TenantID     string                 `json:"tenant_id"`
	LimitMicros  int64                  `json:"limit_micros"`
	Timezone     string                 `json:"timezone"`
	PeriodStart  time.Time              `json:"period_start"`
	ResetAt      time.Time              `json:"reset_at"`
	SpentMicros  int64                  `json:"spent_micros"`
	Reservations map[string]Reservation `json:"reservations"`
	// Alerts are the thresholds that fired this period, each once.
	Alerts []int `json:"alerts"`
	// Calls counts settled calls this period; Rejected counts refused reservations.
	Calls    int `json:"calls"`
	Rejected int `json:"rejected"`
	// Expired are reservations dropped by their TTL, remembered one TTL longer so that
	// SettleOnce still records a late settle of one (money spent is spent).
	Expired map[string]time.Time `json:"expired,omitempty"`
}

// New returns the ledger of a tenant at now.
func New(tenantID string, limitMicros int64, timezone string, now time.Time) (*Ledger, error) {
	l := &Ledger{TenantID: tenantID, LimitMicros: limitMicros, Timezone: timezone, Reservations: map[string]Reservation{}, Alerts: []int{}}
	if err := l.roll(now); err != nil {
		return nil, err
	}
	return l, nil
}

// Period returns the month holding now in the time zone: its first instant and the next
// month's first instant.
func Period(now time.Time, timezone string) (start, reset time.Time, err error) {
	loc, err := time.LoadLocation(timezone)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("budget time zone %q: %w", timezone, err)
	}
	t := now.In(loc)
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
	return start.UTC(), start.AddDate(0, 1, 0).UTC(), nil
}

// roll starts a new period when now has passed the reset date; reservations carry over.
func (l *Ledger) roll(now time.Time) error {
	if !l.ResetAt.IsZero() && now.Before(l.ResetAt) {
		return nil
	}
	start, reset, err := Period(now, l.Timezone)
	if err != nil {
		return err
	}
	l.PeriodStart, l.ResetAt = start, reset
	l.SpentMicros, l.Calls, l.Rejected = 0, 0, 0
	l.Alerts = []int{}
	return nil
}

// expire drops reservations whose holder never settled them.
func (l *Ledger) expire(now time.Time) {
	for id, until := range l.Expired {
		if !now.Before(until) {
			delete(l.Expired, id)
		}
	}
	for id, r := range l.Reservations {
		if !now.Before(r.ExpiresAt) {
			delete(l.Reservations, id)
			if l.Expired == nil {
				l.Expired = map[string]time.Time{}
			}
			l.Expired[id] = now.Add(ReservationTTL)
		}
	}
}

// ReservedMicros is the budget held by open reservations.
func (l *Ledger) ReservedMicros() int64 {
	var n int64
	for _, r := range l.Reservations {
		n += r.Micros
	}
	return n
}

// RemainingMicros is what can still be reserved this period.
func (l *Ledger) RemainingMicros() int64 { return l.LimitMicros - l.SpentMicros - l.ReservedMicros() }

// Configure applies the tenant's current limit and time zone; a new time zone takes effect
// at the next period.
func (l *Ledger) Configure(limitMicros int64, timezone string) error {
	if limitMicros >= 0 {
		l.LimitMicros = limitMicros
	}
	if timezone != "" && timezone != l.Timezone {
		if _, err := time.LoadLocation(timezone); err != nil {
			return fmt.Errorf("budget time zone %q: %w", timezone, err)
		}
		l.Timezone = timezone
	}
	return nil
}

// Decision is a reservation's outcome.
type Decision string

// The reservation outcomes.
const (
	// Granted: the amount is held for the call.
	Granted Decision = "granted"
	// Held: the amount would fit the budget, but not with other calls' reservations still
	// held; asking again shortly, once some settle, can succeed.
	Held Decision = "held"
	// Exhausted: what is already spent leaves no room for the amount this period.
	Exhausted Decision = "exhausted"
)

// Reserve holds micros for one call. It is granted only when spent, held and the new
// reservation together stay within the limit, so concurrent reports can never commit more
// than the budget. Reserving an ID again returns Granted (retries are safe).
func (l *Ledger) Reserve(id, jobID, model string, micros int64, now time.Time) (Decision, error) {
	if err := l.roll(now); err != nil {
		return "", err
	}
	l.expire(now)
	if _, ok := l.Reservations[id]; ok {
		return Granted, nil
	}
	if micros < 0 {
		return "", fmt.Errorf("reservation of %d micro-dollars", micros)
	}
	if l.SpentMicros+micros > l.LimitMicros {
		l.Rejected++
		return Exhausted, nil
	}
	if l.SpentMicros+l.ReservedMicros()+micros > l.LimitMicros {
		return Held, nil
	}
	l.Reservations[id] = Reservation{JobID: jobID, Model: model, Micros: micros, ExpiresAt: now.Add(ReservationTTL)}
	return Granted, nil
}

// Settle replaces reservation id with what the call actually cost and returns the alert
// thresholds this crossed for the first time in the period. Settling an unknown (already
// settled or expired) ID still records the cost when known is false: money spent is spent.
func (l *Ledger) Settle(id string, actualMicros int64, now time.Time) (newAlerts []int, known bool, err error) {
	if err := l.roll(now); err != nil {
		return nil, false, err
	}
	_, known = l.Reservations[id]
	delete(l.Reservations, id)
	l.SpentMicros += actualMicros
	l.Calls++
	l.expire(now)
	return l.crossed(), known, nil
}

// SettleOnce is Settle for callers that may deliver the same settle twice (a batch of
// updates sent again after its answer was lost): a reservation neither open nor recently
// expired was settled or released already, so settling it again records nothing
// (applied is false).
func (l *Ledger) SettleOnce(id string, actualMicros int64, now time.Time) (newAlerts []int, known, applied bool, err error) {
	if _, open := l.Reservations[id]; !open {
		if _, expired := l.Expired[id]; !expired {
			return nil, false, false, nil
		}
		delete(l.Expired, id)
	}
	newAlerts, known, err = l.Settle(id, actualMicros, now)
	return newAlerts, known, err == nil, err
}

// MarkExhausted records that a reservation was refused for lack of budget and returns
// true the first time in the period, so that the 100% alert fires even when careful
// reservations kept the spend just under the limit.
func (l *Ledger) MarkExhausted() bool {
	for _, a := range l.Alerts {
		if a == 100 {
			return false
		}
	}
	l.Alerts = append(l.Alerts, 100)
	sort.Ints(l.Alerts)
	return true
}

// Release drops a reservation whose call was not made (cancelled, failed before calling).
func (l *Ledger) Release(id string) { delete(l.Reservations, id) }

// crossed records and returns thresholds now reached that had not fired this period.
func (l *Ledger) crossed() []int {
	if l.LimitMicros <= 0 {
		return nil
	}
	var out []int
	for _, t := range Thresholds {
		if l.SpentMicros*100 < int64(t)*l.LimitMicros {
			continue
		}
		fired := false
		for _, a := range l.Alerts {
			fired = fired || a == t
		}
		if !fired {
			l.Alerts = append(l.Alerts, t)
			out = append(out, t)
		}
	}
	sort.Ints(l.Alerts)
	return out
}

// Status is a read-only view of the ledger, as the API shows it.
type Status struct {
	TenantID        string    `json:"tenant_id"`
	LimitMicros     int64     `json:"limit_micros"`
	SpentMicros     int64     `json:"spent_micros"`
	ReservedMicros  int64     `json:"reserved_micros"`
	RemainingMicros int64     `json:"remaining_micros"`
	PeriodStart     time.Time `json:"period_start"`
	ResetAt         time.Time `json:"reset_at"`
	Timezone        string    `json:"timezone"`
	Alerts          []int     `json:"alerts"`
	Calls           int       `json:"calls"`
	Rejected        int       `json:"rejected"`
	OpenReservation int       `json:"open_reservations"`
}

// Status returns the ledger's view at now, as the next period when this one has ended. It
// does not change the ledger (queries must not).
func (l *Ledger) Status(now time.Time) Status {
	c := *l
	_ = c.roll(now)
	l = &c
	return Status{
		TenantID: l.TenantID, LimitMicros: l.LimitMicros, SpentMicros: l.SpentMicros,
		ReservedMicros: l.ReservedMicros(), RemainingMicros: l.RemainingMicros(),
		PeriodStart: l.PeriodStart, ResetAt: l.ResetAt, Timezone: l.Timezone,
		Alerts: append([]int{}, l.Alerts...), Calls: l.Calls, Rejected: l.Rejected,
		OpenReservation: len(l.Reservations),
	}
}
