package demo

import (
	"errors"
	"io"
	"strconv"
	"time"
)

// syntheticKinds is the mix of synthetic rows: a funnel, then hours, outcomes and gifts.
var syntheticKinds = []struct {
	kind   string
	weight int // per 100 rows
}{{rowSignup, 30}, {rowStarted, 24}, {rowCompleted, 20}, {rowHours, 12}, {rowOutcome, 8}, {rowDonation, 6}}

var syntheticLocations = []string{"Madrid", "Barcelona", "Sevilla", "Valencia", "Bilbao", "remote"}

var syntheticMetrics = []string{`,"metric":"confidence"`, `,"metric":"employability"`, `,"metric":"literacy"`}

// SyntheticEventIDPrefix starts the ID of every event WriteSyntheticEvents writes with seed:
// the seed in hex, then the row number follows, distinct for every (seed, i).
func SyntheticEventIDPrefix(seed int64) string {
	return "evt-syn-" + strconv.FormatUint(uint64(seed), 16) + "-"
}

// WriteSyntheticEvents writes n valid event rows for the given tenant and program codes,
// with event IDs unique for (seed, i), for load tests such as importing 1,000,000 events.
// Participants and programs are drawn uniformly; kinds, values and times follow the demo
// data's shapes (a narrowing funnel, seasonal dates). Donations are in euros.
func WriteSyntheticEvents(w io.Writer, programs []string, participants []string, n int, seed int64, now time.Time) error {
	switch {
	case n < 0:
		return errors.New("demo: negative number of synthetic events")
	case n == 0:
		return nil
	case len(programs) == 0 || len(participants) == 0:
		return errors.New("demo: synthetic events need at least one program and one participant")
	}
	win := newWindow(now)
	days := seasonalDays(&win, euSeason)
	cohorts := make([]string, win.days)
	for d := range cohorts {
		cohorts[d] = appendQuoted(win.cohort(d))
	}
	var kinds [100]string
	for i, k := 0, 0; k < len(syntheticKinds); k++ {
		for range syntheticKinds[k].weight {
			kinds[i] = syntheticKinds[k].kind
			i++
		}
	}
	quote := func(list []string) []string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = appendQuoted(s)
		}
		return out
	}
	progs, people, locations := quote(programs), quote(participants), quote(syntheticLocations)

	r := newRand(seed, "synthetic")
	rw := newRowWriter(w)
	prefix := `{"event_id":"` + SyntheticEventIDPrefix(seed)
	for i := range n {
		var t int64
		for {
			d := days[r.IntN(len(days))]
			t = win.day0 + int64(d)*secondsPerDay + 6*3600 + r.Int64N(15*3600)
			if t >= win.start && t < win.end {
				break
			}
		}
		kind := kinds[r.IntN(len(kinds))]
		value, extra := int64(100), ""
		switch kind {
		case rowHours:
			value = 50 * (1 + r.Int64N(16))
		case rowOutcome:
			value = 100 * r.Int64N(101)
			extra = syntheticMetrics[r.IntN(len(syntheticMetrics))]
		case rowDonation:
			value = giftCents[r.IntN(len(giftCents))]
			extra = `,"currency":"EUR"`
		}
		b := append(rw.buf, prefix...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","program":`...)
		b = append(b, progs[r.IntN(len(progs))]...)
		b = append(b, `,"participant":`...)
		b = append(b, people[r.IntN(len(people))]...)
		b = append(b, `,"kind":"`...)
		b = append(b, kind...)
		b = win.appendStamp(b, t)
		b = append(b, `","value":`...)
		b = appendHundredths(b, value)
		b = append(b, `,"attributes":{"location":`...)
		b = append(b, locations[r.IntN(len(locations))]...)
		b = append(b, `,"cohort":`...)
		b = append(b, cohorts[win.dayOf(t)]...)
		b = append(b, extra...)
		rw.buf = append(b, "}}\n"...)
		rw.endRow()
		if rw.err != nil {
			return rw.err
		}
	}
	return rw.flush()
}

// seasonalDays is a table of day indexes, each day appearing in proportion to how busy it
// is (its month's season, and weekdays over weekends), so that a uniform pick from the
// table is a seasonal pick of a day.
func seasonalDays(w *window, season [12]float64) []int32 {
	weights := make([]float64, w.days)
	total := 0.0
	for d := range weights {
		weights[d] = season[w.months[d]-1]
		if wd := w.weekdays[d]; wd == time.Saturday || wd == time.Sunday {
			weights[d] *= 0.25
		}
		total += weights[d]
	}
	const size = 1 << 14
	table := make([]int32, 0, size+w.days)
	acc := 0.0
	for d, wt := range weights {
		acc += wt
		for float64(len(table)) < acc/total*size {
			table = append(table, int32(d))
		}
	}
	return table
}

func appendQuoted(s string) string { return string(appendJSONString(nil, s)) }
