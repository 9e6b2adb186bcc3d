package demo

import (
	"strconv"
	"time"
)

const secondsPerDay = 86400

// window is the twelve months before now, cut into UTC days, with each day's date
// already formatted: timestamps are written millions of times, so they are assembled from
// these pieces rather than formatted by package time.
type window struct {
	start, end int64 // Unix seconds: every row's occurred_at is in [start, end)
	day0       int64 // Unix seconds of midnight UTC on start's date
	days       int   // days from day0 through end's date
	months     []time.Month
	weekdays   []time.Weekday
	summer     [2][]bool // by dstRule: whether the day is in summer time
	stamps     []byte    // "2006-01-02T" for each day, 11 bytes apiece
}

func newWindow(now time.Time) window {
	now = now.UTC()
	from := now.AddDate(0, -12, 0)
	w := window{start: from.Unix(), end: now.Unix()}
	if from.Nanosecond() > 0 {
		w.start++ // whole seconds only, never before the window
	}
	y, m, d := from.Date()
	w.day0 = time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
	w.days = int((w.end-w.day0)/secondsPerDay) + 1
	w.months = make([]time.Month, w.days)
	w.weekdays = make([]time.Weekday, w.days)
	w.summer = [2][]bool{make([]bool, w.days), make([]bool, w.days)}
	w.stamps = make([]byte, 0, 11*w.days)
	for i := range w.days {
		t := time.Unix(w.day0+int64(i)*secondsPerDay, 0).UTC()
		w.months[i], w.weekdays[i] = t.Month(), t.Weekday()
		w.summer[dstEU][i] = isSummer(t, dstEU)
		w.summer[dstUS][i] = isSummer(t, dstUS)
		w.stamps = t.AppendFormat(w.stamps, "2006-01-02T")
	}
	return w
}

// isSummer tells whether clocks are forward an hour on day t, to the day.
func isSummer(t time.Time, rule dstRule) bool {
	y := t.Year()
	var from, to time.Time
	switch rule {
	case dstUS:
		from = nthSunday(y, time.March, 2)
		to = nthSunday(y, time.November, 1)
	default:
		from = lastSunday(y, time.March)
		to = lastSunday(y, time.October)
	}
	return !t.Before(from) && t.Before(to)
}

func nthSunday(y int, m time.Month, n int) time.Time {
	t := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return t.AddDate(0, 0, (7-int(t.Weekday()))%7+7*(n-1))
}

func lastSunday(y int, m time.Month) time.Time {
	t := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC)
	return t.AddDate(0, 0, -int(t.Weekday()))
}

// at is the Unix time of a local clock time on a day, for a tenant's offset. Days outside
// the window are taken to be in standard time.
func (w *window) at(day, localSeconds int, prof *profile) int64 {
	offset := prof.utcOffset
	if day >= 0 && day < w.days && w.summer[prof.dst][day] {
		offset++
	}
	return w.day0 + int64(day)*secondsPerDay + int64(localSeconds) - int64(offset)*3600
}

// dayOf is the day index of a Unix time inside the window.
func (w *window) dayOf(t int64) int { return int((t - w.day0) / secondsPerDay) }

// appendStamp appends t as RFC 3339 UTC, e.g. 2026-03-01T10:00:00Z; t must be in the window.
func (w *window) appendStamp(b []byte, t int64) []byte {
	d := w.dayOf(t)
	b = append(b, w.stamps[11*d:11*d+11]...)
	s := int((t - w.day0) % secondsPerDay)
	h, m := s/3600, s/60%60
	s %= 60
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+s/10), byte('0'+s%10), 'Z')
}

func itoa(n int) string { return strconv.Itoa(n) }

// pad formats n with leading zeros to width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}
