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

	"github.com/impactflow/impactflow/api"
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

	// Notifications: providers and quotas, the API's webhook keys, in-process sandboxes
	// (dev), and what to close at the end.
	notify          *workers.NotificationDeps
	notifyAPI       api.Notifications
	notifySandboxes []string
	closers         []func()
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
	if err := p.openNotifications(); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *platform) close() {
	for _, c := range p.closers {
		c()
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
	w, err := workers.Start(workers.Deps{Client: p.temporal, Store: p.store, Notifications: p.notify})
	if err != nil {
		return nil, err
	}
	if err := p.subscribeEvents(); err != nil {
		w.Stop()
		return nil, err
	}
	return w, nil
}

// serveAPI listens on HTTP_ADDR and serves the API until stop is called; stop lets running
// requests finish for shutdownBudget.
func (p *platform) serveAPI() (stop func() error, err error) {
	srv := &http.Server{
		Handler: api.New(api.Deps{
			Store: p.store, Jobs: p.jobs, Temporal: p.temporal, Redis: p.redis, Metrics: p.metrics,
			Logger: p.log, MaxBodyBytes: p.cfg.MaxBodyBytes, MaxImportBytes: p.cfg.MaxImportBytes, Version: version,
			Notifications: p.notifyAPI,
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
