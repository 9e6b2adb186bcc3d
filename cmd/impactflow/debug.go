package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// serveDebug serves pprof on DEBUG_ADDR, on a listener of its own so that profiles are
// never reachable through the API's address.
func serveDebug(addr string, log *slog.Logger) {
	if addr == "" {
		return
	}
	// Contention profiles (/debug/pprof/mutex and /debug/pprof/block) sample only while a
	// debug listener is asked for: one mutex contention event in 100, and blocking events
	// about once per millisecond spent blocked.
	runtime.SetMutexProfileFraction(100)
	runtime.SetBlockProfileRate(int(time.Millisecond))
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("debug server stopped", "addr", addr, "err", err)
		}
	}()
	log.Info("pprof served", "addr", addr)
}

// tuneGC trades memory for CPU in the all-in-one dev process, where the Temporal server,
// the worker and the API share two cores and the collector was a fifth of the CPU: collect
// less often, but never let the heap pass a soft limit. GOGC and GOMEMLIMIT still win.
//
// The limit is what bounds the heap under load: a million-row import keeps 100-150 MB
// live, and at 400% the heap ran up to the limit. 640 MiB was most of the process's
// anonymous memory next to chDB's; 320 MiB made the collector run so often that imports
// slowed down. `impactflow bench import-1m`, one run each on a quiet machine, in a fresh
// dev after `bench job-start`: 320 MiB 31,665 events/s at 844 MiB peak RSS, 640 MiB
// 49,657 events/s at 1.1 GiB; in a fresh dev alone, 480 MiB 68,377 events/s at 990 MiB.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(480 << 20)
	}
}
