package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/impactflow/impactflow/internal/bench"
	"github.com/impactflow/impactflow/internal/config"
)

// runBench drives a running `impactflow dev` with one benchmark scenario.
func runBench(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	clients := fs.Int("c", 50, "concurrent clients")
	duration := fs.Duration("d", 10*time.Second, "how long a timed scenario runs")
	apiURL := fs.String("api", "http://"+cfg.HTTPAddr, "API base URL")
	if len(args) == 0 {
		return fmt.Errorf("bench: name a scenario: %s", strings.Join(bench.Scenarios(), ", "))
	}
	scenario := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	key := cfg.DevAPIKey.Reveal()
	if key == "" {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "dev-api-key"))
		if err != nil {
			return fmt.Errorf("bench: no API key: set IMPACTFLOW_DEV_API_KEY or start `impactflow dev` first (%w)", err)
		}
		key = strings.TrimSpace(string(b))
	}
	pid := 0
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "impactflow.pid")); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	var sandboxes map[string]string
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, sandboxURLsFile)); err == nil {
		_ = json.Unmarshal(b, &sandboxes)
	}
	return bench.Run(ctx, scenario, bench.Options{
		APIURL: *apiURL, APIKey: key, TemporalAddress: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace,
		Concurrency: *clients, Duration: *duration, PID: pid, Out: os.Stdout,
		DatabaseURL: cfg.DatabaseURL, SandboxURLs: sandboxes,
	})
}
