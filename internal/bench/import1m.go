package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

const (
	// bigImportRows is the size of import-1m's single upload.
	bigImportRows = 1_000_000
	// bigUploadTimeout bounds the upload, which stages the whole file before the 202.
	bigUploadTimeout = 15 * time.Minute
	// bigImportLimit bounds the wait for the big import to complete.
	bigImportLimit = 30 * time.Minute
	// bigImportPoll is the ?wait= while waiting for the big import: short enough to show progress.
	bigImportPoll = 10 * time.Second
	// rssInterval is how often the dev process's RSS is sampled.
	rssInterval = 100 * time.Millisecond
)

// The targets import-1m checks.
const (
	targetEventsPerSec = 50_000
	targetPeakRSS      = 1 << 30
)

// runImport1M uploads one file of a million events and follows it to completion.
func runImport1M(ctx context.Context, o Options, r *report) error {
	// Event IDs derive from the seed: a fixed seed would make a second run find every row
	// unchanged, so each run takes its own and inserts fresh rows.
	ev, err := newEvents(time.Now().UnixNano())
	if err != nil {
		return err
	}
	a := newAPIClient(o)
	defer a.close()

	f, err := os.CreateTemp("", "impactflow-bench-*.ndjson")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	r.progress("generating %s events (seed %d) into %s, not timed", thousands(bigImportRows), ev.seed, f.Name())
	genStart := time.Now()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := ev.write(bw, bigImportRows); err != nil {
		return fmt.Errorf("generate events: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("generate events: %w", err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	r.fact("seed", "%d, new each run: event IDs derive from it, so every run inserts fresh rows", ev.seed)
	r.fact("file", "%s events, %s, generated in %.1f s (not timed)", thousands(bigImportRows), formatBytes(size), time.Since(genStart).Seconds())

	rss := startRSSSampler(ctx, o.PID)
	r.progress("uploading %s", formatBytes(size))
	t0 := time.Now()
	j, err := a.postImport(ctx, io.NewSectionReader(f, 0, size), size, bigUploadTimeout)
	upload := time.Since(t0)
	if err != nil {
		rss.stop()
		return err
	}
	r.progress("uploaded in %.2f s; job %s, waiting for it to complete", upload.Seconds(), j.ID)
	j, err = a.waitJob(ctx, j.ID, bigImportPoll, bigImportLimit, func(j job) {
		if !j.closed() && j.Progress != nil {
			r.progress("%.0f s: %s, %d of %d rows (%s)", time.Since(t0).Seconds(), j.Status, j.Progress.Done, j.Progress.Total, j.Progress.Step)
		}
	})
	total := time.Since(t0)
	mem := rss.stop()
	if err != nil {
		return err
	}

	r.add(phase{name: "upload and import, 1 client", clients: 1, ops: bigImportRows, elapsed: total})
	r.fact("upload", "%.2f s from the POST to its 202 (%.0f MB/s)", upload.Seconds(), float64(size)/1e6/upload.Seconds())
	r.fact("completed", "%.2f s after the POST began%s", total.Seconds(), serverSpan(j))
	rate := perSecond(bigImportRows, total)
	r.fact("throughput", "%s events/s end to end", thousands(int64(rate)))
	resultErr := j.imported(bigImportRows)
	if j.Result != nil {
		r.fact("result", "%s: %d rows, %d inserted, %d updated, %d unchanged, %d rejected",
			j.Status, j.Result.Rows, j.Result.Inserted, j.Result.Updated, j.Result.Unchanged, j.Result.Rejected)
	} else {
		r.fact("result", "%s, no result", j.Status)
	}
	r.check(fmt.Sprintf("end to end ≥ %s events/s", thousands(targetEventsPerSec)), rate >= targetEventsPerSec, "%s events/s", thousands(int64(rate)))
	r.check(fmt.Sprintf("%s rows inserted or unchanged, 0 rejected", thousands(bigImportRows)),
		resultErr == nil && j.Result.Updated == 0, "%s", resultText(j, resultErr))

	if o.PID == 0 {
		r.fact("dev process RSS", "not sampled (no PID)")
		return nil
	}
	if mem.err != nil {
		r.fact("dev process RSS", "not sampled: %v", mem.err)
		return nil
	}
	r.fact("dev process RSS", "%s peak during the run (%s); sampled VmRSS peak %s in %d samples every %s; VmHWM %s before, %s after",
		formatBytes(mem.peak()), mem.peakSource(), formatBytes(mem.sampledPeak), mem.samples, rssInterval, formatBytes(mem.hwmBefore), formatBytes(mem.hwmAfter))
	r.check(fmt.Sprintf("dev process peak RSS < %s", formatBytes(targetPeakRSS)), mem.peak() < targetPeakRSS, "%s", formatBytes(mem.peak()))
	return nil
}

// serverSpan is how long the server says the job ran, when it says.
func serverSpan(j job) string {
	if j.ClosedAt == nil || j.CreatedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("; the job ran %.2f s (created_at to closed_at)", j.ClosedAt.Sub(j.CreatedAt).Seconds())
}

func resultText(j job, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d inserted, %d updated, %d unchanged, %d rejected", j.Result.Inserted, j.Result.Updated, j.Result.Unchanged, j.Result.Rejected)
}

// memory is what an rssSampler saw of a process, in bytes.
type memory struct {
	sampledPeak int64 // the highest VmRSS sampled
	samples     int
	hwmBefore   int64 // VmHWM, the process's lifetime peak RSS, when sampling began
	hwmAfter    int64 // and when it ended
	err         error
}

// peak is the process's peak RSS during the run. VmHWM is the kernel's record, which no
// sampling misses, but it counts for the run only when it rose during it; and the kernel
// does not update it when memory goes back with madvise, as Go's runtime returns it, so a
// sample may see more.
func (m memory) peak() int64 {
	if m.hwmAfter > m.hwmBefore {
		return max(m.hwmAfter, m.sampledPeak)
	}
	return m.sampledPeak
}

func (m memory) peakSource() string {
	if m.hwmAfter > m.hwmBefore && m.hwmAfter >= m.sampledPeak {
		return "VmHWM, which rose during the run"
	}
	return "sampled VmRSS"
}

// rssSampler reads a process's VmRSS from /proc every rssInterval until stopped.
type rssSampler struct {
	pid    int
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mem    memory
}

func startRSSSampler(ctx context.Context, pid int) *rssSampler {
	s := &rssSampler{pid: pid}
	if pid == 0 {
		s.cancel = func() {}
		return s
	}
	_, s.mem.hwmBefore, s.mem.err = readProcStatus(pid)
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Go(func() {
		tick := time.NewTicker(rssInterval)
		defer tick.Stop()
		for {
			if rss, _, err := readProcStatus(pid); err == nil {
				s.mem.sampledPeak = max(s.mem.sampledPeak, rss)
				s.mem.samples++
			} else if s.mem.err == nil {
				s.mem.err = err
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return s
}

// stop ends the sampling and reads the process's VmHWM one last time.
func (s *rssSampler) stop() memory {
	s.cancel()
	s.wg.Wait()
	if s.pid != 0 {
		if _, hwm, err := readProcStatus(s.pid); err == nil {
			s.mem.hwmAfter = hwm
		} else if s.mem.err == nil {
			s.mem.err = err
		}
	}
	return s.mem
}

func readProcStatus(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("read the dev process's memory: %w", err)
	}
	return parseProcStatus(data)
}

// parseProcStatus reads VmRSS and VmHWM, in bytes, from the text of /proc/<pid>/status.
func parseProcStatus(data []byte) (rss, hwm int64, err error) {
	var haveRSS, haveHWM bool
	for line := range bytes.Lines(data) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(name) {
		case "VmRSS":
			dst, haveRSS = &rss, true
		case "VmHWM":
			dst, haveHWM = &hwm, true
		default:
			continue
		}
		fields := bytes.Fields(value)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, 0, fmt.Errorf("/proc status: unexpected %s line %q", name, bytes.TrimSpace(line))
		}
		kb, perr := strconv.ParseInt(string(fields[0]), 10, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("/proc status: %s: %w", name, perr)
		}
		*dst = kb << 10
	}
	if !haveRSS || !haveHWM {
		return 0, 0, fmt.Errorf("/proc status: no VmRSS or VmHWM line (a kernel thread or a zombie?)")
	}
	return rss, hwm, nil
}

// formatBytes renders n in the largest binary unit that keeps it at least 1.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	value, exp := float64(n)/unit, 0
	for value >= unit && exp < 3 {
		value /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", value, "KMGT"[exp])
}

// thousands renders n with commas between groups of three digits: 1,000,000.
func thousands(n int64) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
