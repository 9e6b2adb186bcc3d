package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	openaisandbox "github.com/impactflow/impactflow/internal/sandbox/openai"
)

// The report scenario serves the OpenAI sandbox itself, so it can change its latency
// between phases; the dev process must be started pointing at it:
//
//	OPENAI_API_KEY=sk-bench-sandbox LLM_BASE_URL=http://127.0.0.1:8299/v1 impactflow dev
const (
	reportSandboxAddr = "127.0.0.1:8299"
	reportSandboxKey  = "sk-bench-sandbox"
	reportPath        = "/v1/gen-reports/generate"
	// reportThroughputJobs is how many 3-section reports the throughput phase runs.
	reportThroughputJobs = 200
	// reportBurst is how many reports start at once against the slow sandbox.
	reportBurst       = 100
	reportSlowLatency = 800 * time.Millisecond
	reportStartClient = 100
)

// The targets the report scenario checks.
const (
	targetReportsPerSecond = 10.0
	targetReportBurst      = 5 * time.Second
	targetReportStartP99   = 50 * time.Millisecond
)

// reportBody is a 3-section report over the last 90 days of the demo data.
func reportBody() []byte {
	now := time.Now().UTC()
	b, _ := json.Marshal(map[string]any{
		"period":   map[string]string{"from": now.AddDate(0, 0, -90).Format(time.DateOnly), "to": now.Format(time.DateOnly)},
		"sections": []string{"summary", "outcomes", "recommendations"},
		"locale":   "en",
	})
	return b
}

// postReport starts one report job; with wait > 0 it sends Prefer: wait and accepts 200.
func (a *apiClient) postReport(ctx context.Context, wait time.Duration) (job, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout+wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+reportPath, bytes.NewReader(reportBody()))
	if err != nil {
		return job{}, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.key)
	if wait > 0 {
		req.Header.Set("Prefer", fmt.Sprintf("wait=%d", int(wait.Seconds())))
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return job{}, nil, fmt.Errorf("POST %s: %w", reportPath, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return job{}, nil, err
	}
	if resp.StatusCode != http.StatusAccepted && (wait == 0 || resp.StatusCode != http.StatusOK) {
		return job{}, data, fmt.Errorf("POST %s: %s", reportPath, apiErrorText(resp.StatusCode, data))
	}
	var j job
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(data, &j); err != nil || j.ID == "" {
			return job{}, data, fmt.Errorf("POST %s: 202 without a job", reportPath)
		}
	}
	return j, data, nil
}

// reportEndToEnd starts a report and waits for its job to complete; started, when set, is
// told the job's ID.
func (a *apiClient) reportEndToEnd(ctx context.Context, started func(id string)) error {
	j, _, err := a.postReport(ctx, 0)
	if err != nil {
		return err
	}
	if started != nil {
		started(j.ID)
	}
	if j, err = a.waitJob(ctx, j.ID, longPoll, jobWaitLimit, nil); err != nil {
		return err
	}
	if j.Status != "completed" {
		msg := ""
		if j.Error != nil {
			msg = ": " + j.Error.Message
		}
		return fmt.Errorf("report %s %s%s", j.ID, j.Status, msg)
	}
	return nil
}

// historySample bounds how many histories countEngineWork reads, after the phase it counts.
const historySample = 100

// engineWork is what the engine did for a set of jobs, counted from their histories. On a
// shared machine the wall clock moves with everyone else's load; these counts do not, and
// each task, upsert or timeout is work for the engine, which writes one history at a time.
type engineWork struct {
	jobs, events, workflowTasks, taskTimeouts, activities, attempts, localActivities, upserts int
}

// countEngineWork reads the histories of up to historySample of the jobs (workflow IDs).
func countEngineWork(ctx context.Context, c client.Client, ids []string) (engineWork, error) {
	var w engineWork
	for _, id := range ids[:min(len(ids), historySample)] {
		it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return w, fmt.Errorf("history of %s: %w", id, err)
			}
			w.events++
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
				w.workflowTasks++
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
				w.taskTimeouts++
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				// A retried activity records only its last attempt's start, with its number.
				w.activities++
				w.attempts += int(ev.GetActivityTaskStartedEventAttributes().GetAttempt())
			case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
				w.upserts++
			case enumspb.EVENT_TYPE_MARKER_RECORDED:
				if ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
					w.localActivities++
				}
			}
		}
		w.jobs++
	}
	return w, nil
}

// String is the counts per job.
func (w engineWork) String() string {
	n := float64(max(w.jobs, 1))
	return fmt.Sprintf("%.1f events, %.2f workflow tasks (%.2f timed out), %.2f activities (%.2f attempts), %.2f local activities, %.2f search-attribute upserts per job, over %d jobs",
		float64(w.events)/n, float64(w.workflowTasks)/n, float64(w.taskTimeouts)/n, float64(w.activities)/n, float64(w.attempts)/n,
		float64(w.localActivities)/n, float64(w.upserts)/n, w.jobs)
}

func runReport(ctx context.Context, o Options, r *report) error {
	sb := openaisandbox.New(reportSandboxKey)
	stop, err := serveSandbox(reportSandboxAddr, sb)
	if err != nil {
		return fmt.Errorf("serve the LLM sandbox on %s: %w", reportSandboxAddr, err)
	}
	defer stop()
	a := newAPIClient(o)
	defer a.close()

	// The dev process must write through the sandbox, not offline.
	_, probe, err := a.postReport(ctx, 30*time.Second)
	if err != nil {
		return err
	}
	var rep struct {
		Status  string `json:"status"`
		Lineage struct {
			Model   string `json:"model"`
			Offline bool   `json:"offline"`
		} `json:"lineage"`
	}
	if err := json.Unmarshal(probe, &rep); err != nil || rep.Status == "" {
		return fmt.Errorf("the probe report did not finish within 30 s: %s", probe)
	}
	if rep.Lineage.Offline || sb.Completed() == 0 {
		return errors.New("the dev process writes offline: start it with OPENAI_API_KEY=" + reportSandboxKey +
			" LLM_BASE_URL=http://" + reportSandboxAddr + "/v1")
	}
	r.fact("llm", "go-openai against the sandbox at %s, model %s", reportSandboxAddr, rep.Lineage.Model)

	// The engine's ceiling from the same run, for comparison.
	e, err := dialEngine(ctx, o)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.startWorker(); err != nil {
		return err
	}
	r.progress("engine: %d clients running trivial workflows for %s", o.Concurrency, o.Duration)
	eng := r.add(runClients(ctx, fmt.Sprintf("engine, %d clients", o.Concurrency), o.Concurrency, o.Duration, 0,
		func(ctx context.Context, _ int) error { return e.execute(ctx, true) }))

	r.progress("%d 3-section reports end to end, %d clients, sandbox 0 ms", reportThroughputJobs, o.Concurrency)
	tput := r.add(runClients(ctx, fmt.Sprintf("report end to end, %d clients, 0 ms", o.Concurrency), o.Concurrency, drainLimit,
		reportThroughputJobs, func(ctx context.Context, _ int) error { return a.reportEndToEnd(ctx, nil) }))

	r.progress("%d reports at once, sandbox %s per call", reportBurst, reportSlowLatency)
	sb.SetLatency(reportSlowLatency)
	var burstMu sync.Mutex
	var burstIDs []string
	burst := r.add(runClients(ctx, fmt.Sprintf("%d at once, %s per call", reportBurst, reportSlowLatency), reportBurst, drainLimit,
		reportBurst, func(ctx context.Context, _ int) error {
			return a.reportEndToEnd(ctx, func(id string) { burstMu.Lock(); burstIDs = append(burstIDs, id); burstMu.Unlock() })
		}))
	sb.SetLatency(0)
	if w, err := countEngineWork(ctx, e.client, burstIDs); err == nil {
		r.fact("engine work", "reports at once: %s", w)
	} else {
		r.fact("engine work", "not counted: %v", err)
	}

	// startReport POSTs a report and keeps its job, for the check that every one completes.
	var mu sync.Mutex
	var started []string
	startReport := func(ctx context.Context, _ int) error {
		j, _, err := a.postReport(ctx, 0)
		if err == nil {
			mu.Lock()
			started = append(started, j.ID)
			mu.Unlock()
		}
		return err
	}
	// The latency target is read open loop (see runPaced), before the closed loop below adds
	// its backlog: 100 clients offering reports as fast as the platform completes them end to
	// end (at least the throughput target).
	offered := max(targetReportsPerSecond, tput.rate())
	r.progress("POST report, %d clients offering %.0f/s for %s, open loop", reportStartClient, offered, o.Duration)
	paced := r.add(runPaced(ctx, fmt.Sprintf("POST report, %d clients, %.0f/s offered", reportStartClient, offered), reportStartClient, offered, o.Duration, startReport))
	r.progress("POST report, %d clients for %s", reportStartClient, o.Duration)
	starts := r.add(runClients(ctx, fmt.Sprintf("POST report, %d clients", reportStartClient), reportStartClient, o.Duration, 0, startReport))
	done := r.add(runClients(ctx, "started reports completed", o.Concurrency, drainLimit, len(started), func(ctx context.Context, t int) error {
		j, err := a.waitJob(ctx, started[t], longPoll, jobWaitLimit, nil)
		if err == nil && j.Status != "completed" {
			err = fmt.Errorf("report %s %s", j.ID, j.Status)
		}
		return err
	}))
	if err := ctx.Err(); err != nil {
		return err
	}

	r.fact("throughput", "%.1f reports/s end to end (3 sections each) beside %.0f trivial workflows/s on the engine", tput.rate(), eng.rate())
	r.check(fmt.Sprintf("≥ %.0f reports/s end to end, sandbox 0 ms", targetReportsPerSecond), tput.rate() >= targetReportsPerSecond && tput.errors == 0,
		"%.1f/s, %d errors", tput.rate(), tput.errors)
	r.check(fmt.Sprintf("%d reports at once, %s per call, all done within %s", reportBurst, reportSlowLatency, targetReportBurst),
		burst.errors == 0 && burst.count() == reportBurst && burst.elapsed <= targetReportBurst, "%d done in %.2f s, %d errors", burst.count(), burst.elapsed.Seconds(), burst.errors)
	r.fact("closed loop", "%d clients each POSTing again as soon as answered: %.0f starts/s, p99 %s ms, which is queueing (%d clients / %.0f/s = %.0f ms mean)",
		reportStartClient, starts.rate(), millis(starts.latency.p99), reportStartClient, starts.rate(), 1000*float64(reportStartClient)/max(starts.rate(), 1))
	r.check(fmt.Sprintf("POST report p99 < %d ms at %d clients offering %.0f/s", targetReportStartP99.Milliseconds(), reportStartClient, offered),
		paced.latency.n > 0 && paced.latency.p99 < targetReportStartP99 && paced.errors == 0, "p99 %s ms, %d errors", millis(paced.latency.p99), paced.errors)
	r.check("every started report completes", done.errors == 0 && done.count() == len(started), "%d of %d", done.count(), len(started))
	return nil
}
