package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// routeUnmatched labels requests that matched no route (404, 405), so that
// scanners probing random paths cannot create new series.
const routeUnmatched = "unmatched"

// httpBuckets suit an API whose p99 target is 10–100 ms, with room for the
// long-polling GET /v1/jobs/:id?wait=20s.
var httpBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func (r *Registry) httpMetrics() *httpMetrics {
	r.httpOnce.Do(func() {
		labels := []string{"method", "route", "status"}
		m := &httpMetrics{
			requests: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "impactflow_http_requests_total",
				Help: "HTTP requests served, by method, route template and status code.",
			}, labels),
			duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name:    "impactflow_http_request_duration_seconds",
				Help:    "Time to serve an HTTP request, by method, route template and status code.",
				Buckets: httpBuckets,
			}, labels),
			inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "impactflow_http_requests_in_flight",
				Help: "HTTP requests being served now.",
			}),
		}
		r.reg.MustRegister(m.requests, m.duration, m.inFlight)
		r.http = m
	})
	return r.http
}

// GinMiddleware records impactflow_http_requests_total,
// impactflow_http_request_duration_seconds and impactflow_http_requests_in_flight.
// The route label is the route template (c.FullPath(), e.g. /v1/jobs/:id), never the
// raw path, and "unmatched" when no route matched. Install it with engine.Use
// before the routes; calling it again returns a middleware sharing the same metrics.
func (r *Registry) GinMiddleware() gin.HandlerFunc {
	m := r.httpMetrics()
	return func(c *gin.Context) {
		start := time.Now()
		m.inFlight.Inc()
		finished := false
		defer func() {
			m.inFlight.Dec()
			status := c.Writer.Status()
			if !finished && !c.Writer.Written() {
				// A panic is unwinding through us; gin.Recovery will answer 500.
				status = http.StatusInternalServerError
			}
			route := c.FullPath()
			if route == "" {
				route = routeUnmatched
			}
			method := normalizeMethod(c.Request.Method)
			code := strconv.Itoa(status)
			m.requests.WithLabelValues(method, route, code).Inc()
			m.duration.WithLabelValues(method, route, code).Observe(time.Since(start).Seconds())
		}()
		c.Next()
		finished = true
	}
}

// normalizeMethod keeps the method label bounded: clients can send any token as a
// method, and unknown ones would otherwise each become a series.
func normalizeMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}
