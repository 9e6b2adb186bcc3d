package analytics

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Metric is a figure the analytics APIs report.
type Metric struct {
	Name string
	kind string // the event kind it counts; "" for every kind
	agg  func(events, valueSum, participants string) string
}

// Metrics are the metrics the APIs accept, by name.
var Metrics = map[string]Metric{
	"participants":      {Name: "participants", agg: func(_, _, p string) string { return p }},
	"signups":           {Name: "signups", kind: "signup", agg: func(e, _, _ string) string { return e }},
	"sessions_started":  {Name: "sessions_started", kind: "session_started", agg: func(e, _, _ string) string { return e }},
	"sessions":          {Name: "sessions", kind: "session_completed", agg: func(e, _, _ string) string { return e }},
	"outcomes_measured": {Name: "outcomes_measured", kind: "outcome_measured", agg: func(e, _, _ string) string { return e }},
	"volunteer_hours":   {Name: "volunteer_hours", kind: "volunteer_hours", agg: func(_, v, _ string) string { return v }},
	"donations":         {Name: "donations", kind: "donation", agg: func(_, v, _ string) string { return v }},
	"avg_outcome_score": {Name: "avg_outcome_score", kind: "outcome_measured", agg: func(e, v, _ string) string {
		return "if(" + e + " = 0, 0, " + v + " / " + e + ")"
	}},
}

// MetricNames lists the metrics, sorted.
func MetricNames() []string {
	names := make([]string, 0, len(Metrics))
	for n := range Metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// fromAggregates is the metric's expression over an aggregate table's columns.
func (m Metric) fromAggregates() string {
	return "toFloat64(" + m.agg("sum(events)", "sum(value_sum)", "groupBitmapMerge(participants)") + ")"
}

// countsParticipants reports whether the metric counts distinct participants.
func (m Metric) countsParticipants() bool {
	return strings.Contains(m.agg("", "", "\x00"), "\x00")
}

// fromEvents is the metric's expression over raw events.
func (m Metric) fromEvents() string {
	return "toFloat64(" + m.agg("count()", "sum(value)", "uniqExact(participant_id)") + ")"
}

// aggKindFilter selects the metric's rows of an aggregate table, where the rows with an
// empty kind hold the figures over every kind.
func (m Metric) aggKindFilter() string {
	return "kind = " + quote(m.kind)
}

func (m Metric) kindFilter() string {
	if m.kind == "" {
		return "1"
	}
	return "kind = " + quote(m.kind)
}

// Granularity of a trend.
type Granularity string

// The granularities.
const (
	Day   Granularity = "day"
	Week  Granularity = "week"
	Month Granularity = "month"
)

// Align widens [from, to) to whole buckets: weeks start on Monday, months on the 1st
// (UTC), so every bucket of the answer is complete.
func (g Granularity) Align(from, to time.Time) (time.Time, time.Time) {
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	to = time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, time.UTC)
	switch g {
	case Week:
		from = from.AddDate(0, 0, -((int(from.Weekday()) + 6) % 7))
		if d := (int(to.Weekday()) + 6) % 7; d != 0 {
			to = to.AddDate(0, 0, 7-d)
		}
	case Month:
		from = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
		if to.Day() != 1 {
			to = time.Date(to.Year(), to.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		}
	}
	return from, to
}

func (g Granularity) table() string {
	switch g {
	case Week:
		return "impactflow.trend_weekly"
	case Month:
		return "impactflow.trend_monthly"
	}
	return "impactflow.trend_daily"
}

func (g Granularity) bucket(col string) string {
	switch g {
	case Week:
		return "toMonday(" + col + ")"
	case Month:
		return "toStartOfMonth(" + col + ")"
	}
	return "toDate(" + col + ")"
}

// TrendQuery asks for one metric over [From, To) (UTC dates) by period.
type TrendQuery struct {
	TenantID    string
	Metric      Metric
	From, To    time.Time
	Granularity Granularity
	ProgramID   int64  // 0 for every program
	Cohort      string // "" for every cohort
}

// Point is one period's figure.
type Point struct {
	Period string  `json:"period"`
	Value  float64 `json:"value"`
}

// Trend is a metric's series with its total and the change against the period before.
type Trend struct {
	Metric      string   `json:"metric"`
	Granularity string   `json:"granularity"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	Points      []Point  `json:"points"`
	Total       float64  `json:"total"`
	Previous    float64  `json:"previous_total"`
	ChangePct   *float64 `json:"change_pct"` // nil when the previous period is zero
}

// Trends answers a TrendQuery. Without a cohort filter it reads the aggregate view of the
// granularity; a cohort is an event attribute the views do not keep, so with one it reads
// the deduplicated live events (events_live).
func (db *DB) Trends(ctx context.Context, q TrendQuery) (Trend, error) {
	q.From, q.To = q.Granularity.Align(q.From, q.To)
	series := func(from, to time.Time, byPeriod bool) (string, error) {
		period := "''"
		group := ""
		if byPeriod {
			group = " GROUP BY p ORDER BY p"
		}
		var where []string
		if q.Cohort == "" {
			if byPeriod {
				period = "toString(period)"
			}
			where = append(where, "tenant_id = "+quote(q.TenantID), q.Metric.aggKindFilter(),
				"period >= "+dateLit(from), "period < "+dateLit(to))
			// Whole buckets only: a bucket starting before From is not in the view's range.
			if q.ProgramID != 0 {
				where = append(where, fmt.Sprintf("program_id = %d", q.ProgramID))
			}
			return "SELECT " + period + " AS p, " + q.Metric.fromAggregates() + " FROM " + q.Granularity.table() +
				" WHERE " + strings.Join(where, " AND ") + group, nil
		}
		if byPeriod {
			period = "toString(" + q.Granularity.bucket("occurred_at") + ")"
		}
		where = append(where, "tenant_id = "+quote(q.TenantID), q.Metric.kindFilter(), "cohort = "+quote(q.Cohort),
			"occurred_at >= "+timeLit(from), "occurred_at < "+timeLit(to))
		if q.ProgramID != 0 {
			where = append(where, fmt.Sprintf("program_id = %d", q.ProgramID))
		}
		return "SELECT " + period + " AS p, " + q.Metric.fromEvents() + " FROM impactflow.events_live WHERE " +
			strings.Join(where, " AND ") + group, nil
	}
	t := Trend{Metric: q.Metric.Name, Granularity: string(q.Granularity), From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly), Points: []Point{}}
	// The series, its total and the previous period's total in one round trip.
	prevFrom := q.From.Add(-q.To.Sub(q.From))
	points, _ := series(q.From, q.To, true)
	total, _ := series(q.From, q.To, false)
	previous, _ := series(prevFrom, q.From, false)
	sql := "SELECT toUInt64(0) AS part, * FROM (" + points + ") UNION ALL SELECT toUInt64(1), * FROM (" + total +
		") UNION ALL SELECT toUInt64(2), * FROM (" + previous + ")"
	if err := db.Query(ctx, sql, func(scan scanFunc) error {
		var part uint64
		var p Point
		if err := scan(&part, &p.Period, &p.Value); err != nil {
			return err
		}
		switch part {
		case 0:
			t.Points = append(t.Points, p)
		case 1:
			t.Total = p.Value
		default:
			t.Previous = p.Value
		}
		return nil
	}); err != nil {
		return Trend{}, fmt.Errorf("trends: %w", err)
	}
	sort.Slice(t.Points, func(i, j int) bool { return t.Points[i].Period < t.Points[j].Period })
	if t.Previous != 0 {
		c := math.Round((t.Total-t.Previous)/t.Previous*10000) / 100
		t.ChangePct = &c
	}
	return t, nil
}

// CohortDimension is what cohorts are drawn by.
type CohortDimension string

// The cohort dimensions.
const (
	ByProgram  CohortDimension = "program"
	ByLocation CohortDimension = "location"
	ByCohort   CohortDimension = "cohort"
)

// CohortQuery compares up to ten cohorts on some metrics over [From, To).
type CohortQuery struct {
	TenantID  string
	Dimension CohortDimension
	Cohorts   []string // program codes, locations or cohort names
	Metrics   []Metric
	From, To  time.Time
}

// CohortFigures are one cohort's metrics.
type CohortFigures struct {
	Cohort  string             `json:"cohort"`
	Metrics map[string]float64 `json:"metrics"`
}

// Cohorts answers a CohortQuery. Over whole days (the API's periods) it merges the cohort
// figures of cohort_monthly and cohort_daily (cohortSpans);
// otherwise it reads the deduplicated live events (events_live). Both give the same
// answers: the figures are refreshed from events_live.
func (db *DB) Cohorts(ctx context.Context, q CohortQuery) ([]CohortFigures, error) {
	if !wholeDay(q.From) || !wholeDay(q.To) {
		return db.cohortsFromEvents(ctx, q)
	}
	for _, m := range q.Metrics {
		if m.kind != "" && m.countsParticipants() { // cohort_daily has participants for kind '' only
			return db.cohortsFromEvents(ctx, q)
		}
	}
	q.From, q.To = q.From.UTC(), q.To.UTC()
	// Each metric counts its kind's rows; the participants metric the rows of kind '',
	// whose bitmaps hold the participants of any kind (the only rows with participants).
	kinds := map[string]bool{}
	exprs := make([]string, len(q.Metrics))
	for i, m := range q.Metrics {
		kinds[m.kind] = true
		f := "a.kind = " + quote(m.kind)
		exprs[i] = "toFloat64(" + m.agg("sumIf(a.events, "+f+")", "sumIf(a.value_sum, "+f+")", "groupBitmapMergeIf(a.participants, "+f+")") + ")"
	}
	kindList := make([]string, 0, len(kinds))
	for k := range kinds {
		kindList = append(kindList, k)
	}
	sort.Strings(kindList)
	// value is a program's code, a location or a cohort name.
	where := "tenant_id = " + quote(q.TenantID) + " AND dimension = " + quote(string(q.Dimension)) + " AND kind IN " + inList(kindList) +
		" AND value IN " + inList(q.Cohorts)
	spans := cohortSpans(q.From, q.To)
	parts := make([]string, len(spans))
	for i, sp := range spans {
		parts[i] = "SELECT value, kind, events, value_sum, participants FROM " + sp.table + " WHERE " + where +
			" AND day >= " + dateLit(sp.from) + " AND day < " + dateLit(sp.to)
	}
	rows := strings.Join(parts, " UNION ALL ")
	sql := "SELECT a.value AS c, " + strings.Join(exprs, ", ") + " FROM (" + rows + ") AS a GROUP BY c ORDER BY c"
	return db.cohortFigures(ctx, q, sql)
}

// span is a range of days [from, to) read from one cohort table.
type span struct {
	table    string
	from, to time.Time
}

// cohortSpans splits whole days [from, to) into whole months, read from cohort_monthly,
// and the days before and after them, read from cohort_daily. (A month's participants
// bitmap merges about as fast as a day's. Whole weeks of the partial months from a weekly
// table were tried too, and were no faster at 10,000,000 events.)
func cohortSpans(from, to time.Time) []span {
	m1 := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	if m1.Before(from) {
		m1 = m1.AddDate(0, 1, 0)
	}
	m2 := time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC)
	if !m1.Before(m2) {
		return []span{{"impactflow.cohort_daily", from, to}}
	}
	var out []span
	if from.Before(m1) {
		out = append(out, span{"impactflow.cohort_daily", from, m1})
	}
	out = append(out, span{"impactflow.cohort_monthly", m1, m2})
	if m2.Before(to) {
		out = append(out, span{"impactflow.cohort_daily", m2, to})
	}
	return out
}

// wholeDay reports whether t is a UTC midnight.
func wholeDay(t time.Time) bool {
	return t.Equal(t.UTC().Truncate(24 * time.Hour))
}

// cohortsFromEvents answers a CohortQuery from the deduplicated live events (events_live).
func (db *DB) cohortsFromEvents(ctx context.Context, q CohortQuery) ([]CohortFigures, error) {
	var col string
	switch q.Dimension {
	case ByProgram:
		col = "p.code"
	case ByLocation:
		col = "e.location"
	default:
		col = "e.cohort"
	}
	exprs := make([]string, len(q.Metrics))
	for i, m := range q.Metrics {
		f := strings.ReplaceAll(m.kindFilter(), "kind", "e.kind")
		exprs[i] = "toFloat64(" + m.agg("countIf("+f+")", "sumIf(e.value, "+f+")", "uniqExactIf(e.participant_id, "+f+")") + ")"
	}
	sql := "SELECT " + col + " AS c, " + strings.Join(exprs, ", ") +
		" FROM impactflow.events_live AS e" +
		" INNER JOIN (SELECT program_id, code FROM impactflow.programs FINAL WHERE tenant_id = " + quote(q.TenantID) + ") AS p ON p.program_id = e.program_id" +
		" WHERE e.tenant_id = " + quote(q.TenantID) + " AND e.occurred_at >= " + timeLit(q.From) + " AND e.occurred_at < " + timeLit(q.To) +
		" AND c IN " + inList(q.Cohorts) + " GROUP BY c ORDER BY c"
	return db.cohortFigures(ctx, q, sql)
}

// cohortFigures runs a cohort query selecting the cohort and the metrics in q's order.
func (db *DB) cohortFigures(ctx context.Context, q CohortQuery, sql string) ([]CohortFigures, error) {
	found := map[string]CohortFigures{}
	if err := db.Query(ctx, sql, func(scan scanFunc) error {
		var name string
		vals := make([]float64, len(q.Metrics))
		dest := []any{&name}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := scan(dest...); err != nil {
			return err
		}
		f := CohortFigures{Cohort: name, Metrics: map[string]float64{}}
		for i, m := range q.Metrics {
			f.Metrics[m.Name] = vals[i]
		}
		found[name] = f
		return nil
	}); err != nil {
		return nil, fmt.Errorf("cohorts: %w", err)
	}
	out := make([]CohortFigures, len(q.Cohorts))
	for i, c := range q.Cohorts {
		f, ok := found[c]
		if !ok {
			f = CohortFigures{Cohort: c, Metrics: map[string]float64{}}
			for _, m := range q.Metrics {
				f.Metrics[m.Name] = 0
			}
		}
		out[i] = f
	}
	return out, nil
}

// FunnelQuery asks how many participants went through the steps in order: a participant
// enters at their first Steps[0] event in [From, To); each next step counts when its first
// event after the previous step falls within Window of the entry.
type FunnelQuery struct {
	TenantID string
	Steps    []string // event kinds
	From, To time.Time
	Window   time.Duration
}

// FunnelStep is one step's count, conversion from the previous step and drop-off.
type FunnelStep struct {
	Step          string  `json:"step"`
	Participants  int64   `json:"participants"`
	ConversionPct float64 `json:"conversion_pct"`
	DropOff       int64   `json:"drop_off"`
	OverallPct    float64 `json:"overall_pct"`
}

// DefaultFunnelSteps are the steps of the funnel the API asks when none are given, the one
// funnel_entries walks ahead of time.
var DefaultFunnelSteps = []string{"signup", "session_started", "session_completed", "outcome_measured"}

// Funnel answers a FunnelQuery. For the default steps or a prefix of them it reads
// funnel_entries: each signup with the times the later steps were reached from it and the
// participant's previous signup; a participant enters at their first signup in [From, To)
// (the one whose previous signup is before From), and a step counts when its time
// is within Window of the entry (a step's time is never before the previous step's, so each
// step passed implies the ones before). Other steps read events_live (funnelFromEvents).
func (db *DB) Funnel(ctx context.Context, q FunnelQuery) ([]FunnelStep, error) {
	if len(q.Steps) > len(DefaultFunnelSteps) || !slices.Equal(q.Steps, DefaultFunnelSteps[:len(q.Steps)]) {
		return db.funnelFromEvents(ctx, q)
	}
	reached := "1"
	for k := 2; k <= len(q.Steps); k++ {
		reached += fmt.Sprintf(" + (t%d <= toUnixTimestamp64Micro(entry_at) + %d)", k, q.Window.Microseconds())
	}
	sql := "SELECT toUInt64(" + reached + ") AS reached, toUInt64(count()) FROM impactflow.funnel_entries" +
		" WHERE tenant_id = " + quote(q.TenantID) + " AND entry_at >= " + timeLit(q.From) + " AND entry_at < " + timeLit(q.To) +
		" AND previous < toUnixTimestamp64Micro(" + timeLit(q.From) + ") GROUP BY reached"
	return db.funnelSteps(ctx, q, sql)
}

// funnelFromEvents answers a FunnelQuery in one pass over the tenant's step events in
// events_live: each participant's events, sorted by time, are folded into the furthest step
// reached (a join per step costs a hash table per step and was ~10x slower on the demo data).
func (db *DB) funnelFromEvents(ctx context.Context, q FunnelQuery) ([]FunnelStep, error) {
	w := q.Window.Microseconds()
	zero := "toDateTime64(0, 6, 'UTC')"
	// acc is (steps reached, time of the last step reached, time of the first step).
	fold := fmt.Sprintf(`arrayFold((acc, x) -> if(acc.1 = 0,
			if(x.2 = 1 AND x.1 < %[1]s, (toUInt8(1), x.1, x.1), acc),
			if(x.2 = acc.1 + 1 AND x.1 >= acc.2 AND x.1 <= addMicroseconds(acc.3, %[2]d), (toUInt8(acc.1 + 1), x.1, acc.3), acc)),
		arraySort(groupArray((occurred_at, step))), (toUInt8(0), %[3]s, %[3]s)).1`, timeLit(q.To), w, zero)
	sql := "SELECT toUInt64(reached), toUInt64(count()) FROM (SELECT participant_id, " + fold + " AS reached FROM (" +
		"SELECT participant_id, occurred_at, toUInt8(indexOf(" + arrayLit(q.Steps) + ", kind)) AS step FROM impactflow.events_live" +
		" WHERE tenant_id = " + quote(q.TenantID) + " AND kind IN " + inList(q.Steps) + " AND occurred_at >= " + timeLit(q.From) +
		fmt.Sprintf(" AND occurred_at < addMicroseconds(%s, %d)", timeLit(q.To), w) +
		") GROUP BY participant_id) WHERE reached > 0 GROUP BY reached"
	return db.funnelSteps(ctx, q, sql)
}

// funnelSteps runs a funnel query selecting (steps reached, participants) and derives the
// steps' figures.
func (db *DB) funnelSteps(ctx context.Context, q FunnelQuery, sql string) ([]FunnelStep, error) {
	atLevel := make([]uint64, len(q.Steps)+1)
	if err := db.Query(ctx, sql, func(scan scanFunc) error {
		var level, n uint64
		if err := scan(&level, &n); err != nil {
			return err
		}
		if level < uint64(len(atLevel)) {
			atLevel[level] = n
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("funnel: %w", err)
	}
	// A participant who reached step k passed every step before it.
	n := make([]uint64, len(q.Steps))
	var sum uint64
	for k := len(q.Steps); k >= 1; k-- {
		sum += atLevel[k]
		n[k-1] = sum
	}
	out := make([]FunnelStep, len(q.Steps))
	for i, s := range q.Steps {
		st := FunnelStep{Step: s, Participants: int64(n[i])}
		if i == 0 {
			st.ConversionPct, st.OverallPct = pct(n[0], n[0]), pct(n[0], n[0])
		} else {
			st.ConversionPct, st.OverallPct = pct(n[i], n[i-1]), pct(n[i], n[0])
			st.DropOff = int64(n[i-1]) - int64(n[i])
		}
		out[i] = st
	}
	return out, nil
}

func arrayLit(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func pct(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(float64(a)/float64(b)*10000) / 100
}

// MinPeers is the k of k-anonymity: a benchmark compares a tenant only with peer groups
// holding at least this many other tenants with data.
const MinPeers = 5

// BenchmarkQuery places a tenant among its peers on a metric over [From, To) (whole months).
type BenchmarkQuery struct {
	TenantID string
	Metric   Metric
	From, To time.Time
}

// Benchmark is the tenant's position in one peer group. Peer figures are never listed:
// only their count, their median and the tenant's percentile.
type Benchmark struct {
	Dimension  string   `json:"dimension"`
	PeerGroup  string   `json:"peer_group"`
	Available  bool     `json:"available"`
	Reason     string   `json:"reason,omitempty"`
	Peers      int      `json:"peers"`
	Value      float64  `json:"value"`
	PeerMedian *float64 `json:"peer_median,omitempty"`
	Percentile *float64 `json:"percentile,omitempty"`
}

// Benchmarks answers a BenchmarkQuery for the industry, region and size band, in two round
// trips: the tenant's peer groups, then every peer's figure in the three groups.
func (db *DB) Benchmarks(ctx context.Context, q BenchmarkQuery) ([]Benchmark, error) {
	dims := []struct{ name, table string }{
		{"industry", "impactflow.peer_industry"},
		{"region", "impactflow.peer_region"},
		{"size_band", "impactflow.peer_size_band"},
	}
	groups := make([]string, len(dims))
	if err := db.Query(ctx, "SELECT industry, region, size_band FROM impactflow.tenants FINAL WHERE tenant_id = "+quote(q.TenantID),
		func(scan scanFunc) error { return scan(&groups[0], &groups[1], &groups[2]) }); err != nil {
		return nil, fmt.Errorf("benchmarks: %w", err)
	}
	parts := make([]string, len(dims))
	for i, dim := range dims {
		parts[i] = fmt.Sprintf("SELECT toUInt64(%d) AS dim, tenant_id, %s AS v FROM %s WHERE peer_group = %s AND %s AND period >= %s AND period < %s GROUP BY tenant_id",
			i, q.Metric.fromAggregates(), dim.table, quote(groups[i]), q.Metric.aggKindFilter(), dateLit(q.From), dateLit(q.To))
		if q.Metric.Name == "participants" && !db.benchFromStates {
			// Distinct participants by merging each peer's monthly bitmaps (cohort_monthly,
			// dimension 'all'): merging the uniqExact states of 001's bench tables took up to
			// 200-500 ms at 10,000,000 events (BenchmarkQueries), the same figures. (003's peer
			// tables hold bitmaps too; cohort_monthly has fewer rows per tenant and month.)
			parts[i] = fmt.Sprintf("SELECT toUInt64(%d) AS dim, tenant_id, toFloat64(groupBitmapMerge(participants)) AS v FROM impactflow.cohort_monthly"+
				" WHERE tenant_id IN (SELECT tenant_id FROM impactflow.tenants FINAL WHERE %s = %s) AND dimension = 'all' AND kind = ''"+
				" AND day >= %s AND day < %s GROUP BY tenant_id", i, dim.name, quote(groups[i]), dateLit(q.From), dateLit(q.To))
		}
	}
	values := make([]map[string]float64, len(dims))
	for i := range values {
		values[i] = map[string]float64{}
	}
	if err := db.Query(ctx, strings.Join(parts, " UNION ALL "), func(scan scanFunc) error {
		var d uint64
		var t string
		var v float64
		if err := scan(&d, &t, &v); err != nil {
			return err
		}
		if d < uint64(len(values)) {
			values[d][t] = v
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("benchmarks: %w", err)
	}
	var out []Benchmark
	for i, dim := range dims {
		values := values[i]
		b := Benchmark{Dimension: dim.name, PeerGroup: groups[i]}
		b.Value = values[q.TenantID]
		var peers []float64
		for t, v := range values {
			if t != q.TenantID {
				peers = append(peers, v)
			}
		}
		b.Peers = len(peers)
		if len(peers) < MinPeers {
			b.Reason = fmt.Sprintf("fewer than %d other tenants in this peer group have data for the period", MinPeers)
			b.Peers = 0 // how many fewer is itself a disclosure
			out = append(out, b)
			continue
		}
		sort.Float64s(peers)
		b.Available = true
		med := median(peers)
		below := 0.0
		for _, v := range peers {
			switch {
			case v < b.Value:
				below++
			case v == b.Value:
				below += 0.5
			}
		}
		p := math.Round(below/float64(len(peers))*10000) / 100
		b.PeerMedian, b.Percentile = &med, &p
		out = append(out, b)
	}
	return out, nil
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// ProgramID returns the ClickHouse program ID of a tenant's program code, and false when
// the tenant has no such program.
func (db *DB) ProgramID(ctx context.Context, tenantID, code string) (int64, bool, error) {
	var id uint64
	found := false
	err := db.Query(ctx, "SELECT program_id FROM impactflow.programs FINAL WHERE tenant_id = "+quote(tenantID)+" AND code = "+quote(code),
		func(scan scanFunc) error { found = true; return scan(&id) })
	return int64(id), found, err
}
