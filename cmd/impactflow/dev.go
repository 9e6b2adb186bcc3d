package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/impactflow/impactflow/internal/config"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/migrations"
	"github.com/impactflow/impactflow/temporal/devserver"
	"github.com/impactflow/impactflow/workers"
)

// shutdownBudget is how long the API gets to finish its requests; with the worker's drain
// (workers.stopTimeout) and the server's stop it stays within the 10 s an operator waits
// after Ctrl-C.
const shutdownBudget = 3 * time.Second

// runDev runs the whole platform in this process on embedded defaults.
func runDev(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	tuneGC()
	serveDebug(cfg.DebugAddr, log)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("DATA_DIR %s: %w", cfg.DataDir, err)
	}
	if err := migrations.Postgres(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir: cfg.DataDir, FrontendAddr: cfg.TemporalAddress, UIAddr: cfg.TemporalUIAddr,
		Namespace: cfg.TemporalNamespace, Retention: cfg.TemporalRetention, Logger: log,
		CodecEndpoint: codecEndpoint(cfg),
	})
	if err != nil {
		return fmt.Errorf("embedded temporal: %w", err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			log.Warn("stop embedded temporal", "err", err)
		}
	}()

	var newKeyRing bool
	if cfg.SecretKey, newKeyRing, err = devSecretKey(cfg); err != nil {
		return err
	}
	p, err := openPlatform(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.close()
	if newKeyRing {
		// A new DATA_DIR is a new Temporal store and a new key ring: payload data keys in
		// Postgres that an earlier ring wrapped encrypted payloads that went with the old
		// store, and this ring cannot open them. Each tenant gets a fresh key on first use.
		n, err := p.store.RetireForeignDataKeys(ctx, p.box.KeyIDs())
		if err != nil {
			return fmt.Errorf("retire the data keys of an earlier DATA_DIR: %w", err)
		}
		if n > 0 {
			log.Warn("new DATA_DIR: retired the payload data keys of the earlier key ring", "keys", n)
		}
	}
	// This process owns the chDB engine: the worker and the API share it.
	if err := p.openAnalytics(ctx, true); err != nil {
		return err
	}
	// The key exists before the API answers, so a client that sees /health/ready can use it.
	key, fresh, err := devKey(ctx, cfg, p.store)
	if err != nil {
		return err
	}
	stopSandboxes, err := startDevSandboxes(ctx, p)
	if err != nil {
		return err
	}
	defer stopSandboxes()
	if err := p.useNotificationSandboxes(); err != nil {
		return err
	}
	// The privacy jobs scrub the embedded server's files after they delete runs.
	p.scrubDeleted = srv.Scrub
	w, err := p.startWorkers()
	if err != nil {
		return err
	}
	defer w.Stop()
	stopAPI, err := p.serveAPI()
	if err != nil {
		return err
	}
	defer stopAPI()

	pidFile := filepath.Join(cfg.DataDir, "impactflow.pid")
	_ = os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	defer os.Remove(pidFile)

	printBanner(cfg, srv.UIURL(), key, fresh)
	if cfg.DemoData {
		go func() {
			if err := loadDemo(ctx, p, "http://"+cfg.HTTPAddr); err != nil && ctx.Err() == nil {
				log.Error("load demo data", "err", err)
			}
			// Sync at once rather than at the schedule's next tick, so analytics answer; the
			// benchmark peers give the demo tenant peer groups to compare with.
			if p.analytics != nil && ctx.Err() == nil {
				if err := loadBenchmarkPeers(ctx, p, "http://"+cfg.HTTPAddr); err != nil && ctx.Err() == nil {
					log.Warn("load benchmark peers", "err", err)
				}
				if err := p.temporal.ScheduleClient().GetHandle(ctx, workers.SyncScheduleID).Trigger(ctx,
					client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP}); err != nil {
					log.Warn("trigger the ClickHouse sync", "err", err)
				}
			}
		}()
	}

	<-ctx.Done()
	log.Info("shutting down: draining the worker, stopping the API and the Temporal server")
	return nil
}

// devKey makes sure the demo tenant has the dev admin key: IMPACTFLOW_DEV_API_KEY, else the
// one kept in DATA_DIR, else a new random one written there. fresh says it was just made.
func devKey(ctx context.Context, cfg config.Config, st *store.Store) (key string, fresh bool, err error) {
	if err := ensureDemoTenant(ctx, st); err != nil {
		return "", false, err
	}
	path := filepath.Join(cfg.DataDir, "dev-api-key")
	key = cfg.DevAPIKey.Reveal()
	if key == "" {
		if b, rerr := os.ReadFile(path); rerr == nil {
			key = strings.TrimSpace(string(b))
		}
	}
	if key == "" {
		key, fresh = store.NewKeySecret(), true
	}
	if err := st.EnsureAPIKey(ctx, demoTenantID, "dev admin", store.RoleAdmin, key); err != nil {
		return "", false, fmt.Errorf("seed dev API key: %w", err)
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	return key, fresh, nil
}

func printBanner(cfg config.Config, uiURL, key string, fresh bool) {
	shown := key
	if !fresh {
		shown = key[:min(12, len(key))] + "… (full key in " + filepath.Join(cfg.DataDir, "dev-api-key") + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nimpactflow %s is running (Ctrl-C to stop)\n\n", version)
	fmt.Fprintf(&b, "  API                http://%s   (OpenAPI: /openapi.json)\n", cfg.HTTPAddr)
	fmt.Fprintf(&b, "  Temporal UI        %s   (payloads are encrypted: sign in at %s/signin to read them)\n", uiURL, codecEndpoint(cfg))
	fmt.Fprintf(&b, "  Temporal frontend  %s   (namespace %s)\n", cfg.TemporalAddress, cfg.TemporalNamespace)
	fmt.Fprintf(&b, "  Data directory     %s\n", cfg.DataDir)
	fmt.Fprintf(&b, "  Dev API key        %s   (tenant %q, role admin)\n\n", shown, demoTenantID)
	for _, pr := range providers(cfg) {
		fmt.Fprintf(&b, "  %-18s %s\n", pr[0], pr[1])
	}
	fmt.Fprintln(&b)
	fmt.Fprint(os.Stdout, b.String())
}
