package demo

import (
	"io"
	"math"
	"math/rand/v2"
	"time"
)

// The event kinds, each with the JSON that follows it in a row.
const (
	rowSignup    = `signup","occurred_at":"`
	rowStarted   = `session_started","occurred_at":"`
	rowCompleted = `session_completed","occurred_at":"`
	rowHours     = `volunteer_hours","occurred_at":"`
	rowOutcome   = `outcome_measured","occurred_at":"`
	rowDonation  = `donation","occurred_at":"`
)

// flushAt is how full the row buffer gets before it is written out.
const flushAt = 64 << 10

// rowWriter collects rows in a buffer and writes them out in large pieces, so that the
// writer underneath may be unbuffered.
type rowWriter struct {
	w   io.Writer
	buf []byte
	err error
}

func newRowWriter(w io.Writer) *rowWriter {
	return &rowWriter{w: w, buf: make([]byte, 0, flushAt+4<<10)}
}

func (rw *rowWriter) endRow() {
	if len(rw.buf) >= flushAt {
		rw.flush()
	}
}

func (rw *rowWriter) flush() error {
	if rw.err == nil && len(rw.buf) > 0 {
		_, rw.err = rw.w.Write(rw.buf)
	}
	rw.buf = rw.buf[:0]
	return rw.err
}

// eventRows writes event rows: {"event_id", "program", "participant", "kind",
// "occurred_at", "value", "attributes"} in that order, built by appending bytes.
type eventRows struct {
	*rowWriter
	win    *window
	prefix string // `{"event_id":"evt-demo-`
	n      int
	head   []byte // `","program":"…","participant":"…","kind":"` of the current enrollment
	attrs  []byte // the current enrollment's attributes, without braces
}

// setSubject starts the rows of one program and participant.
func (e *eventRows) setSubject(program, participant, location, cohort string) {
	e.head = append(append(append(append(e.head[:0], `","program":"`...), program...), `","participant":"`...), participant...)
	e.head = append(e.head, `","kind":"`...)
	e.attrs = appendJSONString(append(e.attrs[:0], `"location":`...), location)
	e.attrs = appendJSONString(append(e.attrs, `,"cohort":`...), cohort)
}

// emit writes one event; value is in hundredths, extra is more attributes (",\"k\":…").
func (e *eventRows) emit(kind string, t int64, value int64, extra string) {
	e.n++
	b := append(e.buf, e.prefix...)
	b = appendPadded(b, e.n, 6)
	b = append(b, e.head...)
	b = append(b, kind...)
	b = e.win.appendStamp(b, t)
	b = append(b, `","value":`...)
	b = appendHundredths(b, value)
	b = append(b, `,"attributes":{`...)
	b = append(b, e.attrs...)
	b = append(b, extra...)
	e.buf = append(b, "}}\n"...)
	e.endRow()
}

// EventIDPrefix starts the ID of every event WriteEvents writes for the tenant.
func EventIDPrefix(tenantID string) string { return "evt-" + tenantID + "-" }

// WriteEvents writes tenantID's impact events as NDJSON import rows and returns how many.
func (d *Dataset) WriteEvents(w io.Writer, tenantID string) (int, error) {
	plan, err := d.plan(tenantID)
	if err != nil {
		return 0, err
	}
	r := d.rng(tenantID, "events")
	rows := &eventRows{rowWriter: newRowWriter(w), win: &d.win, prefix: `{"event_id":"` + EventIDPrefix(tenantID)}
	for i := range plan.enrollments {
		e := &plan.enrollments[i]
		p, spec := &plan.people[e.person], plan.programs[e.program]
		location := plan.prof.cities[p.city].name
		if e.remote {
			location = "remote"
		}
		rows.setSubject(spec.code, p.ID, location, d.win.cohort(e.startDay))
		if spec.kind == kindDonation {
			simulateGiving(r, rows, plan.prof, spec, e)
		} else {
			simulateSessions(r, rows, plan.prof, spec, e)
		}
		if rows.err != nil {
			return rows.n, rows.err
		}
	}
	return rows.n, rows.flush()
}

// simulateSessions plays out one participant's sessions in a program: book, attend,
// complete, log hours, answer an outcome survey now and then, perhaps drop out.
func simulateSessions(r *rand.Rand, rows *eventRows, prof *profile, spec *programSpec, e *enrollment) {
	w := rows.win
	metric := ""
	if spec.metric != "" {
		metric = `,"metric":"` + spec.metric + `"`
	}
	day := float64(e.startDay)
	completed := 0
	for s := range e.sessions {
		if s > 0 {
			day += e.cadence * (0.75 + 0.5*r.Float64())
		}
		d := workday(w, int(math.Floor(day)), spec.weekend, r)
		if d >= w.days {
			return
		}
		if d >= 0 && r.Float64() >= prof.season[w.months[d]-1] {
			continue // a holiday: the session did not take place
		}
		start := int64(0)
		if d >= 0 {
			local := spec.hourFrom*3600 + r.IntN(spec.hourTo-spec.hourFrom+1)*3600 + 900*r.IntN(4)
			start = w.at(d, local, prof)
		}
		if start >= w.end {
			return
		}
		inWindow := start >= w.start
		if inWindow {
			// Booked one to six days ahead, at any waking hour, never before the window opened.
			signup := w.at(d-1-r.IntN(6), 7*3600+r.IntN(16*3600), prof)
			if signup < w.start {
				signup = w.start + r.Int64N(start-w.start+1)
			}
			rows.emit(rowSignup, signup, 100, "")
		}
		if r.Float64() >= e.show {
			if r.Float64() < 3*e.drop {
				return
			}
			continue
		}
		started := start + r.Int64N(300)
		if started >= w.end {
			return
		}
		if inWindow {
			rows.emit(rowStarted, started, 100, "")
		}
		if r.Float64() >= e.finish {
			continue // left early
		}
		minutes := spec.minMinutes + r.IntN(spec.maxMinutes-spec.minMinutes+1)
		if spec.kind == kindVolunteering {
			minutes = 30 * shiftHalfHours[r.IntN(len(shiftHalfHours))]
		}
		end := started + int64(minutes)*60 + r.Int64N(120)
		completed++
		if end >= w.end {
			return
		}
		if inWindow {
			rows.emit(rowCompleted, end, 100, "")
		}
		if spec.kind == kindVolunteering {
			if logged := end + r.Int64N(3*secondsPerDay); inWindow && logged < w.end {
				rows.emit(rowHours, logged, int64(minutes)*100/60, "")
			}
		}
		if metric != "" && (completed == 1 || completed%spec.outcomeEvery == 0) {
			score := e.baseline + e.growth*float64(completed) + 5*r.NormFloat64()
			score = math.Round(math.Max(0, math.Min(100, score)))
			if at := end + 600 + r.Int64N(2*secondsPerDay); inWindow && at < w.end {
				rows.emit(rowOutcome, at, int64(score)*100, metric)
			}
		}
		if r.Float64() < e.drop {
			return
		}
	}
}

// shiftHalfHours is how long volunteering shifts last, in half hours: mostly a morning,
// sometimes a whole day.
var shiftHalfHours = []int{1, 2, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 8, 8, 8, 9, 10, 12, 14, 15, 16}

// workday moves a session off Sundays, and off Saturdays unless the program meets then.
func workday(w *window, d int, weekend bool, r *rand.Rand) int {
	if d < 0 || d >= w.days {
		return d
	}
	switch w.weekdays[d] {
	case time.Sunday:
		return d + 1
	case time.Saturday:
		if weekend && r.Float64() < 0.6 {
			return d
		}
		return d + 2
	}
	return d
}

// simulateGiving plays out a donor's pledge and gifts.
func simulateGiving(r *rand.Rand, rows *eventRows, prof *profile, spec *programSpec, e *enrollment) {
	w := rows.win
	extra := `,"currency":"` + prof.currency + `","campaign":"` + spec.campaign + `"`
	gift := giftCents[r.IntN(len(giftCents))]
	day := float64(e.startDay)
	if d := e.startDay; d >= 0 && d < w.days {
		if t := w.at(d, 8*3600+r.IntN(14*3600), prof); t >= w.start && t < w.end {
			rows.emit(rowSignup, t, 100, "")
		}
	}
	for range e.sessions {
		day += e.cadence * (0.6 + 0.8*r.Float64())
		d := int(day)
		if d >= w.days {
			return
		}
		if d < 0 || r.Float64() >= givingSeason[w.months[d]-1] {
			continue
		}
		t := w.at(d, 7*3600+r.IntN(16*3600), prof)
		if t < w.start || t >= w.end {
			continue
		}
		amount := gift
		switch x := r.Float64(); {
		case spec.campaign == "arrondi-2026" && x < 0.7:
			amount = 1 + r.Int64N(99) // the cents of a payslip, rounded off
		case x < 0.1:
			amount = gift * 2 // matched or doubled for a campaign
		case x < 0.2:
			amount = 100*(5+r.Int64N(40)) + 50*r.Int64N(2)
		}
		rows.emit(rowDonation, t, amount, extra)
		if r.Float64() < e.drop {
			return
		}
	}
}

// giftCents are usual regular gifts, in cents of the tenant's currency.
var giftCents = []int64{500, 1000, 1000, 1500, 2000, 2000, 2500, 2500, 3000, 5000, 5000, 7500, 10000, 1250, 15000, 25000}

// cohort names the quarter a day falls in, e.g. "2026-Q1".
func (w *window) cohort(day int) string {
	t := time.Unix(w.day0+int64(day)*secondsPerDay, 0).UTC()
	return itoa(t.Year()) + "-Q" + itoa((int(t.Month())+2)/3)
}

// appendPadded appends n with leading zeros to at least width digits.
func appendPadded(b []byte, n, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for n > 0 || len(tmp)-i < width {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[i:]...)
}

// appendHundredths appends v/100 as a JSON number without trailing zeros: 250 is 2.5.
func appendHundredths(b []byte, v int64) []byte {
	b = appendPadded(b, int(v/100), 1)
	if c := v % 100; c != 0 {
		b = append(b, '.', byte('0'+c/10))
		if c%10 != 0 {
			b = append(b, byte('0'+c%10))
		}
	}
	return b
}

// appendJSONString appends s as a JSON string. Text is valid UTF-8 by construction, so
// only quotes, backslashes and control characters need escaping.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
