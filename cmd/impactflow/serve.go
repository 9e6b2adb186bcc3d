package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/config"
	"github.com/impactflow/impactflow/migrations"
	"github.com/impactflow/impactflow/temporal/devserver"
)

// runAPI serves the HTTP API against an external Temporal.
func runAPI(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	serveDebug(cfg.DebugAddr, log)
	p, err := openPlatform(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.openAnalytics(ctx, false); err != nil {
		return err
	}
	stop, err := p.serveAPI()
	if err != nil {
		return err
	}
	log.Info("api listening", "addr", cfg.HTTPAddr, "temporal", cfg.TemporalAddress)
	<-ctx.Done()
	return stop()
}

// runWorker runs the workers against an external Temporal until interrupted.
func runWorker(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	serveDebug(cfg.DebugAddr, log)
	p, err := openPlatform(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.openAnalytics(ctx, false); err != nil {
		return err
	}
	w, err := p.startWorkers()
	if err != nil {
		return err
	}
	log.Info("workers running", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace)
	<-ctx.Done()
	w.Stop()
	return nil
}

// runMigrate applies the Postgres migrations and the ClickHouse DDL (on the server at
// CLICKHOUSE_URL, else on chDB under DATA_DIR).
func runMigrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if err := migrations.Postgres(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	db, err := analytics.Open(ctx, analytics.Options{URL: cfg.ClickHouseURL, LibPath: cfg.CHDBLibPath, DataDir: cfg.DataDir})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	log.Info("migrations applied")
	return nil
}

// runTemporal runs the embedded Temporal server and UI alone.
func runTemporal(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("DATA_DIR %s: %w", cfg.DataDir, err)
	}
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir: cfg.DataDir, FrontendAddr: cfg.TemporalAddress, UIAddr: cfg.TemporalUIAddr,
		Namespace: cfg.TemporalNamespace, Retention: cfg.TemporalRetention, Logger: log,
		CodecEndpoint: codecEndpoint(cfg),
	})
	if err != nil {
		return fmt.Errorf("embedded temporal: %w", err)
	}
	fmt.Printf("Temporal frontend %s, UI %s, namespace %s, data in %s\n", srv.FrontendAddr(), srv.UIURL(), cfg.TemporalNamespace, cfg.DataDir)
	<-ctx.Done()
	return srv.Stop()
}

// codecEndpoint is the API's remote codec, which the embedded UI decodes payloads with: a
// URL for the browser, so an API listening on every interface is reached on loopback.
func codecEndpoint(cfg config.Config) string {
	return "http://" + config.BrowserAddr(cfg.HTTPAddr) + "/codec"
}
