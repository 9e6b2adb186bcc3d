// Package metrics is impactflow's Prometheus registry: Go runtime and process
// metrics, the HTTP API's request metrics (GinMiddleware) and the Temporal SDK's
// client and worker metrics (TemporalHandler), all served by one /metrics handler.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds every impactflow metric in its own prometheus.Registry; the global
// default registry is never used, so tests and several servers in one process do
// not share state.
type Registry struct {
	reg *prometheus.Registry

	handlerOnce sync.Once
	handler     http.Handler

	httpOnce sync.Once
	http     *httpMetrics

	temporalOnce sync.Once
	temporal     *temporalMetrics

	aiOnce sync.Once
	ai     *AI
}

// New returns a Registry with the Go runtime and process collectors registered.
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return &Registry{reg: reg}
}

// Prometheus returns the underlying registry, for packages that register their own
// collectors.
func (r *Registry) Prometheus() *prometheus.Registry { return r.reg }

// Handler serves the registry in the Prometheus exposition format. One collector
// that fails to gather does not fail the scrape: the rest is served, the error is
// logged and counted in promhttp_metric_handler_errors_total. The handler is built
// once, so calling Handler on every scrape is cheap.
func (r *Registry) Handler() http.Handler {
	r.handlerOnce.Do(func() {
		r.handler = promhttp.InstrumentMetricHandler(r.reg, promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
			ErrorLog:      scrapeErrorLog{},
			ErrorHandling: promhttp.ContinueOnError,
			Registry:      r.reg,
		}))
	})
	return r.handler
}

// scrapeErrorLog adapts promhttp's logger to slog.
type scrapeErrorLog struct{}

func (scrapeErrorLog) Println(v ...any) {
	slog.Error("metrics scrape", "error", fmt.Sprint(v...))
}
