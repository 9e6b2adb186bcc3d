package metrics

import (
	"encoding/binary"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// temporalTimerBuckets, in seconds, span the SDK's timers: RPCs of a few
// milliseconds, long polls of about a minute, and schedule-to-start or end-to-end
// latencies of minutes to an hour.
var temporalTimerBuckets = []float64{
	.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
}

// Issues counted in impactflow_temporal_metric_issues_total.
const (
	issueLabelsMissing = "labels_missing" // a tag set lacked labels the metric has: recorded with ""
	issueLabelsDropped = "labels_dropped" // a tag set had labels the metric lacks: recorded without them
	issueTypeConflict  = "type_conflict"  // a name used as two kinds (e.g. counter and timer): dropped
	issueNameConflict  = "name_conflict"  // a name clashing with a histogram's series, or registered elsewhere: dropped
	issueInvalid       = "invalid"        // client_golang refused the label values: dropped
)

type temporalKind uint8

const (
	kindCounter temporalKind = iota + 1
	kindGauge
	kindTimer
)

// TemporalHandler returns a client.MetricsHandler that records the Temporal SDK's
// client and worker metrics in r; pass it as client.Options.MetricsHandler. SDK
// names are kept (temporal_request, temporal_workflow_task_execution_latency, …, as
// the SDK's tally dashboards expect), sanitized to the Prometheus charset; counters
// become counters, gauges gauges, timers histograms in seconds. The first tag set
// seen for a name fixes its label names: later tag sets are mapped onto them, a
// missing label recorded as "" and an extra one dropped, and each such adjustment
// is counted in impactflow_temporal_metric_issues_total.
func (r *Registry) TemporalHandler() client.MetricsHandler {
	r.temporalOnce.Do(func() {
		r.temporal = newTemporalMetrics(r.reg)
	})
	return r.temporal.root
}

// temporalMetrics holds the metric families created for the SDK.
type temporalMetrics struct {
	reg    prometheus.Registerer
	issues *prometheus.CounterVec
	root   *temporalHandler

	mu       sync.Mutex // serialises family creation
	families cowMap[*temporalFamily]
}

// temporalFamily is one metric name. A family that could not be created keeps its
// kind and no vector, so later uses are dropped without retrying.
type temporalFamily struct {
	kind    temporalKind
	labels  []string // sanitized label names, sorted, fixed by the first tag set
	counter *prometheus.CounterVec
	gauge   *prometheus.GaugeVec
	timer   *prometheus.HistogramVec
}

func newTemporalMetrics(reg prometheus.Registerer) *temporalMetrics {
	m := &temporalMetrics{
		reg: reg,
		issues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "impactflow_temporal_metric_issues_total",
			Help: "Temporal SDK metric uses the adapter adjusted or dropped, by metric and issue; counted once per tag set and metric.",
		}, []string{"metric", "issue"}),
	}
	reg.MustRegister(m.issues)
	m.root = newTemporalHandler(m, nil)
	return m
}

func (m *temporalMetrics) issue(metric, issue string) {
	m.issues.WithLabelValues(metric, issue).Inc()
}

// family returns the family for name, creating and registering it with the label
// names of labels when name is new. It returns nil when the metric cannot be
// recorded.
func (m *temporalMetrics) family(name string, kind temporalKind, labels map[string]string) *temporalFamily {
	f, ok := m.families.load(name)
	if !ok {
		m.mu.Lock()
		f, ok = m.families.load(name)
		if !ok {
			f = m.newFamily(name, kind, slices.Sorted(maps.Keys(labels)))
			m.families.store(name, f)
		}
		m.mu.Unlock()
	}
	switch {
	case f.kind != kind:
		m.issue(name, issueTypeConflict)
		return nil
	case f.counter == nil && f.gauge == nil && f.timer == nil:
		m.issue(name, issueNameConflict)
		return nil
	}
	return f
}

// newFamily must be called with m.mu held.
func (m *temporalMetrics) newFamily(name string, kind temporalKind, labels []string) *temporalFamily {
	if m.clashesWithHistogram(name, kind) {
		return &temporalFamily{kind: kind, labels: labels}
	}
	f := &temporalFamily{kind: kind, labels: labels}
	var c prometheus.Collector
	switch kind {
	case kindCounter:
		f.counter = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name, Help: "Temporal SDK counter " + name + ".",
		}, labels)
		c = f.counter
	case kindGauge:
		f.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: name, Help: "Temporal SDK gauge " + name + ".",
		}, labels)
		c = f.gauge
	case kindTimer:
		f.timer = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name, Help: "Temporal SDK timer " + name + ", in seconds.", Buckets: temporalTimerBuckets,
		}, labels)
		c = f.timer
	}
	if err := m.reg.Register(c); err != nil {
		// Registered elsewhere in the registry, by another package or collector.
		return &temporalFamily{kind: kind, labels: labels}
	}
	return f
}

// clashesWithHistogram reports whether name would share exposed series names with a
// timer family (whose histogram exposes name_bucket, name_sum and name_count), which
// the registry only detects at scrape time. It must be called with m.mu held.
func (m *temporalMetrics) clashesWithHistogram(name string, kind temporalKind) bool {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if kind == kindTimer {
			if _, ok := m.families.load(name + suffix); ok {
				return true
			}
		}
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := m.families.load(base); ok && f.kind == kindTimer {
				return true
			}
		}
	}
	return false
}

// temporalHandler is one tag set. Handlers are interned: WithTags with the same
// tags on the same handler returns the same child, so instruments resolved once per
// tag set and name are cached and the hot path, h.Counter(name).Inc(1), is an
// atomic load, a map lookup and an atomic add, without locks or allocations.
type temporalHandler struct {
	m      *temporalMetrics
	tags   map[string]string // as the SDK gave them, merged along the WithTags chain
	labels map[string]string // tags with sanitized names and valid UTF-8 values

	mu       sync.Mutex // serialises writes to the caches below
	children cowMap[*temporalHandler]
	counters cowMap[client.MetricsCounter]
	gauges   cowMap[client.MetricsGauge]
	timers   cowMap[client.MetricsTimer]
}

var _ client.MetricsHandler = (*temporalHandler)(nil)

func newTemporalHandler(m *temporalMetrics, tags map[string]string) *temporalHandler {
	labels := make(map[string]string, len(tags))
	// Sorted, so that when two tag names sanitize to the same label the same one
	// (the lexically first) always wins.
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		l := sanitizeLabelName(k)
		if _, dup := labels[l]; !dup {
			labels[l] = strings.ToValidUTF8(tags[k], "\uFFFD")
		}
	}
	return &temporalHandler{m: m, tags: tags, labels: labels}
}

// WithTags returns the handler for h's tags overridden and extended by tags.
func (h *temporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	if len(tags) == 0 {
		return h
	}
	var buf [256]byte
	key := appendTagsKey(buf[:0], tags)
	if child, ok := h.children.loadBytes(key); ok {
		return child
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if child, ok := h.children.loadBytes(key); ok {
		return child
	}
	merged := make(map[string]string, len(h.tags)+len(tags))
	maps.Copy(merged, h.tags)
	maps.Copy(merged, tags)
	child := newTemporalHandler(h.m, merged)
	h.children.store(string(key), child)
	return child
}

// Counter returns the counter name with h's tags.
func (h *temporalHandler) Counter(name string) client.MetricsCounter {
	return cachedInstrument(h, &h.counters, name, kindCounter, func(v any) client.MetricsCounter {
		return temporalCounter{v.(prometheus.Counter)}
	})
}

// Gauge returns the gauge name with h's tags.
func (h *temporalHandler) Gauge(name string) client.MetricsGauge {
	return cachedInstrument(h, &h.gauges, name, kindGauge, func(v any) client.MetricsGauge {
		return temporalGauge{v.(prometheus.Gauge)}
	})
}

// Timer returns the timer name with h's tags, recorded as a histogram in seconds.
func (h *temporalHandler) Timer(name string) client.MetricsTimer {
	return cachedInstrument(h, &h.timers, name, kindTimer, func(v any) client.MetricsTimer {
		return temporalTimer{v.(prometheus.Observer)}
	})
}

// cachedInstrument returns the instrument for name from cache, creating it once under h's
// lock; a name that cannot be registered gets a no-op instrument.
func cachedInstrument[T any](h *temporalHandler, cache *cowMap[T], name string, k temporalKind, wrap func(any) T) T {
	if v, ok := cache.load(name); ok {
		return v
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if v, ok := cache.load(name); ok {
		return v
	}
	var inst T
	if v := h.instrument(name, k); v != nil {
		inst = wrap(v)
	} else {
		inst = any(noopInstrument{}).(T)
	}
	cache.store(name, inst)
	return inst
}

// instrument returns the prometheus.Counter, prometheus.Gauge or
// prometheus.Observer for name and h's labels mapped onto the family's label names,
// or nil when the metric cannot be recorded. It is the slow path, run once per tag
// set and name.
func (h *temporalHandler) instrument(name string, kind temporalKind) any {
	name = sanitizeMetricName(name)
	f := h.m.family(name, kind, h.labels)
	if f == nil {
		return nil
	}
	values := make([]string, len(f.labels))
	matched := 0
	for i, l := range f.labels {
		if v, ok := h.labels[l]; ok {
			values[i] = v
			matched++
		}
	}
	if matched < len(f.labels) {
		h.m.issue(name, issueLabelsMissing)
	}
	if matched < len(h.labels) {
		h.m.issue(name, issueLabelsDropped)
	}
	var (
		v   any
		err error
	)
	switch kind {
	case kindCounter:
		v, err = f.counter.GetMetricWithLabelValues(values...)
	case kindGauge:
		v, err = f.gauge.GetMetricWithLabelValues(values...)
	case kindTimer:
		v, err = f.timer.GetMetricWithLabelValues(values...)
	}
	if err != nil {
		h.m.issue(name, issueInvalid)
		return nil
	}
	return v
}

type temporalCounter struct{ c prometheus.Counter }

// Inc adds d; a negative d, which a Prometheus counter cannot take, is ignored.
func (c temporalCounter) Inc(d int64) {
	if d > 0 {
		c.c.Add(float64(d))
	}
}

type temporalGauge struct{ g prometheus.Gauge }

func (g temporalGauge) Update(v float64) { g.g.Set(v) }

type temporalTimer struct{ o prometheus.Observer }

func (t temporalTimer) Record(d time.Duration) { t.o.Observe(d.Seconds()) }

// noopInstrument stands for a metric that cannot be recorded.
type noopInstrument struct{}

func (noopInstrument) Inc(int64)            {}
func (noopInstrument) Update(float64)       {}
func (noopInstrument) Record(time.Duration) {}

// appendTagsKey appends an unambiguous encoding of tags, in sorted key order, to b.
func appendTagsKey(b []byte, tags map[string]string) []byte {
	var buf [16]string
	keys := buf[:0]
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := tags[k]
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// sanitizeMetricName maps s onto [a-zA-Z_][a-zA-Z0-9_]*. Colons, legal in metric
// names, are replaced too: they are reserved for recording rules.
func sanitizeMetricName(s string) string {
	if s == "" {
		return "unnamed"
	}
	return sanitize(s)
}

// sanitizeLabelName maps s onto [a-zA-Z_][a-zA-Z0-9_]*, and renames the label names
// Prometheus reserves (a "__" prefix, "le" in histograms, "quantile" in summaries).
func sanitizeLabelName(s string) string {
	if s == "" {
		return "tag_"
	}
	s = sanitize(s)
	if strings.HasPrefix(s, "__") || s == "le" || s == "quantile" {
		return "tag_" + s
	}
	return s
}

func sanitize(s string) string {
	valid := true
	for i := 0; i < len(s) && valid; i++ {
		valid = isNameByte(s[i], i == 0)
	}
	if valid {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	for i, r := range s {
		switch {
		case r < 0x80 && isNameByte(byte(r), i == 0):
			b.WriteRune(r)
		case i == 0 && '0' <= r && r <= '9':
			b.WriteByte('_')
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}
