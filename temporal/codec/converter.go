package codec

import (
	"context"
	"sync"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/temporal"
)

type tenantKey struct{}

// WithTenant returns a context whose Temporal calls encrypt with the tenant's data key.
// Tenant IDs are not personal data: they travel in plaintext headers.
func WithTenant(ctx context.Context, tenantID string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenantID)
}

// TenantFrom returns the tenant set by WithTenant, or carried into an activity by
// Propagator.
func TenantFrom(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(tenantKey{}).(string)
	return t, ok
}

// TenantOfWorkflow is the tenant of the workflow: the one its starter named in the header,
// else its TenantId search attribute (a run started by a schedule has no header; every
// workflow the platform starts sets the attribute).
func TenantOfWorkflow(ctx workflow.Context) (string, bool) {
	if t, ok := ctx.Value(tenantKey{}).(string); ok {
		return t, true
	}
	return searchAttributeTenant(ctx)
}

// searchAttributeTenant reads the TenantId search attribute. The SDK panics when ctx is
// not a workflow's own context, which a converter cannot tell beforehand: then there is
// no tenant to learn.
func searchAttributeTenant(ctx workflow.Context) (tenant string, ok bool) {
	defer func() {
		if recover() != nil {
			tenant, ok = "", false
		}
	}()
	return workflow.GetTypedSearchAttributes(ctx).GetKeyword(temporal.SearchAttrTenantID)
}

// DataConverter is the platform's data converter: the SDK's default conversions, then
// the tenant's encryption. It is context aware: the SDK asks it, for each call, for a
// converter bound to the call's context, and that one encrypts with the context's tenant.
// Without a tenant it encrypts with the platform's key, never in plaintext.
type DataConverter struct {
	keys Keys
	// tenant is nil on the root converter. The SDK derives one converter per workflow
	// execution (WithSerializationContext) and, from that one, one per workflow context
	// (WithWorkflowContext); the per-execution converter learns the tenant from the first
	// workflow context, because some payloads (side effects, memo upserts) are encoded with
	// it directly, outside any context.
	tenant *tenantCell
}

type tenantCell struct {
	mu    sync.Mutex
	id    string
	known bool
}

func (c *tenantCell) get() (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id, c.known
}

func (c *tenantCell) learn(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.known {
		c.id, c.known = id, true
	}
}

func knownTenant(id string) *tenantCell { return &tenantCell{id: id, known: true} }

// NewDataConverter returns the converter that encrypts with the keys.
func NewDataConverter(keys Keys) *DataConverter { return &DataConverter{keys: keys} }

// Keys returns the data keys the converter uses.
func (d *DataConverter) Keys() Keys { return d.keys }

// ContextPropagators carry the tenant from a client call to the workflow, its activities
// and its children; every client and worker using the converter needs them.
func (d *DataConverter) ContextPropagators() []workflow.ContextPropagator {
	return []workflow.ContextPropagator{Propagator{}}
}

// WithContext returns the converter for a call made with ctx.
func (d *DataConverter) WithContext(ctx context.Context) converter.DataConverter {
	if t, ok := TenantFrom(ctx); ok {
		return &DataConverter{keys: d.keys, tenant: knownTenant(t)}
	}
	return d
}

// WithWorkflowContext returns the converter for a call made in a workflow with ctx.
func (d *DataConverter) WithWorkflowContext(ctx workflow.Context) converter.DataConverter {
	t, ok := TenantOfWorkflow(ctx)
	if !ok {
		return d
	}
	if d.tenant != nil {
		d.tenant.learn(t)
	}
	return &DataConverter{keys: d.keys, tenant: knownTenant(t)}
}

// WithSerializationContext returns a converter of its own for each workflow execution or
// activity, so that what it learns of the tenant stays with that execution.
func (d *DataConverter) WithSerializationContext(converter.SerializationContext) converter.DataConverter {
	c := &tenantCell{}
	if t, ok := d.tenant.get(); ok {
		c = knownTenant(t)
	}
	return &DataConverter{keys: d.keys, tenant: c}
}

func (d *DataConverter) inner() converter.DataConverter {
	t, _ := d.tenant.get() // unknown: the platform's key
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), &Codec{Keys: d.keys, Tenant: t})
}

// ToPayload converts a value and encrypts it.
func (d *DataConverter) ToPayload(value any) (*commonpb.Payload, error) {
	return d.inner().ToPayload(value)
}

// FromPayload decrypts a payload and converts it into valuePtr.
func (d *DataConverter) FromPayload(payload *commonpb.Payload, valuePtr any) error {
	return d.inner().FromPayload(payload, valuePtr)
}

// ToPayloads converts values and encrypts them.
func (d *DataConverter) ToPayloads(value ...any) (*commonpb.Payloads, error) {
	return d.inner().ToPayloads(value...)
}

// FromPayloads decrypts payloads and converts them into valuePtrs.
func (d *DataConverter) FromPayloads(payloads *commonpb.Payloads, valuePtrs ...any) error {
	return d.inner().FromPayloads(payloads, valuePtrs...)
}

// ToString decrypts a payload and renders it for a person (the SDK's error messages).
func (d *DataConverter) ToString(input *commonpb.Payload) string {
	return d.inner().ToString(input)
}

// ToStrings decrypts payloads and renders each for a person.
func (d *DataConverter) ToStrings(input *commonpb.Payloads) []string {
	return d.inner().ToStrings(input)
}

// headerTenant is the header that carries the tenant ID between clients, workflows and
// activities.
const headerTenant = "impactflow-tenant"

// Propagator carries the tenant ID in a header of every workflow start, signal, update,
// query, activity and child workflow, for DataConverter on the other side. Headers are not
// encoded by the codec: the tenant ID must be readable before a key can be chosen.
type Propagator struct{}

var plain = converter.GetDefaultDataConverter()

// Inject writes the tenant of ctx into the header.
func (Propagator) Inject(ctx context.Context, w workflow.HeaderWriter) error {
	if t, ok := TenantFrom(ctx); ok {
		return setHeader(w, t)
	}
	return nil
}

// InjectFromWorkflow writes the workflow's tenant into the header.
func (Propagator) InjectFromWorkflow(ctx workflow.Context, w workflow.HeaderWriter) error {
	if t, ok := TenantOfWorkflow(ctx); ok {
		return setHeader(w, t)
	}
	return nil
}

// Extract reads the tenant from the header into ctx.
func (Propagator) Extract(ctx context.Context, r workflow.HeaderReader) (context.Context, error) {
	if t, ok := getHeader(r); ok {
		return WithTenant(ctx, t), nil
	}
	return ctx, nil
}

// ExtractToWorkflow reads the tenant from the header into the workflow context.
func (Propagator) ExtractToWorkflow(ctx workflow.Context, r workflow.HeaderReader) (workflow.Context, error) {
	if t, ok := getHeader(r); ok {
		return workflow.WithValue(ctx, tenantKey{}, t), nil
	}
	return ctx, nil
}

func setHeader(w workflow.HeaderWriter, tenant string) error {
	p, err := plain.ToPayload(tenant)
	if err != nil {
		return err
	}
	w.Set(headerTenant, p)
	return nil
}

func getHeader(r workflow.HeaderReader) (string, bool) {
	p, ok := r.Get(headerTenant)
	if !ok {
		return "", false
	}
	var t string
	if err := plain.FromPayload(p, &t); err != nil {
		return "", false
	}
	return t, true
}
