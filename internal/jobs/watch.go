package jobs

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/api/workflowservice/v1"
)

// A closed job changes only when a new run of its workflow ID starts: a reset, through this
// Service or elsewhere (the Temporal UI or CLI, another API process). Re-reading each polled
// closed job to notice one cost a describe per job every closedJobTTL/2: with the 200 jobs
// of `bench job-status`, ~100 describes/s and ~13% of the dev process's CPU. The run watch
// instead asks visibility once per closedCheckInterval for the runs started since its
// previous question, and drops the cached closed jobs whose run is not the one listed.
// Visibility gives a reset's new run the reset's time as StartTime (not the first run's),
// Running until it closes; the old run keeps its record unchanged. The new run shows there
// within half a second of the reset (embedded server v1.32.1, SQLite visibility; asserted
// by TestResetElsewhereShowsInStatusPoll in package api).
const (
	// closedCheckInterval is how often the watch asks, while closed jobs are being polled.
	closedCheckInterval = closedJobTTL / 2
	// visibilityLag is how long visibility may trail a new run's start and the run still
	// show within closedJobTTL. The embedded server's visibility trails by milliseconds.
	visibilityLag = time.Second
	// checkOverlap reaches each check back before its predecessor was sent, for visibility
	// lag and for skew between this process's clock and the Temporal server's close times.
	checkOverlap = closedJobTTL
	// maxCheckGap bounds how far back a check reaches after failed ones; past it the watch
	// starts over and vouches only for jobs read since (the others are re-read once).
	maxCheckGap = time.Minute
	// checkPageSize is the visibility page size of a check.
	checkPageSize = 1000
)

// runWatch is the state of the checks for new runs, guarded by Service.mu. The checks of
// one epoch form a chain: each lists the runs started since its predecessor was sent (less
// checkOverlap), so together they see every new run that started since the
// epoch began. A cached closed job read during the epoch, no earlier than the window of the
// next check, is vouched for as long as the last check was sent recently enough for a new
// run started closedJobTTL ago to have been in it.
type runWatch struct {
	epoch   int       // 0 until the first check succeeds
	sent    time.Time // when the last successful check was sent
	started time.Time // when the last check, successful or not, was started
	running bool      // a check is under way
}

// vouches reports whether the watch would by now have dropped c had a new run of its job
// started closedJobTTL ago or earlier.
func (w *runWatch) vouches(c cachedJob, now time.Time) bool {
	return c.watched != 0 && c.watched == w.epoch && now.Sub(w.sent) < closedJobTTL-visibilityLag
}

// covering is the epoch whose checks will see every new run started after a read that
// began at at, or 0: the next check reaches back to w.sent-checkOverlap.
func (w *runWatch) covering(at time.Time) int {
	if w.epoch == 0 || at.Before(w.sent.Add(-checkOverlap)) {
		return 0
	}
	return w.epoch
}

// due reports whether a check should start now, and marks it started.
func (w *runWatch) due(now time.Time) bool {
	if w.running || now.Sub(w.started) < closedCheckInterval {
		return false
	}
	w.running, w.started = true, now
	return true
}

// checkRuns lists the runs started since the previous check and drops the cached closed
// jobs that another run of their workflow ID has replaced.
func (s *Service) checkRuns() {
	s.mu.Lock()
	sent := time.Now()
	restart := s.watch.epoch == 0 || sent.Sub(s.watch.sent) > maxCheckGap
	since := s.watch.sent.Add(-checkOverlap)
	if restart {
		since = sent.Add(-checkOverlap)
	}
	s.mu.Unlock()

	runs, err := s.runsSince(context.Background(), since)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.watch.running = false
	s.stats.RunChecks++
	if err != nil {
		s.stats.RunCheckErrors++
		return
	}
	for _, r := range runs {
		if c, ok := s.recent[r.id]; ok && c.job.Status.Closed() && c.job.RunID != r.runID {
			delete(s.recent, r.id)
		}
	}
	if restart {
		s.watch.epoch++
	}
	s.watch.sent = sent
}

type jobRun struct{ id, runID string }

// runsSince lists the runs that started at or after since, of any workflow: a job's new run
// is found by its workflow ID whatever its search attributes say.
func (s *Service) runsSince(ctx context.Context, since time.Time) ([]jobRun, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	q := "StartTime >= " + QueryLiteral(since.UTC().Format(time.RFC3339Nano))
	var runs []jobRun
	var token []byte
	for {
		resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.namespace, PageSize: checkPageSize, NextPageToken: token, Query: q,
		})
		if err != nil {
			return nil, fmt.Errorf("list new runs: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			runs = append(runs, jobRun{id: e.GetExecution().GetWorkflowId(), runID: e.GetExecution().GetRunId()})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return runs, nil
		}
	}
}
