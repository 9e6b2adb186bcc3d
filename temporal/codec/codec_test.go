package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/internal/testdb"
	"github.com/impactflow/impactflow/temporal"
)

const secretText = "jane.doe@example.com +44 7700 900123 Jane Doe"

func TestEncodeDecode(t *testing.T) {
	ctx := context.Background()
	keys := NewStaticKeys()
	dc := NewDataConverter(keys).WithContext(WithTenant(ctx, "acme"))
	p, err := dc.ToPayload(secretText)
	if err != nil {
		t.Fatal(err)
	}
	if !IsEncrypted(p) || KeyID(p) == "" {
		t.Fatalf("metadata = %v", p.Metadata)
	}
	if bytes.Contains(p.Data, []byte("jane")) {
		t.Fatal("plaintext visible in the payload")
	}
	if k, _ := keys.ByID(ctx, KeyID(p)); k.Tenant != "acme" {
		t.Fatalf("encrypted with tenant %q's key", k.Tenant)
	}
	var got string
	if err := NewDataConverter(keys).FromPayload(p, &got); err != nil || got != secretText {
		t.Fatalf("decode = %q, %v", got, err)
	}

	// A payload from before encryption decodes as it is.
	old, _ := converter.GetDefaultDataConverter().ToPayload("plain")
	if err := dc.FromPayload(old, &got); err != nil || got != "plain" {
		t.Fatalf("plaintext payload = %q, %v", got, err)
	}

	// Only the tenant's own payloads decode for the tenant; nothing at all when one is not.
	if _, err := DecodeForTenant(ctx, keys, "globex", []*commonpb.Payload{old, p}); !errors.Is(err, ErrOtherTenant) {
		t.Fatalf("another tenant's payload: %v", err)
	}
	out, err := DecodeForTenant(ctx, keys, "acme", []*commonpb.Payload{old, p})
	if err != nil || IsEncrypted(out[1]) || out[0] != old {
		t.Fatalf("own payloads: %v %v", out, err)
	}

	// Without a tenant: the platform's key, never plaintext.
	pp, err := NewDataConverter(keys).ToPayload(secretText)
	if err != nil || !IsEncrypted(pp) {
		t.Fatalf("no tenant: %v %v", pp, err)
	}
	if k, _ := keys.ByID(ctx, KeyID(pp)); k.Tenant != PlatformTenant {
		t.Fatalf("no tenant: encrypted with %q's key", k.Tenant)
	}

	k, _ := keys.ByID(ctx, KeyID(p))
	if printed := fmt.Sprintf("%v %+v %#v", k, k, k); strings.Contains(printed, "aead") || !strings.Contains(printed, k.ID) {
		t.Fatalf("a printed key shows more than its ID: %s", printed)
	}

	tampered := &commonpb.Payload{Metadata: p.Metadata, Data: append([]byte(nil), p.Data...)}
	tampered.Data[len(tampered.Data)-1] ^= 1
	if err := dc.FromPayload(tampered, &got); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("tampered: %v", err)
	}
}

// countingKeys records for which tenants payloads were encrypted.
type countingKeys struct {
	Keys
	mu      sync.Mutex
	tenants map[string]int
}

func (c *countingKeys) Current(ctx context.Context, tenant string) (Key, error) {
	c.mu.Lock()
	c.tenants[tenant]++
	c.mu.Unlock()
	if tenant == "" && os.Getenv("CODEC_DEBUG") != "" {
		debug.PrintStack()
	}
	return c.Keys.Current(ctx, tenant)
}

func (c *countingKeys) used() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.tenants)
}

type probeIn struct{ Text string }

func probeActivity(ctx context.Context, in probeIn) (string, error) { return "seen " + in.Text, nil }

func probeChild(ctx workflow.Context, in probeIn) (string, error) { return "child " + in.Text, nil }

// probeWorkflow exercises every path a payload is encoded on inside a workflow.
func probeWorkflow(ctx workflow.Context, in probeIn) (string, error) {
	if err := workflow.SetQueryHandler(ctx, "text", func() (string, error) { return in.Text, nil }); err != nil {
		return "", err
	}
	ao := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var a string
	if err := workflow.ExecuteActivity(ao, probeActivity, in).Get(ctx, &a); err != nil {
		return "", err
	}
	lo := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: time.Minute})
	if err := workflow.ExecuteLocalActivity(lo, probeActivity, in).Get(ctx, &a); err != nil {
		return "", err
	}
	var side string
	if err := workflow.SideEffect(ctx, func(workflow.Context) any { return in.Text }).Get(&side); err != nil {
		return "", err
	}
	if err := workflow.UpsertMemo(ctx, map[string]any{"note": in.Text}); err != nil {
		return "", err
	}
	var c string
	if err := workflow.ExecuteChildWorkflow(ctx, probeChild, in).Get(ctx, &c); err != nil {
		return "", err
	}
	return a + side + c, nil
}

// TestWorkflowPathsUseTheTenantKey runs a workflow that its starter tagged only with the
// TenantId search attribute, as a schedule does: every payload in it, its activities' and
// its child's are encrypted with the tenant's key, none with the platform's.
func TestWorkflowPathsUseTheTenantKey(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	keys := &countingKeys{Keys: NewStaticKeys(), tenants: map[string]int{}}
	dc := NewDataConverter(keys)
	env.SetDataConverter(dc)
	env.SetContextPropagators(dc.ContextPropagators())
	env.RegisterWorkflow(probeChild)
	env.RegisterActivity(probeActivity)
	env.SetTypedSearchAttributesOnStart(sdktemporal.NewSearchAttributes(temporal.SearchAttrTenantID.ValueSet("acme")))
	env.ExecuteWorkflow(probeWorkflow, probeIn{Text: secretText})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || !strings.Contains(out, "child "+secretText) {
		t.Fatalf("result %q, %v", out, err)
	}
	v, err := env.QueryWorkflow("text")
	if err != nil {
		t.Fatal(err)
	}
	var q string
	if err := v.Get(&q); err != nil || q != secretText {
		t.Fatalf("query = %q, %v", q, err)
	}
	// The one platform use is the test environment's own encoding of the input, as a
	// starter without a tenant would; everything the workflow and its activities and child
	// encode is the tenant's.
	used := keys.used()
	if used["acme"] < 8 || used[PlatformTenant] != 1 {
		t.Fatalf("keys used by tenant: %v (want acme for all but the start)", used)
	}
}

// TestHeaderCarriesTheTenant: a client call tagged WithTenant reaches an activity, whose
// result is then encrypted with the tenant's key.
func TestHeaderCarriesTheTenant(t *testing.T) {
	keys := NewStaticKeys()
	h := header{}
	if err := (Propagator{}).Inject(WithTenant(context.Background(), "acme"), h); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(h[headerTenant].GetData(), []byte("jane")) || !strings.Contains(string(h[headerTenant].GetData()), "acme") {
		t.Fatalf("header = %v", h)
	}
	ctx, err := (Propagator{}).Extract(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewDataConverter(keys).WithContext(ctx).ToPayload("x")
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := keys.ByID(ctx, KeyID(p)); k.Tenant != "acme" {
		t.Fatalf("encrypted with %q's key", k.Tenant)
	}
}

type header map[string]*commonpb.Payload

func (h header) Set(k string, v *commonpb.Payload) { h[k] = v }
func (h header) Get(k string) (*commonpb.Payload, bool) {
	v, ok := h[k]
	return v, ok
}
func (h header) ForEachKey(f func(string, *commonpb.Payload) error) error {
	for k, v := range h {
		if err := f(k, v); err != nil {
			return err
		}
	}
	return nil
}

// TestKeyring: keys are stored wrapped, found again by another process, rotated without
// breaking old payloads, and destroyed for good.
func TestKeyring(t *testing.T) {
	st := testStore(t)
	ctx := context.Background()
	box, err := secrets.Parse(secrets.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	ring := NewKeyring(st, box)
	dc := NewDataConverter(ring).WithContext(WithTenant(ctx, "acme"))
	p, err := dc.ToPayload(secretText)
	if err != nil {
		t.Fatal(err)
	}
	row, err := st.DataKey(ctx, KeyID(p))
	if err != nil || row.TenantID != "acme" || len(row.Wrapped) == 0 {
		t.Fatalf("stored key: %+v, %v", row, err)
	}

	// Another process, same key ring: the same current key, and the payload decodes.
	other := NewKeyring(st, box)
	if k, err := other.Current(ctx, "acme"); err != nil || k.ID != KeyID(p) {
		t.Fatalf("other process's current key = %v, %v", k.ID, err)
	}
	var got string
	if err := NewDataConverter(other).FromPayload(p, &got); err != nil || got != secretText {
		t.Fatalf("decode in another process = %q, %v", got, err)
	}
	// A different key ring cannot unwrap it.
	wrong, _ := secrets.Parse(secrets.NewKey())
	if err := NewDataConverter(NewKeyring(st, wrong)).FromPayload(p, &got); err == nil {
		t.Fatal("decoded with another IMPACTFLOW_SECRET_KEY")
	}

	// Rotation: new payloads use the new key, old ones still decode.
	if _, err := ring.Rotate(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	p2, _ := dc.ToPayload("after rotation")
	if KeyID(p2) == KeyID(p) {
		t.Fatal("rotation kept the key")
	}
	if err := NewDataConverter(ring).FromPayload(p, &got); err != nil {
		t.Fatalf("old payload after rotation: %v", err)
	}

	// globex is untouched by acme's destruction.
	g, _ := NewDataConverter(ring).WithContext(WithTenant(ctx, "globex")).ToPayload("globex data")
	if err := ring.DestroyTenantKeys(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Keyring{ring, NewKeyring(st, box)} {
		if err := NewDataConverter(r).FromPayload(p, &got); !errors.Is(err, ErrKeyDestroyed) {
			t.Fatalf("decode after destroy: %v, want ErrKeyDestroyed", err)
		}
		if err := NewDataConverter(r).FromPayload(g, &got); err != nil || got != "globex data" {
			t.Fatalf("other tenant after destroy: %q %v", got, err)
		}
	}
	// The codec endpoint's view: a destroyed payload of the tenant stays encrypted.
	out, err := DecodeForTenant(ctx, ring, "acme", []*commonpb.Payload{p})
	if err != nil || !IsEncrypted(out[0]) {
		t.Fatalf("destroyed, for its tenant: %v %v", out, err)
	}
	if err := ring.DestroyTenantKeys(ctx, "acme"); err != nil {
		t.Fatalf("destroy twice: %v", err)
	}
	// A new payload of the tenant gets a new key (a re-created tenant starts afresh).
	p3, err := dc.ToPayload("new")
	if err != nil || KeyID(p3) == KeyID(p2) {
		t.Fatalf("after destroy: %v %v", KeyID(p3), err)
	}
}

// testStore opens a migrated database of the test's own.
func testStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), testdb.New(t, "codec"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// BenchmarkCodec1MB measures the codec on a 1 MB payload, its key cached as in a worker.
func BenchmarkCodec1MB(b *testing.B) {
	keys := NewStaticKeys()
	c := &Codec{Keys: keys, Tenant: "acme"}
	p := &commonpb.Payload{Metadata: map[string][]byte{MetadataEncoding: []byte("json/plain")}, Data: bytes.Repeat([]byte("x"), 1<<20)}
	enc, err := c.Encode([]*commonpb.Payload{p})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(1 << 20)
		for b.Loop() {
			if _, err := c.Encode([]*commonpb.Payload{p}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(1 << 20)
		for b.Loop() {
			if _, err := c.Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
