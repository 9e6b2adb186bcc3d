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

	"github.com/impactflow/impactflow/activities/deliveries"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/metrics"
	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/internal/store"
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

	// SecretBox seals partner credentials (nil: PUT /v1/impact-in/partners answers 503).
	SecretBox *secrets.Box
	// DeliveryAttemptTimeout bounds one send attempt of a delivery.
	DeliveryAttemptTimeout time.Duration
	// DeliveryRetryMaxInterval caps the backoff between send attempts (0: 10 minutes).
	DeliveryRetryMaxInterval time.Duration
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

	secretBox              *secrets.Box
	deliveryAttemptTimeout time.Duration
	deliveryRetryMax       time.Duration
	deliveryStatsCache     statsCache
	replayer               *deliveries.Replayer
}

// New returns the API as an http.Handler.
func New(d Deps) http.Handler {
	s := &Server{
		store: d.Store, jobs: d.Jobs, temporal: d.Temporal, redis: d.Redis, metrics: d.Metrics,
		log: d.Logger, keys: newKeyCache(), maxBodyBytes: d.MaxBodyBytes, maxImportBytes: d.MaxImportBytes,
		version:   d.Version,
		secretBox: d.SecretBox, deliveryAttemptTimeout: d.DeliveryAttemptTimeout, deliveryRetryMax: d.DeliveryRetryMaxInterval,
		replayer: &deliveries.Replayer{Store: d.Store, Jobs: d.Jobs},
	}
	return s.engine()
}

// route is one row of the route table: the handler and what the OpenAPI document says of it.
type route struct {
	method  string
	path    string
	role    store.Role // "" for public routes
	upload  bool       // takes an import upload, capped at MaxImportBytes instead of MaxBodyBytes
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

		{method: "PUT", path: "/v1/impact-in/partners/:partner", role: store.RoleAdmin, handler: s.putPartner, doc: docPutPartner},
		{method: "POST", path: "/v1/impact-in/deliveries", role: store.RoleOperator, handler: s.createDelivery, doc: docCreateDelivery},
		{method: "GET", path: "/v1/impact-in/deliveries", role: store.RoleViewer, handler: s.listDeliveries, doc: docListDeliveries},
		{method: "GET", path: "/v1/impact-in/deliveries/:id", role: store.RoleViewer, handler: s.getDelivery, doc: docGetDelivery},
		{method: "POST", path: "/v1/impact-in/deliveries/:id/replay", role: store.RoleOperator, handler: s.replayDelivery, doc: docReplayDelivery},
		{method: "POST", path: "/v1/impact-in/deliveries/bulk-replay", role: store.RoleOperator, handler: s.bulkReplay, doc: docBulkReplay},
		{method: "POST", path: "/v1/impact-in/deliveries/retry-all-failed", role: store.RoleOperator, handler: s.retryAllFailed, doc: docRetryAllFailed},
		{method: "GET", path: "/v1/impact-in/stats", role: store.RoleViewer, handler: s.deliveryStats, doc: docDeliveryStats},
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
		chain := []gin.HandlerFunc{limitBody(limit)}
		if r.role != "" {
			chain = append(chain, s.authenticate(), s.require(r.role))
		}
		e.Handle(r.method, r.path, append(chain, r.handler)...)
	}
	return e
}

func (s *Server) prometheus(c *gin.Context) { s.metrics.Handler().ServeHTTP(c.Writer, c.Request) }
