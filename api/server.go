// Package api is impactflow's HTTP API: the route table, middleware, and one file of
// handlers per area. Handlers bind, validate, call one service and respond; errors go
// through one helper that writes the envelope and logs.
package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/impactflow/impactflow/activities/deliveries"
	"github.com/impactflow/impactflow/internal/analytics"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/metrics"
	"github.com/impactflow/impactflow/internal/privacy"
	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal/codec"
)

// Deps is what the API needs; main builds it.
type Deps struct {
	Store          *store.Store
	Jobs           *jobs.Service
	Temporal       client.Client
	Redis          *redis.Client
	Metrics        *metrics.Registry
	Logger         *slog.Logger
	MaxBodyBytes   int64
	MaxImportBytes int64
	Version        string
	Reports        ReportsConfig

	// SecretBox seals partner credentials (nil: PUT /v1/impact-in/partners answers 503).
	SecretBox *secrets.Box
	// DeliveryAttemptTimeout bounds one send attempt of a delivery.
	DeliveryAttemptTimeout time.Duration
	// DeliveryRetryMaxInterval caps the backoff between send attempts (0: 10 minutes).
	DeliveryRetryMaxInterval time.Duration
	Notifications            Notifications

	// Analytics is the ClickHouse store (nil: the analytics routes answer 503); the cache
	// and the budget are optional.
	Analytics       *analytics.DB
	AnalyticsCache  *analytics.Cache
	AnalyticsBudget *analytics.Budget

	// Codec is the remote codec endpoint's configuration.
	Codec CodecConfig
}

// Server holds the API's dependencies; its methods are the handlers.
type Server struct {
	store          *store.Store
	jobs           *jobs.Service
	temporal       client.Client
	redis          *redis.Client
	metrics        *metrics.Registry
	log            *slog.Logger
	keys           *keyCache
	maxBodyBytes   int64
	maxImportBytes int64
	version        string
	reports        ReportsConfig
	budgetChecks   budgetCache

	secretBox              *secrets.Box
	deliveryAttemptTimeout time.Duration
	deliveryRetryMax       time.Duration
	deliveryStatsCache     statsCache
	replayer               *deliveries.Replayer
	notify                 Notifications

	analytics       *analytics.DB
	analyticsCache  *analytics.Cache
	analyticsBudget *analytics.Budget

	codecKeys      codec.Keys
	payloads       converter.DataConverter // decodes the payloads handlers read from histories
	codecNamespace string
	codecOrigins   map[string]bool

	privacy privacy.Service
}

// New returns the API as an http.Handler.
func New(d Deps) http.Handler {
	s := &Server{
		store: d.Store, jobs: d.Jobs, temporal: d.Temporal, redis: d.Redis, metrics: d.Metrics,
		log: d.Logger, keys: newKeyCache(), maxBodyBytes: d.MaxBodyBytes, maxImportBytes: d.MaxImportBytes,
		version: d.Version, reports: d.Reports,
		secretBox: d.SecretBox, deliveryAttemptTimeout: d.DeliveryAttemptTimeout, deliveryRetryMax: d.DeliveryRetryMaxInterval,
		replayer:  &deliveries.Replayer{Store: d.Store, Jobs: d.Jobs},
		notify:    d.Notifications,
		analytics: d.Analytics, analyticsCache: d.AnalyticsCache, analyticsBudget: d.AnalyticsBudget,
		codecKeys: d.Codec.Keys, codecNamespace: d.Codec.Namespace, codecOrigins: map[string]bool{},
	}
	for _, o := range d.Codec.AllowedOrigins {
		s.codecOrigins[o] = true
	}
	s.payloads = converter.GetDefaultDataConverter()
	if d.Codec.Keys != nil {
		s.payloads = codec.NewDataConverter(d.Codec.Keys)
	}
	if d.Store != nil {
		s.privacy = privacy.Service{Postgres: privacy.Postgres{Pool: d.Store.Pool()}, Jobs: d.Jobs}
	}
	return s.engine()
}

// codecMaxBodyBytes caps a remote codec request: the payloads of one history event, base64
// in JSON, where Temporal admits payloads of up to 2 MB (limit.blobSize.error) and the UI
// sends an event's payloads together.
const codecMaxBodyBytes = 8 << 20

// route is one row of the route table: the handler and what the OpenAPI document says of it.
type route struct {
	method  string
	path    string
	role    store.Role // "" for public routes
	upload  bool       // takes an import upload, capped at MaxImportBytes instead of MaxBodyBytes
	codec   bool       // the remote codec's: CORS for the Temporal UI, its session cookie accepted for a Bearer key
	handler gin.HandlerFunc
	doc     operation
}

// routes is the whole route table.
func (s *Server) routes() []route {
	return []route{
		{method: "GET", path: "/health", handler: s.health, doc: docHealth},
		{method: "GET", path: "/health/live", handler: s.live, doc: docLive},
		{method: "GET", path: "/health/ready", handler: s.ready, doc: docReady},
		{method: "GET", path: "/health/dependencies", handler: s.dependencies, doc: docDependencies},
		{method: "GET", path: "/health/cache", handler: s.cache, doc: docCache},
		{method: "GET", path: "/metrics", handler: s.prometheus, doc: docMetrics},
		{method: "GET", path: "/openapi.json", handler: s.openAPI, doc: docOpenAPI},

		{method: "GET", path: "/v1/me", role: store.RoleViewer, handler: s.me, doc: docMe},
		{method: "GET", path: "/v1/api-keys", role: store.RoleAdmin, handler: s.listKeys, doc: docListKeys},
		{method: "POST", path: "/v1/api-keys", role: store.RoleAdmin, handler: s.createKey, doc: docCreateKey},
		{method: "DELETE", path: "/v1/api-keys/:id", role: store.RoleAdmin, handler: s.revokeKey, doc: docRevokeKey},

		{method: "GET", path: "/v1/jobs", role: store.RoleViewer, handler: s.listJobs, doc: docListJobs},
		{method: "GET", path: "/v1/jobs/:id", role: store.RoleViewer, handler: s.getJob, doc: docGetJob},
		{method: "POST", path: "/v1/jobs/:id/cancel", role: store.RoleOperator, handler: s.cancelJob, doc: docCancelJob},
		{method: "GET", path: "/v1/jobs/:id/history", role: store.RoleViewer, handler: s.jobHistory, doc: docJobHistory},
		{method: "POST", path: "/v1/jobs/:id/reset", role: store.RoleOperator, handler: s.resetJob, doc: docResetJob},

		{method: "POST", path: "/v1/impact-events", role: store.RoleOperator, upload: true, handler: s.importEvents, doc: docImportEvents},
		{method: "POST", path: "/v1/evidence", role: store.RoleOperator, upload: true, handler: s.importEvidence, doc: docImportEvidence},

		{method: "POST", path: "/v1/gen-reports/generate", role: store.RoleOperator, handler: s.generateReport, doc: docGenerateReport},
		{method: "GET", path: "/v1/gen-reports/cost-summary", role: store.RoleViewer, handler: s.costSummary, doc: docCostSummary},
		{method: "GET", path: "/v1/gen-reports/:id", role: store.RoleViewer, handler: s.getReport, doc: docGetReport},
		{method: "PUT", path: "/v1/impact-in/partners/:partner", role: store.RoleAdmin, handler: s.putPartner, doc: docPutPartner},
		{method: "POST", path: "/v1/impact-in/deliveries", role: store.RoleOperator, handler: s.createDelivery, doc: docCreateDelivery},
		{method: "GET", path: "/v1/impact-in/deliveries", role: store.RoleViewer, handler: s.listDeliveries, doc: docListDeliveries},
		{method: "GET", path: "/v1/impact-in/deliveries/:id", role: store.RoleViewer, handler: s.getDelivery, doc: docGetDelivery},
		{method: "POST", path: "/v1/impact-in/deliveries/:id/replay", role: store.RoleOperator, handler: s.replayDelivery, doc: docReplayDelivery},
		{method: "POST", path: "/v1/impact-in/deliveries/bulk-replay", role: store.RoleOperator, handler: s.bulkReplay, doc: docBulkReplay},
		{method: "POST", path: "/v1/impact-in/deliveries/retry-all-failed", role: store.RoleOperator, handler: s.retryAllFailed, doc: docRetryAllFailed},
		{method: "GET", path: "/v1/impact-in/stats", role: store.RoleViewer, handler: s.deliveryStats, doc: docDeliveryStats},
		{method: "POST", path: "/v1/notifications/send", role: store.RoleOperator, handler: s.notifySend, doc: docNotifySend},
		{method: "POST", path: "/v1/notifications/schedule", role: store.RoleOperator, handler: s.notifySchedule, doc: docNotifySchedule},
		{method: "DELETE", path: "/v1/notifications/:id/cancel", role: store.RoleOperator, handler: s.notifyCancel, doc: docNotifyCancel},
		{method: "GET", path: "/v1/notifications/history", role: store.RoleViewer, handler: s.notifyHistory, doc: docNotifyHistory},
		{method: "GET", path: "/v1/notifications/quota", role: store.RoleViewer, handler: s.notifyQuota, doc: docNotifyQuota},
		{method: "PUT", path: "/v1/notifications/quota/:channel", role: store.RoleAdmin, handler: s.notifySetQuota, doc: docNotifySetQuota},
		{method: "GET", path: "/v1/notifications/templates/:name/preview", role: store.RoleViewer, handler: s.notifyPreview, doc: docNotifyPreview},
		{method: "GET", path: "/v1/notifications/schedules", role: store.RoleViewer, handler: s.listSchedules, doc: docListSchedules},
		{method: "GET", path: "/v1/notifications/schedules/:id", role: store.RoleViewer, handler: s.getSchedule, doc: docGetSchedule},
		{method: "POST", path: "/v1/notifications/schedules/:id/pause", role: store.RoleOperator, handler: s.pauseSchedule, doc: docPauseSchedule},
		{method: "POST", path: "/v1/notifications/schedules/:id/resume", role: store.RoleOperator, handler: s.resumeSchedule, doc: docResumeSchedule},
		{method: "POST", path: "/v1/notifications/schedules/:id/trigger", role: store.RoleOperator, handler: s.triggerSchedule, doc: docTriggerSchedule},
		{method: "GET", path: "/v1/notifications/rules", role: store.RoleViewer, handler: s.listRules, doc: docListRules},
		{method: "POST", path: "/v1/notifications/rules", role: store.RoleAdmin, handler: s.createRule, doc: docCreateRule},
		{method: "DELETE", path: "/v1/notifications/rules/:id", role: store.RoleAdmin, handler: s.deleteRule, doc: docDeleteRule},
		{method: "GET", path: "/v1/notifications/:id", role: store.RoleViewer, handler: s.notifyGet, doc: docNotifyGet},
		{method: "POST", path: "/v1/notifications/webhooks/sendgrid", handler: s.sendgridWebhook, doc: docSendGridWebhook},
		{method: "POST", path: "/v1/notifications/webhooks/twilio", handler: s.twilioWebhook, doc: docTwilioWebhook},
		{method: "POST", path: "/v1/events", role: store.RoleOperator, handler: s.postEvent, doc: docPostEvent},
		{method: "POST", path: "/v1/analytics/sync", role: store.RoleOperator, handler: s.startSync, doc: docStartSync},
		{method: "GET", path: "/v1/analytics/sync", role: store.RoleViewer, handler: s.syncStatus, doc: docSyncStatus},
		{method: "GET", path: "/v1/analytics/trends", role: store.RoleViewer, handler: s.analyticsTrends, doc: docTrends},
		{method: "GET", path: "/v1/analytics/cohorts", role: store.RoleViewer, handler: s.analyticsCohorts, doc: docCohorts},
		{method: "GET", path: "/v1/analytics/funnels", role: store.RoleViewer, handler: s.analyticsFunnels, doc: docFunnels},
		{method: "GET", path: "/v1/analytics/benchmarks", role: store.RoleViewer, handler: s.analyticsBenchmarks, doc: docBenchmarks},
		// Evidence classification (issue 3).
		{method: "POST", path: "/v1/evidence/classify", role: store.RoleOperator, handler: s.classifyEvidence, doc: docClassifyEvidence},
		{method: "GET", path: "/v1/evidence/:id", role: store.RoleViewer, handler: s.getEvidence, doc: docGetEvidence},

		// Temporal's remote codec protocol, for the Temporal UI and CLI.
		{method: "POST", path: "/codec/decode", role: store.RoleOperator, codec: true, handler: s.codecDecode, doc: docCodecDecode},
		{method: "POST", path: "/codec/encode", role: store.RoleOperator, codec: true, handler: s.codecEncode, doc: docCodecEncode},
		{method: "OPTIONS", path: "/codec/decode", codec: true, handler: s.codecPreflight, doc: docCodecPreflight},
		{method: "OPTIONS", path: "/codec/encode", codec: true, handler: s.codecPreflight, doc: docCodecPreflight},
		{method: "GET", path: "/codec/signin", handler: s.codecSignInPage, doc: docCodecSignInPage},
		{method: "POST", path: "/codec/signin", handler: s.codecSignIn, doc: docCodecSignIn},
		// Participant records and the names list are personal data: operators read and
		// write records (as imports do), erasing one and the names list are admin's.
		{method: "POST", path: "/v1/participants", role: store.RoleOperator, handler: s.upsertParticipants, doc: docUpsertParticipants},
		{method: "GET", path: "/v1/participants", role: store.RoleOperator, handler: s.listParticipants, doc: docListParticipants},
		{method: "GET", path: "/v1/participants/:id", role: store.RoleOperator, handler: s.getParticipant, doc: docGetParticipant},
		{method: "GET", path: "/v1/privacy/names", role: store.RoleAdmin, handler: s.getRedactionNames, doc: docGetRedactionNames},
		{method: "PUT", path: "/v1/privacy/names", role: store.RoleAdmin, handler: s.putRedactionNames, doc: docPutRedactionNames},
		{method: "GET", path: "/v1/privacy/retention", role: store.RoleAdmin, handler: s.getRetention, doc: docGetRetention},
		{method: "PUT", path: "/v1/privacy/retention", role: store.RoleAdmin, handler: s.putRetention, doc: docPutRetention},
		{method: "POST", path: "/v1/privacy/participants/:id/export", role: store.RoleAdmin, handler: s.exportParticipant, doc: docExportParticipant},
		{method: "POST", path: "/v1/privacy/participants/:id/erase", role: store.RoleAdmin, handler: s.eraseParticipant, doc: docEraseParticipant},
		{method: "DELETE", path: "/v1/participants/:id", role: store.RoleAdmin, handler: s.eraseParticipant, doc: docDeleteParticipant},
		{method: "GET", path: "/v1/privacy/exports/:id", role: store.RoleAdmin, handler: s.getExport, doc: docGetExport},
	}
}

func (s *Server) engine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(withRequestID(), s.accessLog(), s.recoverPanics(), s.metrics.GinMiddleware())
	e.NoRoute(func(c *gin.Context) {
		s.fail(c, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no such route"})
	})
	e.NoMethod(func(c *gin.Context) {
		s.fail(c, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "this route does not take " + c.Request.Method})
	})
	for _, r := range s.routes() {
		limit := s.maxBodyBytes
		if r.upload {
			limit = s.maxImportBytes
		}
		if r.codec {
			limit = max(limit, codecMaxBodyBytes)
		}
		chain := []gin.HandlerFunc{limitBody(limit)}
		if r.codec {
			chain = append(chain, s.codecCORS())
		}
		switch {
		case r.role != "" && r.codec:
			chain = append(chain, s.authenticateCodec(), s.require(r.role))
		case r.role != "":
			chain = append(chain, s.authenticate(), s.require(r.role))
		}
		e.Handle(r.method, r.path, append(chain, r.handler)...)
	}
	return e
}

func (s *Server) prometheus(c *gin.Context) { s.metrics.Handler().ServeHTTP(c.Writer, c.Request) }
