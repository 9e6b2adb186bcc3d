package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	analyticsact "github.com/impactflow/impactflow/activities/analytics"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/ingest"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// Cache lifetimes per endpoint: trends move with every sync, benchmarks hardly at all. A
// sync that brings a tenant new data invalidates its entries before they expire.
var analyticsTTL = map[string]time.Duration{
	"trends": time.Hour, "cohorts": 2 * time.Hour, "funnels": 3 * time.Hour, "benchmarks": 6 * time.Hour,
}

// Limits on analytics parameters.
const (
	maxCohorts     = 10
	maxFunnelSteps = 8
	maxRange       = 10 * 366 * 24 * time.Hour
	defaultRange   = 90 * 24 * time.Hour
)

// maxPoints bounds a trend's series per granularity: a finer one over a longer period is a 400.
var maxPoints = map[analytics.Granularity]int{analytics.Day: 366, analytics.Week: 260, analytics.Month: 120}

// analyticsAnswer runs one analytics query for the caller's tenant: budget, cache, query.
func (s *Server) analyticsAnswer(c *gin.Context, endpoint string, params any, query func(ctx context.Context) (any, error)) {
	if s.analytics == nil {
		s.fail(c, analyticsUnavailable(errors.New("no analytics store configured")))
		return
	}
	ctx := c.Request.Context()
	tenant := mustPrincipal(c).TenantID
	if s.analyticsBudget != nil {
		if ok, wait := s.analyticsBudget.Take(ctx, tenant, time.Now()); !ok {
			c.Header("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			s.fail(c, &apiError{Status: http.StatusTooManyRequests, Code: "query_budget_exhausted",
				Message: fmt.Sprintf("this tenant has used its %d analytics queries for today (UTC)", s.analyticsBudget.Limit)})
			return
		}
	}
	var key string
	cached := false
	if s.analyticsCache != nil {
		var ok bool
		if key, ok = s.analyticsCache.Key(ctx, tenant, endpoint, params); ok {
			if b, hit := s.analyticsCache.Get(ctx, key); hit {
				c.Header("X-Cache", "hit")
				c.Data(http.StatusOK, "application/json; charset=utf-8", b)
				return
			}
			cached = true
		} else {
			s.analyticsCache.Miss()
		}
	}
	v, err := query(ctx)
	if err != nil {
		s.fail(c, analyticsError(err))
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.fail(c, err)
		return
	}
	if cached {
		s.analyticsCache.Set(ctx, key, b, analyticsTTL[endpoint])
	}
	c.Header("X-Cache", "miss")
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}

// analyticsError maps a failure to reach ClickHouse to a 503; an error ClickHouse raised for
// a query stays a bug (500).
func analyticsError(err error) error {
	var ae *apiError
	if errors.As(err, &ae) || errors.Is(err, context.Canceled) || analytics.IsQueryError(err) {
		return err
	}
	return analyticsUnavailable(err)
}

func analyticsUnavailable(err error) error {
	return fmt.Errorf("%w: %w", &apiError{Status: http.StatusServiceUnavailable, Code: "dependency_unavailable",
		Message: "ClickHouse is unavailable; try again", Details: map[string]string{"dependency": "clickhouse"}}, err)
}

// period parses from and to (YYYY-MM-DD, to exclusive); by default the last 90 days.
func period(c *gin.Context) (from, to time.Time, err error) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	to = today.AddDate(0, 0, 1)
	if v := c.Query("to"); v != "" {
		if to, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, badRequest("to", "to must be a date such as 2026-03-31")
		}
	}
	from = to.Add(-defaultRange)
	if v := c.Query("from"); v != "" {
		if from, err = time.Parse(time.DateOnly, v); err != nil {
			return from, to, badRequest("from", "from must be a date such as 2026-01-01")
		}
	}
	if !from.Before(to) {
		return from, to, badRequest("from", "from must be before to")
	}
	if to.Sub(from) > maxRange {
		return from, to, badRequest("from", "the period is at most 10 years")
	}
	return from, to, nil
}

func metricParam(field, v string) (analytics.Metric, error) {
	m, ok := analytics.Metrics[v]
	if !ok {
		return m, badRequest(field, "%s must be one of %s", field, strings.Join(analytics.MetricNames(), ", "))
	}
	return m, nil
}

func listParam(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

type trendParams struct {
	Metric      string `json:"metric"`
	From        string `json:"from"`
	To          string `json:"to"`
	Granularity string `json:"granularity"`
	Program     string `json:"program"`
	Cohort      string `json:"cohort"`
}

func (s *Server) analyticsTrends(c *gin.Context) {
	m, err := metricParam("metric", c.Query("metric"))
	if err != nil {
		s.fail(c, err)
		return
	}
	from, to, err := period(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	g := analytics.Granularity(c.DefaultQuery("granularity", "day"))
	limit, ok := maxPoints[g]
	if !ok {
		s.fail(c, badRequest("granularity", "granularity must be day, week or month"))
		return
	}
	from, to = g.Align(from, to)
	if points := bucketCount(g, from, to); points > limit {
		s.fail(c, badRequest("granularity", "granularity %s is too fine for this period (%d points, at most %d): use a coarser one", g, points, limit))
		return
	}
	tenant := mustPrincipal(c).TenantID
	p := trendParams{Metric: m.Name, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Granularity: string(g),
		Program: c.Query("program"), Cohort: c.Query("cohort")}
	s.analyticsAnswer(c, "trends", p, func(ctx context.Context) (any, error) {
		q := analytics.TrendQuery{TenantID: tenant, Metric: m, From: from, To: to, Granularity: g, Cohort: p.Cohort}
		if p.Program != "" {
			id, found, err := s.analytics.ProgramID(ctx, tenant, p.Program)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, badRequest("program", "this tenant has no program %q", p.Program)
			}
			q.ProgramID = id
		}
		return s.analytics.Trends(ctx, q)
	})
}

func bucketCount(g analytics.Granularity, from, to time.Time) int {
	switch g {
	case analytics.Week:
		return int(to.Sub(from).Hours() / (24 * 7))
	case analytics.Month:
		return (to.Year()-from.Year())*12 + int(to.Month()-from.Month())
	}
	return int(to.Sub(from).Hours() / 24)
}

type cohortParams struct {
	Dimension string   `json:"dimension"`
	Cohorts   []string `json:"cohorts"`
	Metrics   []string `json:"metrics"`
	From      string   `json:"from"`
	To        string   `json:"to"`
}

func (s *Server) analyticsCohorts(c *gin.Context) {
	dim := analytics.CohortDimension(c.DefaultQuery("dimension", "program"))
	if dim != analytics.ByProgram && dim != analytics.ByLocation && dim != analytics.ByCohort {
		s.fail(c, badRequest("dimension", "dimension must be program, location or cohort"))
		return
	}
	cohorts := listParam(c.Query("cohorts"))
	if len(cohorts) == 0 || len(cohorts) > maxCohorts {
		s.fail(c, badRequest("cohorts", "cohorts must list 1 to %d comma-separated values", maxCohorts))
		return
	}
	names := listParam(c.Query("metrics"))
	if len(names) == 0 {
		s.fail(c, badRequest("metrics", "metrics must list at least one of %s", strings.Join(analytics.MetricNames(), ", ")))
		return
	}
	var ms []analytics.Metric
	for _, n := range names {
		m, err := metricParam("metrics", n)
		if err != nil {
			s.fail(c, err)
			return
		}
		ms = append(ms, m)
	}
	from, to, err := period(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	tenant := mustPrincipal(c).TenantID
	p := cohortParams{Dimension: string(dim), Cohorts: cohorts, Metrics: names, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly)}
	s.analyticsAnswer(c, "cohorts", p, func(ctx context.Context) (any, error) {
		out, err := s.analytics.Cohorts(ctx, analytics.CohortQuery{TenantID: tenant, Dimension: dim, Cohorts: cohorts, Metrics: ms, From: from, To: to})
		if err != nil {
			return nil, err
		}
		return gin.H{"dimension": dim, "from": p.From, "to": p.To, "cohorts": out}, nil
	})
}

type funnelParams struct {
	Steps      []string `json:"steps"`
	From       string   `json:"from"`
	To         string   `json:"to"`
	WindowDays int      `json:"window_days"`
}

func (s *Server) analyticsFunnels(c *gin.Context) {
	steps := listParam(c.DefaultQuery("steps", strings.Join(analytics.DefaultFunnelSteps, ",")))
	if len(steps) < 2 || len(steps) > maxFunnelSteps {
		s.fail(c, badRequest("steps", "steps must list 2 to %d event kinds in order", maxFunnelSteps))
		return
	}
	seen := map[string]bool{}
	for _, st := range steps {
		if !slices.Contains(ingest.EventKinds, st) || seen[st] {
			s.fail(c, badRequest("steps", "steps must be distinct event kinds: %s", strings.Join(ingest.EventKinds, ", ")))
			return
		}
		seen[st] = true
	}
	window, err := strconv.Atoi(c.DefaultQuery("window_days", "30"))
	if err != nil || window < 1 || window > 366 {
		s.fail(c, badRequest("window_days", "window_days must be a whole number of days from 1 to 366"))
		return
	}
	from, to, err := period(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	tenant := mustPrincipal(c).TenantID
	p := funnelParams{Steps: steps, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), WindowDays: window}
	s.analyticsAnswer(c, "funnels", p, func(ctx context.Context) (any, error) {
		out, err := s.analytics.Funnel(ctx, analytics.FunnelQuery{TenantID: tenant, Steps: steps, From: from, To: to,
			Window: time.Duration(window) * 24 * time.Hour})
		if err != nil {
			return nil, err
		}
		return gin.H{"from": p.From, "to": p.To, "window_days": window, "steps": out}, nil
	})
}

type benchmarkParams struct {
	Metric string `json:"metric"`
	From   string `json:"from"`
	To     string `json:"to"`
}

func (s *Server) analyticsBenchmarks(c *gin.Context) {
	m, err := metricParam("metric", c.Query("metric"))
	if err != nil {
		s.fail(c, err)
		return
	}
	from, to, err := period(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	from, to = analytics.Month.Align(from, to) // the benchmark views are monthly
	tenant := mustPrincipal(c).TenantID
	p := benchmarkParams{Metric: m.Name, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly)}
	s.analyticsAnswer(c, "benchmarks", p, func(ctx context.Context) (any, error) {
		out, err := s.analytics.Benchmarks(ctx, analytics.BenchmarkQuery{TenantID: tenant, Metric: m, From: from, To: to})
		if err != nil {
			return nil, err
		}
		return gin.H{"metric": m.Name, "from": p.From, "to": p.To, "min_peers": analytics.MinPeers, "benchmarks": out}, nil
	})
}

type syncRequest struct {
	Mode string `json:"mode"`
	From string `json:"from"`
	To   string `json:"to"`
}

// startSync starts a sync job: an incremental run now, or a backfill of the caller's
// tenant (optionally of events that occurred in [from, to)).
func (s *Server) startSync(c *gin.Context) {
	var req syncRequest
	if c.Request.ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			s.fail(c, err)
			return
		}
	}
	tenant := mustPrincipal(c).TenantID
	scope := analyticsact.Scope{Mode: req.Mode}
	switch req.Mode {
	case "", analyticsact.ModeIncremental:
		scope.Mode = analyticsact.ModeIncremental
		if req.From != "" || req.To != "" {
			s.fail(c, badRequest("from", "from and to apply to backfills only"))
			return
		}
	case analyticsact.ModeBackfill:
		scope.TenantID = tenant
		for _, f := range []struct {
			name, v string
			dst     **time.Time
		}{{"from", req.From, &scope.From}, {"to", req.To, &scope.To}} {
			if f.v == "" {
				continue
			}
			t, err := time.Parse(time.DateOnly, f.v)
			if err != nil {
				s.fail(c, badRequest(f.name, "%s must be a date such as 2026-01-01", f.name))
				return
			}
			*f.dst = &t
		}
		if scope.From != nil && scope.To != nil && !scope.From.Before(*scope.To) {
			s.fail(c, badRequest("from", "from must be before to"))
			return
		}
	default:
		s.fail(c, badRequest("mode", "mode must be incremental or backfill"))
		return
	}
	id, err := jobID(c, jobs.KindClickHouseSync, tenant)
	if err != nil {
		s.fail(c, err)
		return
	}
	job, err := s.jobs.Start(c.Request.Context(), tenant, id, jobs.StartOptions{
		TaskQueue: temporal.TaskQueueAnalytics,
		Workflow:  workflows.ClickHouseSyncWorkflow,
		Input:     workflows.ClickHouseSyncInput{Scope: scope},
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	accepted(c, job)
}

// syncStatus reports the watermark, the lag behind Postgres and the last run.
func (s *Server) syncStatus(c *gin.Context) {
	if s.analytics == nil {
		s.fail(c, analyticsUnavailable(errors.New("no analytics store configured")))
		return
	}
	ctx := c.Request.Context()
	wm, err := s.analytics.Watermark(ctx)
	if err != nil {
		s.fail(c, analyticsError(err))
		return
	}
	last, ok, err := s.analytics.LastRun(ctx)
	if err != nil {
		s.fail(c, analyticsError(err))
		return
	}
	out := gin.H{"watermark": nil, "lag_seconds": nil, "last_run": nil}
	if !wm.UpdatedAt.IsZero() {
		out["watermark"] = gin.H{"updated_at": wm.UpdatedAt, "tenant_id": wm.TenantID, "event_id": wm.EventID}
		out["lag_seconds"] = time.Since(wm.UpdatedAt).Seconds()
	}
	if ok {
		out["last_run"] = last
	}
	c.JSON(http.StatusOK, out)
}

// analyticsCacheStats is the analytics part of GET /health/cache.
func (s *Server) analyticsCacheStats(ctx context.Context) any {
	if s.analyticsCache == nil {
		return nil
	}
	return s.analyticsCache.Stats(ctx)
}
