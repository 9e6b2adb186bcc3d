package api_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/impactflow/impactflow/internal/connectors"
	"github.com/impactflow/impactflow/internal/sandbox/partners"
	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/workers"
)

// Goodera's limit in these tests: 40 requests per 10 s window instead of 100 per minute, so
// that the rate-limit test takes seconds; the worker's task-queue rate is derived the same
// way (workers.GooderaRate) from whatever limit and window are configured.
const (
	// testRetryMaxInterval caps the send backoff (10 minutes in production) so that the
	// fault storm's unluckiest delivery, several failures in a row, still ends in seconds.
	testRetryMaxInterval = 2 * time.Second

	testGooderaLimit  = 40
	testGooderaWindow = 10 * time.Second
)

// partnerEnv holds the partner sandboxes every delivery test runs against.
var partnerEnv struct {
	benevity *partners.Benevity
	goodera  *partners.Goodera
	workday  *partners.Workday
	deps     workers.DeliveryDeps
	// retiredKey is the IMPACTFLOW_SECRET_KEY the platform is rotating away from.
	retiredKey string
	// beforeSend, when set, runs before each send of the harness workers.
	beforeSend atomic.Pointer[func(ctx context.Context, deliveryID string)]
}

func startPartners() (func(), error) {
	partnerEnv.benevity = partners.NewBenevity()
	partnerEnv.goodera = partners.NewGoodera(testGooderaLimit, testGooderaWindow)
	partnerEnv.workday = partners.NewWorkday()
	var servers []*partners.Server
	stop := func() {
		for _, s := range servers {
			_ = s.Close()
		}
	}
	urls := map[connectors.Partner]string{}
	for p, h := range map[connectors.Partner]http.Handler{
		connectors.Benevity: partnerEnv.benevity, connectors.Goodera: partnerEnv.goodera, connectors.Workday: partnerEnv.workday,
	} {
		srv, err := partners.Serve("127.0.0.1:0", h)
		if err != nil {
			stop()
			return nil, err
		}
		servers = append(servers, srv)
		urls[p] = srv.URL
	}
	// The platform's key is mid-rotation: "current" seals, "retired" still opens.
	partnerEnv.retiredKey = secrets.NewKey()
	box, err := secrets.Parse("current:" + secrets.NewKey() + ",retired:" + partnerEnv.retiredKey)
	if err != nil {
		stop()
		return nil, err
	}
	partnerEnv.deps = workers.DeliveryDeps{
		Box: box, URLs: urls, Jobs: env.jobs, AttemptTimeout: 2 * time.Second,
		GooderaLimit: testGooderaLimit, GooderaWindow: testGooderaWindow,
		BeforeSend: func(ctx context.Context, id string) {
			if f := partnerEnv.beforeSend.Load(); f != nil {
				(*f)(ctx, id)
			}
		},
	}
	return stop, nil
}
