package temporal

import (
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"
)

// ClientOptions says how to reach Temporal.
type ClientOptions struct {
	Address   string
	Namespace string
	Logger    *slog.Logger
	Metrics   client.MetricsHandler
	// DataConverter encrypts payloads (codec.NewDataConverter); the client's workers use it
	// too. Nil leaves payloads in plaintext, which only tests that never store personal
	// data may do.
	DataConverter PayloadConverter
}

// PayloadConverter is a data converter that learns from context propagators whose
// payloads it converts, as temporal/codec's does: the client needs both.
type PayloadConverter interface {
	converter.DataConverter
	ContextPropagators() []workflow.ContextPropagator
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
	if o.DataConverter != nil {
		opts.DataConverter = o.DataConverter
		opts.ContextPropagators = o.DataConverter.ContextPropagators()
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", o.Address, err)
	}
	return c, nil
}
