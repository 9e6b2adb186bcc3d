package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// AI holds the AI cost and usage metrics, labelled by tenant and model. Tenants are a
// bounded set (each is provisioned), and so are models (the price table's rows plus the
// configured default), so the label sets stay small.
type AI struct {
	tokensUsed   *prometheus.CounterVec
	tokensIn     *prometheus.CounterVec
	tokensOut    *prometheus.CounterVec
	cost         *prometheus.CounterVec
	remaining    *prometheus.GaugeVec
	limit        *prometheus.GaugeVec
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	budgetAlerts *prometheus.CounterVec
}

// AI returns the registry's AI metrics, registering them on first use.
func (r *Registry) AI() *AI {
	r.aiOnce.Do(func() {
		tm := []string{"tenant", "model"}
		m := &AI{
			tokensUsed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ai_tokens_used_total", Help: "LLM tokens used, input plus output."}, tm),
			tokensIn:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ai_tokens_input_total", Help: "LLM prompt tokens."}, tm),
			tokensOut:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ai_tokens_output_total", Help: "LLM completion tokens."}, tm),
			cost:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ai_cost_dollars_total", Help: "What LLM calls cost, in US dollars, from the price table."}, tm),
			remaining:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ai_budget_remaining_dollars", Help: "What the tenant can still reserve this period, in US dollars."}, []string{"tenant"}),
			limit:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ai_budget_limit_dollars", Help: "The tenant's monthly AI budget, in US dollars."}, []string{"tenant"}),
			requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ai_requests_total",
				Help: "LLM calls by outcome: ok, rate_limited, server_error, client_error, transport_error, budget_exhausted."}, []string{"tenant", "model", "status"}),
			duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ai_request_duration_seconds", Help: "Time of one LLM call.",
				Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}, tm),
			budgetAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ai_budget_alerts_total", Help: "Budget alerts fired, by threshold percent."}, []string{"tenant", "threshold"}),
		}
		r.reg.MustRegister(m.tokensUsed, m.tokensIn, m.tokensOut, m.cost, m.remaining, m.limit, m.requests, m.duration, m.budgetAlerts)
		r.ai = m
	})
	return r.ai
}

// Call records one LLM call's outcome, and its usage when it succeeded.
func (m *AI) Call(tenant, model, status string, d time.Duration, tokensIn, tokensOut int, costMicros int64) {
	m.requests.WithLabelValues(tenant, model, status).Inc()
	m.duration.WithLabelValues(tenant, model).Observe(d.Seconds())
	if tokensIn+tokensOut > 0 || costMicros > 0 {
		m.tokensIn.WithLabelValues(tenant, model).Add(float64(tokensIn))
		m.tokensOut.WithLabelValues(tenant, model).Add(float64(tokensOut))
		m.tokensUsed.WithLabelValues(tenant, model).Add(float64(tokensIn + tokensOut))
		m.cost.WithLabelValues(tenant, model).Add(float64(costMicros) / 1e6)
	}
}

// Rejected counts a call refused before it was made because the budget was exhausted.
func (m *AI) Rejected(tenant, model string) {
	m.requests.WithLabelValues(tenant, model, "budget_exhausted").Inc()
}

// Budget sets the tenant's budget gauges.
func (m *AI) Budget(tenant string, limitMicros, remainingMicros int64) {
	m.limit.WithLabelValues(tenant).Set(float64(limitMicros) / 1e6)
	m.remaining.WithLabelValues(tenant).Set(float64(remainingMicros) / 1e6)
}

// Alert counts a budget alert.
func (m *AI) Alert(tenant string, threshold int) {
	m.budgetAlerts.WithLabelValues(tenant, strconv.Itoa(threshold)).Inc()
}
