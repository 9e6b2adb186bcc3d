// Command impactflow is the whole platform in one binary: `dev` runs everything in one
// process on embedded defaults; `api`, `worker`, `migrate` and `temporal` run the parts.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/impactflow/impactflow/internal/config"
	"github.com/impactflow/impactflow/internal/logging"
)

// version is reported by /health and the OpenAPI document.
const version = "0.1.0"

const usage = `usage: impactflow <command>

commands:
  dev        everything in one process: embedded Temporal server and UI, migrations,
             worker, API and the demo tenant
  api        the HTTP API, against TEMPORAL_ADDRESS
  worker     the Temporal workers, against TEMPORAL_ADDRESS
  migrate    apply Postgres migrations and ClickHouse DDL (idempotent)
  temporal   the embedded Temporal server and UI alone
  tenant     operate on tenants without HTTP: tenant delete <id>
  bench      drive a running 'impactflow dev': bench <scenario> [-c clients] [-d duration]

Configuration is environment variables; see the README.`

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "impactflow:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logs := logging.NewWriter(os.Stderr)
	log := cfg.Logger(logs)
	var run func(context.Context, config.Config, *slog.Logger) error
	switch cmd := os.Args[1]; cmd {
	case "dev":
		run = runDev
	case "api":
		run = runAPI
	case "worker":
		run = runWorker
	case "migrate":
		run = runMigrate
	case "temporal":
		run = runTemporal
	case "tenant":
		run = func(ctx context.Context, cfg config.Config, log *slog.Logger) error {
			return runTenant(ctx, cfg, log, os.Args[2:])
		}
	case "bench":
		run = func(ctx context.Context, cfg config.Config, _ *slog.Logger) error {
			return runBench(ctx, cfg, os.Args[2:])
		}
	default:
		fmt.Fprintf(os.Stderr, "impactflow: unknown command %q\n\n%s\n", cmd, usage)
		os.Exit(2)
	}
	err = run(ctx, cfg, log)
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("impactflow "+os.Args[1]+" failed", "err", err)
	}
	_ = logs.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		os.Exit(1)
	}
}
