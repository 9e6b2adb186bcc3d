package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"

	analyticsact "github.com/impactflow/impactflow/activities/analytics"
	"github.com/impactflow/impactflow/api"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/config"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/metrics"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workers"
)

// platform is the set of clients every part of the binary shares.
type platform struct {
	cfg      config.Config
	log      *slog.Logger
	metrics  *metrics.Registry
	store    *store.Store
	redis    *redis.Client
	temporal client.Client
	jobs     *jobs.Service

	// analytics is set by openAnalytics; nil when this process has no analytics store.
	analytics       *analytics.DB
	analyticsCache  *analytics.Cache
	analyticsBudget *analytics.Budget
	syncMetrics     *analyticsact.Metrics
}

func openPlatform(ctx context.Context, cfg config.Config, log *slog.Logger) (*platform, error) {
	p := &platform{cfg: cfg, log: log, metrics: metrics.New()}
	var err error
	if p.store, err = store.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	p.redis = redis.NewClient(ropts)
	if p.temporal, err = temporal.NewClient(temporal.ClientOptions{
		Address: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: log, Metrics: p.metrics.TemporalHandler(),
	}); err != nil {
		p.close()
		return nil, err
	}
	p.jobs = jobs.NewService(p.temporal, cfg.TemporalNamespace)
	return p, nil
}

func (p *platform) close() {
	if p.analytics != nil {
		p.analytics.Close()
	}
	if p.temporal != nil {
		p.temporal.Close()
	}
	if p.redis != nil {
		_ = p.redis.Close()
	}
	if p.store != nil {
		p.store.Close()
	}
}

func (p *platform) startWorkers() (*workers.Workers, error) {
	w, err := workers.Start(workers.Deps{Client: p.temporal, Store: p.store,
		Analytics: p.analytics, AnalyticsCache: p.analyticsCache, SyncMetrics: p.syncMetrics})
	if err != nil || p.analytics == nil {
		return w, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := workers.EnsureSyncSchedule(ctx, p.temporal, workers.SyncSchedule{Interval: p.cfg.SyncInterval}); err != nil {
		w.Stop()
		return nil, err
	}
	return w, nil
}

// openAnalytics opens the ClickHouse store and applies its DDL: the server at CLICKHOUSE_URL,
// else, when embedded is true, chDB under DATA_DIR. One process owns a chDB directory, so
// the split api and worker processes need CLICKHOUSE_URL for analytics.
func (p *platform) openAnalytics(ctx context.Context, embedded bool) error {
	if p.cfg.ClickHouseURL == "" && !embedded {
		p.log.Warn("analytics disabled: set CLICKHOUSE_URL (embedded chDB runs only in impactflow dev)")
		return nil
	}
	db, err := analytics.Open(ctx, analytics.Options{URL: p.cfg.ClickHouseURL, LibPath: p.cfg.CHDBLibPath, DataDir: p.cfg.DataDir})
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return err
	}
	p.analytics = db
	p.analyticsCache = &analytics.Cache{Redis: p.redis, Prefix: "impactflow:"}
	p.analyticsBudget = &analytics.Budget{Redis: p.redis, Prefix: "impactflow:", Limit: p.cfg.AnalyticsBudget}
	p.syncMetrics = analyticsact.NewMetrics(p.metrics.Prometheus())
	return nil
}

// serveAPI listens on HTTP_ADDR and serves the API until stop is called; stop lets running
// requests finish for shutdownBudget.
func (p *platform) serveAPI() (stop func() error, err error) {
	srv := &http.Server{
		Handler: api.New(api.Deps{
			Store: p.store, Jobs: p.jobs, Temporal: p.temporal, Redis: p.redis, Metrics: p.metrics,
			Logger: p.log, MaxBodyBytes: p.cfg.MaxBodyBytes, MaxImportBytes: p.cfg.MaxImportBytes, Version: version,
			Analytics: p.analytics, AnalyticsCache: p.analyticsCache, AnalyticsBudget: p.analyticsBudget,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", p.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP_ADDR %s: %w", p.cfg.HTTPAddr, err)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("api server stopped", "err", err)
		}
	}()
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
		defer cancel()
		// Long polls (?wait=) would hold a graceful shutdown for their whole wait: past the
		// budget, close what is left; their clients poll again.
		if err := srv.Shutdown(ctx); err != nil {
			return srv.Close()
		}
		return nil
	}, nil
}

// providers says which external providers are live and which run offline, for the banner.
func providers(cfg config.Config) [][2]string {
	llm := "offline (extractive writer; set OPENAI_API_KEY for a live model)"
	if cfg.OpenAIAPIKey != "" {
		llm = "live: " + cfg.LLMModel + " at " + cfg.LLMBaseURL
	}
	email := "offline (outbox in Postgres; set SENDGRID_API_KEY to send)"
	if cfg.SendGridAPIKey != "" {
		email = "live: SendGrid"
	}
	ch := "embedded chDB (" + cfg.CHDBLibPath + ")"
	if cfg.ClickHouseURL != "" {
		ch = "server at " + redactURL(cfg.ClickHouseURL)
	}
	return [][2]string{{"LLM", llm}, {"email", email}, {"ClickHouse", ch}}
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
