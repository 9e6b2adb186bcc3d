package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/impactflow/impactflow/internal/jobs"
)

// Analytics targets (issue 6).
const (
	targetBackfillRowsPerSec = 200_000
	targetUncachedFastP95    = 25 * time.Millisecond // trends, cohorts
	targetUncachedSlowP95    = 50 * time.Millisecond // funnels, benchmarks
	targetCachedP95          = 3 * time.Millisecond
	targetHitRate            = 0.80
	analyticsLimit           = 10 * time.Minute
	// uncachedQueries per endpoint: each asks a different period, so none is cached. The
	// phases together stay well inside the default budget of 10,000 queries a day.
	uncachedQueries = 300
	cachedQueries   = 1000
	mixQueries      = 2000
	mixDistinct     = 60
)

// getAnalytics GETs an analytics path and reports whether the answer came from the cache.
func (a *apiClient) getAnalytics(ctx context.Context, path string) (hit bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	resp, err := a.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET %s: %s", path, apiErrorText(resp.StatusCode, body))
	}
	return resp.Header.Get("X-Cache") == "hit", nil
}

// analyticsQuery is the path of the i-th distinct query of an endpoint: a different start
// date makes a different cache key.
func analyticsQuery(endpoint string, i int) string {
	from := time.Now().UTC().AddDate(0, 0, -30-i%330).Format(time.DateOnly)
	switch endpoint {
	case "cohorts":
		return "/v1/analytics/cohorts?dimension=program&cohorts=mentoring,volunteering,green-skills&metrics=participants,sessions,volunteer_hours&from=" + from
	case "funnels":
		return "/v1/analytics/funnels?window_days=60&from=" + from
	case "benchmarks":
		// Benchmarks are asked by whole months: distinct queries differ in metric and start month.
		metrics := []string{"participants", "signups", "sessions_started", "sessions", "outcomes_measured", "volunteer_hours", "donations", "avg_outcome_score"}
		return fmt.Sprintf("/v1/analytics/benchmarks?metric=%s&from=%s", metrics[(i/60)%len(metrics)], time.Now().UTC().AddDate(0, -1-i%60, 0).Format(time.DateOnly))
	}
	return "/v1/analytics/trends?metric=volunteer_hours&granularity=day&from=" + from
}

// runAnalyticsAPI measures the analytics API uncached and cached, then the cache hit rate
// under a repeated mix (a few popular dashboards and a long tail). One run asks ~6,600
// queries: repeated runs on one day need a larger ANALYTICS_DAILY_QUERIES, and a run soon
// after another may find some of its "uncached" periods cached (answers live 1-6 h).
func runAnalyticsAPI(ctx context.Context, o Options, r *report) error {
	a := newAPIClient(o)
	defer a.close()
	salt := rand.IntN(100000) // a fresh set of periods per run, so "uncached" is
	for _, ep := range []string{"trends", "cohorts", "funnels", "benchmarks"} {
		r.progress("%s: %d distinct queries, then the same query %d times", ep, uncachedQueries, cachedQueries)
		miss := r.add(runClients(ctx, ep+" uncached", o.Concurrency, analyticsLimit, uncachedQueries, func(ctx context.Context, t int) error {
			_, err := a.getAnalytics(ctx, analyticsQuery(ep, salt+t)+fmt.Sprintf("&to=%s", time.Now().UTC().AddDate(0, 0, 1+(salt+t)%5).Format(time.DateOnly)))
			return err
		}))
		path := analyticsQuery(ep, salt)
		if _, err := a.getAnalytics(ctx, path); err != nil { // fill the cache
			return err
		}
		hit := r.add(runClients(ctx, ep+" cached", o.Concurrency, analyticsLimit, cachedQueries, func(ctx context.Context, _ int) error {
			_, err := a.getAnalytics(ctx, path)
			return err
		}))
		target := targetUncachedFastP95
		if ep == "funnels" || ep == "benchmarks" {
			target = targetUncachedSlowP95
		}
		r.check(fmt.Sprintf("%s uncached p95 < %d ms", ep, target.Milliseconds()), miss.errors == 0 && miss.latency.p95 < target,
			"p95 %s ms, %d errors", millis(miss.latency.p95), miss.errors)
		r.check(fmt.Sprintf("%s cached p95 < %d ms", ep, targetCachedP95.Milliseconds()), hit.errors == 0 && hit.latency.p95 < targetCachedP95,
			"p95 %s ms, %d errors", millis(hit.latency.p95), hit.errors)
	}

	// The mix: query k of mixDistinct is asked with probability ∝ 1/(k+1) (Zipf, s=1).
	weights := make([]float64, mixDistinct)
	var total float64
	for k := range weights {
		weights[k] = 1 / float64(k+1)
		total += weights[k]
	}
	rng := rand.New(rand.NewPCG(uint64(salt), 7))
	picks := make([]int, mixQueries)
	for i := range picks {
		x := rng.Float64() * total
		for k, w := range weights {
			if x -= w; x <= 0 || k == len(weights)-1 {
				picks[i] = k
				break
			}
		}
	}
	var hits, asked atomic.Int64
	endpoints := []string{"trends", "cohorts", "funnels", "benchmarks"}
	mix := r.add(runClients(ctx, "repeated mix", o.Concurrency, analyticsLimit, mixQueries, func(ctx context.Context, t int) error {
		k := picks[t]
		hit, err := a.getAnalytics(ctx, analyticsQuery(endpoints[k%4], salt+50000+k))
		asked.Add(1)
		if hit {
			hits.Add(1)
		}
		return err
	}))
	rate := float64(hits.Load()) / float64(max(asked.Load(), 1))
	r.fact("mix", "%d queries over %d distinct ones, Zipf-distributed, all four endpoints", mixQueries, mixDistinct)
	r.check(fmt.Sprintf("cache hit rate ≥ %.0f%% under the mix", targetHitRate*100), mix.errors == 0 && rate >= targetHitRate, "%.1f%%", rate*100)
	return nil
}

// runAnalyticsBackfill backfills the calling tenant's events into ClickHouse and measures
// rows per second and the dev process's peak memory. Load events first (import-1m) for a
// large backfill.
func runAnalyticsBackfill(ctx context.Context, o Options, r *report) error {
	a := newAPIClient(o)
	defer a.close()
	rss := startRSSSampler(ctx, o.PID)
	t0 := time.Now()
	j, err := a.startSync(ctx, "backfill")
	if err != nil {
		rss.stop()
		return err
	}
	j, err = a.waitJob(ctx, j.ID, time.Second, analyticsLimit, func(j job) {
		if j.Progress != nil {
			r.progress("%.0f s: %d of %d rows (%s)", time.Since(t0).Seconds(), j.Progress.Done, j.Progress.Total, j.Progress.Step)
		}
	})
	elapsed := time.Since(t0)
	mem := rss.stop()
	if err != nil {
		return err
	}
	var rows int
	if j.Result != nil { // a sync result shares the import result's "rows"
		rows = j.Result.Rows
	}
	r.add(phase{name: "backfill, 1 job", clients: 1, ops: rows, elapsed: elapsed})
	rate := perSecond(rows, elapsed)
	r.fact("backfill", "%s rows in %.2f s, %s rows/s end to end (views refreshed)", thousands(int64(rows)), elapsed.Seconds(), thousands(int64(rate)))
	// The copy ends when Finish, which refreshes the views, is scheduled. The refresh
	// recomputes the views over every tenant's events, so it costs the same for a backfill
	// of one day as for one of everything; the copy is what grows with the backfilled rows.
	finish, err := a.finishScheduled(ctx, j.ID)
	if err != nil {
		return err
	}
	copied := finish.Sub(t0)
	copyRate := perSecond(rows, copied)
	r.fact("copy", "%s rows in %.2f s, %s rows/s from the POST to the views' refresh (planning included)",
		thousands(int64(rows)), copied.Seconds(), thousands(int64(copyRate)))
	r.fact("views' refresh", "%.2f s after the copy, over every tenant's events", elapsed.Seconds()-copied.Seconds())
	if o.PID != 0 && mem.err == nil {
		r.fact("dev process RSS", "%s peak during the backfill", formatBytes(mem.peak()))
	}
	r.check(fmt.Sprintf("backfill copy ≥ %s rows/s", thousands(targetBackfillRowsPerSec)), j.Status == "completed" && copyRate >= targetBackfillRowsPerSec,
		"%s rows/s (%s)", thousands(int64(copyRate)), j.Status)
	r.check(fmt.Sprintf("backfill end to end, views refreshed, ≥ %s rows/s", thousands(targetBackfillRowsPerSec)),
		j.Status == "completed" && rate >= targetBackfillRowsPerSec, "%s rows/s (%s)", thousands(int64(rate)), j.Status)
	return nil
}

// finishScheduled reads from a sync job's history when its Finish activity was scheduled.
func (a *apiClient) finishScheduled(ctx context.Context, id string) (time.Time, error) {
	var h jobs.History
	if err := a.call(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id)+"/history", nil, http.StatusOK, &h); err != nil {
		return time.Time{}, err
	}
	for _, e := range h.Entries {
		if e.Kind == "activity" && e.Name == "Finish" {
			return e.Time, nil
		}
	}
	return time.Time{}, fmt.Errorf("history of %s: no Finish activity", id)
}

// Steady-state lag: a writer adds lagWriteRate events a second through the import API
// while a sync starts every lagSyncEvery unless the last one still runs, as the schedule's
// overlap policy (skip) does (in production the schedule runs it every SYNC_INTERVAL; here
// it is short so that one run of the scenario sees many syncs).
const (
	lagWriteRate  = 1000
	lagBatch      = 100
	lagSyncEvery  = 5 * time.Second
	lagSampleTick = time.Second
)

// runAnalyticsLag measures the sync's lag (now minus the newest synced updated_at) while
// events keep arriving. A first sync brings ClickHouse up to date before the writer starts:
// events imported earlier (import-1m) are a backlog, not steady state.
func runAnalyticsLag(ctx context.Context, o Options, r *report) error {
	ev, err := newEvents(time.Now().UnixNano())
	if err != nil {
		return err
	}
	a := newAPIClient(o)
	defer a.close()
	r.progress("catching up: one sync of everything written before the writer starts")
	t0 := time.Now()
	first, err := a.startSync(ctx, "incremental")
	if err != nil {
		return err
	}
	if first, err = a.waitJob(ctx, first.ID, time.Second, analyticsLimit, nil); err != nil {
		return err
	}
	if first.Status != "completed" {
		return fmt.Errorf("the catch-up sync %s ended %s", first.ID, first.Status)
	}
	r.fact("catch-up", "the first sync took %.1f s", time.Since(t0).Seconds())

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var written, writeErrs atomic.Int64
	var syncs, skipped int
	var lags []time.Duration
	done := make(chan struct{})
	go func() { // the writer
		defer close(done)
		tick := time.NewTicker(time.Second * lagBatch / lagWriteRate)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var body bytes.Buffer
			if err := ev.write(&body, lagBatch); err != nil {
				writeErrs.Add(1)
				continue
			}
			if _, err := a.postImport(ctx, bytes.NewReader(body.Bytes()), int64(body.Len()), requestTimeout); err != nil {
				if ctx.Err() == nil { // not the post the window's end cut off
					writeErrs.Add(1)
				}
				continue
			}
			written.Add(lagBatch)
		}
	}()
	syncTick := time.NewTicker(lagSyncEvery)
	defer syncTick.Stop()
	sample := time.NewTicker(lagSampleTick)
	defer sample.Stop()
	r.progress("writing %d events/s for %s, syncing every %s", lagWriteRate, o.Duration, lagSyncEvery)
	var running string // the sync started last, until it closes
	// Until the first sync started after the writer has completed, the newest synced row is
	// the catch-up's, written before the writer started: the lag then measures how long ago
	// the earlier load ended, not how far the sync trails the writer. Those samples are
	// counted apart as the warm-up.
	steady, warmup := false, 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-syncTick.C:
			if running != "" {
				if j, err := a.getJob(ctx, running, 0); err == nil && !j.closed() {
					skipped++
					continue
				} else if err == nil && j.Status == "completed" {
					steady = true
				}
			}
			if j, err := a.startSync(ctx, "incremental"); err == nil {
				running = j.ID
				syncs++
			}
		case <-sample.C:
			if lag, err := a.syncLag(ctx); err == nil {
				if steady {
					lags = append(lags, lag)
				} else {
					warmup++
				}
			}
		}
	}
	<-done
	s := summarize(lags)
	r.fact("writer", "%s events written (%d failed posts) in %s", thousands(written.Load()), writeErrs.Load(), o.Duration)
	r.fact("syncs", "%d started, %d ticks skipped while the last one ran (a tick every %s)", syncs, skipped, lagSyncEvery)
	r.fact("warm-up", "%d samples before the first sync of the writer's events completed, left out", warmup)
	r.fact("lag", "median %.1f s, p95 %.1f s, max %.1f s over %d samples", s.p50.Seconds(), s.p95.Seconds(), s.max.Seconds(), s.n)
	r.check(fmt.Sprintf("lag p95 under two sync intervals (%s)", 2*lagSyncEvery), s.n > 0 && s.p95 < 2*lagSyncEvery, "p95 %.1f s", s.p95.Seconds())
	return nil
}

// startSync starts a sync of the given mode (incremental, or backfill of the key's tenant).
func (a *apiClient) startSync(ctx context.Context, mode string) (job, error) {
	var j job
	err := a.call(ctx, http.MethodPost, "/v1/analytics/sync", map[string]string{"mode": mode}, http.StatusAccepted, &j)
	return j, err
}

// syncLag reads the lag GET /v1/analytics/sync reports.
func (a *apiClient) syncLag(ctx context.Context) (time.Duration, error) {
	var st struct {
		Lag *float64 `json:"lag_seconds"`
	}
	if err := a.call(ctx, http.MethodGet, "/v1/analytics/sync", nil, http.StatusOK, &st); err != nil {
		return 0, err
	}
	if st.Lag == nil {
		return 0, errors.New("GET /v1/analytics/sync: no lag_seconds")
	}
	return time.Duration(*st.Lag * float64(time.Second)), nil
}
