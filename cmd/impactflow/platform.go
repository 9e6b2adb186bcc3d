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
	"github.com/impactflow/impactflow/internal/connectors"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/llm"
	"github.com/impactflow/impactflow/internal/metrics"
	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/temporal/codec"
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

	box         *secrets.Box                  // seals partner credentials and wraps payload data keys
	payloads    *codec.DataConverter          // encrypts every Temporal payload
	dataKeys    *codec.Keyring                // the tenants' data keys payloads uses
	partnerURLs map[connectors.Partner]string // dev fills in sandboxes for the missing ones
	// Notifications: providers and quotas, the API's webhook keys, in-process sandboxes
	// (dev), and what to close at the end.
	notify          *workers.NotificationDeps
	notifyAPI       api.Notifications
	notifySandboxes []string
	closers         []func()
	// analytics is set by openAnalytics; nil when this process has no analytics store.
	analytics       *analytics.DB
	analyticsCache  *analytics.Cache
	analyticsBudget *analytics.Budget
	syncMetrics     *analyticsact.Metrics
	// scrubDeleted is the embedded server's Scrub (dev); nil against a cluster.
	scrubDeleted func(ctx context.Context) error
}

func openPlatform(ctx context.Context, cfg config.Config, log *slog.Logger) (*platform, error) {
	p := &platform{cfg: cfg, log: log, metrics: metrics.New(), partnerURLs: partnerURLs(cfg)}
	var err error
	if p.box, err = openSecretBox(cfg); err != nil {
		return nil, err
	}
	// Every Temporal payload is encrypted with a data key wrapped by this key ring: without
	// it the platform would have to write personal data into histories in plaintext.
	if p.box == nil {
		return nil, errors.New("config: IMPACTFLOW_SECRET_KEY is required: Temporal payloads are encrypted with data keys it wraps (generate one with `openssl rand -base64 32`)")
	}
	if p.store, err = store.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	p.dataKeys = codec.NewKeyring(p.store, p.box)
	p.payloads = codec.NewDataConverter(p.dataKeys)
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	p.redis = redis.NewClient(ropts)
	if p.temporal, err = temporal.NewClient(temporal.ClientOptions{
		Address: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace, Logger: log, Metrics: p.metrics.TemporalHandler(),
		DataConverter: p.payloads,
	}); err != nil {
		p.close()
		return nil, err
	}
	p.jobs = jobs.NewService(p.temporal, cfg.TemporalNamespace, p.payloads)
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
	d := workers.Deps{Client: p.temporal, Store: p.store, Namespace: p.cfg.TemporalNamespace, DataConverter: p.payloads,
		DataKeys: p.dataKeys, ScrubDeleted: p.scrubDeleted}
	// Reports: the live LLM when a key is set, else the offline extractive writer.
	d.Writer, d.Prices, d.Metrics, d.Logger = reportWriter(p.cfg), p.cfg.LLMPrices, p.metrics, p.log
	d.AIBudgetMicros, d.RedactionNames, d.RedactionAggressive = p.cfg.AIBudgetDefaultMicros, p.cfg.RedactionNames, p.cfg.RedactionAggressive
	d.Deliveries = p.deliveryDeps()
	d.Notifications = p.notify
	d.Analytics, d.AnalyticsCache, d.SyncMetrics = p.analytics, p.analyticsCache, p.syncMetrics
	w, err := workers.Start(d)
	if err != nil {
		return nil, err
	}
	if err := p.subscribeEvents(); err != nil {
		w.Stop()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := workers.EnsureRetentionSchedule(ctx, p.temporal, workers.RetentionSchedule{}); err != nil {
		w.Stop()
		return nil, err
	}
	if p.analytics == nil {
		return w, nil
	}
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
			Reports: api.ReportsConfig{Model: p.cfg.LLMModel, Offline: p.cfg.OpenAIAPIKey == "", Prices: p.cfg.LLMPrices,
				DefaultLimitMicros: p.cfg.AIBudgetDefaultMicros},
			SecretBox: p.box, DeliveryAttemptTimeout: p.cfg.DeliveryAttemptTimeout,
			Notifications: p.notifyAPI,
			Analytics:     p.analytics, AnalyticsCache: p.analyticsCache, AnalyticsBudget: p.analyticsBudget,
			Codec: api.CodecConfig{Keys: p.payloads.Keys(), Namespace: p.cfg.TemporalNamespace, AllowedOrigins: p.cfg.CodecAllowedOrigins},
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

// reportWriter is the LLM writer reports use: the configured provider, or the offline
// extractive writer without a key.
func reportWriter(cfg config.Config) llm.Writer {
	if cfg.OpenAIAPIKey == "" {
		return llm.Offline{}
	}
	return llm.NewOpenAI(llm.OpenAIConfig{BaseURL: cfg.LLMBaseURL, APIKey: cfg.OpenAIAPIKey.Reveal(), Model: cfg.LLMModel, Prices: cfg.LLMPrices})
}

// providers says which external providers are live and which run offline, for the banner.
func providers(cfg config.Config) [][2]string {
	writer := "offline (extractive writer and lexicon evidence classifier; set OPENAI_API_KEY for a live model)"
	if cfg.OpenAIAPIKey != "" {
		writer = "live: " + cfg.LLMModel + " at " + cfg.LLMBaseURL
	}
	email := "offline (outbox in Postgres; set SENDGRID_API_KEY to send)"
	if cfg.SendGridAPIKey != "" {
		email = "live: SendGrid"
	}
	ch := "embedded chDB (" + cfg.CHDBLibPath + ")"
	if cfg.ClickHouseURL != "" {
		ch = "server at " + redactURL(cfg.ClickHouseURL)
	}
	partnersLine := "local sandboxes (set BENEVITY_URL, GOODERA_URL, WORKDAY_URL for the real APIs)"
	if len(cfg.PartnerURLs) > 0 {
		partnersLine = fmt.Sprintf("%d live, the rest local sandboxes", len(cfg.PartnerURLs))
	}
	sms := "local sandbox: Twilio API in-process (set TWILIO_ACCOUNT_SID to send)"
	if cfg.TwilioAccountSID != "" {
		sms = "live: Twilio at " + cfg.TwilioBaseURL
	}
	push := "local sandbox: FCM API in-process (set FCM_CREDENTIALS_FILE to send)"
	if cfg.FCMCredentialsFile != "" {
		push = "live: FCM at " + cfg.FCMBaseURL
	}
	return [][2]string{{"LLM", writer}, {"email", email}, {"SMS", sms}, {"push", push}, {"ClickHouse", ch}, {"partners", partnersLine}}
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
