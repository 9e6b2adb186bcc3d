package temporal

import (
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// ClientOptions says how to reach Temporal.
type ClientOptions struct {
	Address   string
	Namespace string
	Logger    *slog.Logger
	Metrics   client.MetricsHandler
}

// NewClient returns a client that connects on first use, so the API starts (and answers
// 503) while Temporal is still down instead of refusing to start.
func NewClient(o ClientOptions) (client.Client, error) {
	opts := client.Options{
		HostPort:  o.Address,
		Namespace: o.Namespace,
		Identity:  "impactflow",
	}
	if o.Logger != nil {
		opts.Logger = sdklog.NewStructuredLogger(o.Logger.With("component", "temporal-sdk"))
	}
	if o.Metrics != nil {
		opts.MetricsHandler = o.Metrics
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", o.Address, err)
	}
	return c, nil
}
