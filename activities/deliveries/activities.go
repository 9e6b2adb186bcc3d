// Package deliveries holds the activities of DeliveryWorkflow and ReplayBatchWorkflow:
// thin adapters from Temporal to internal/connectors (mapping, sending) and internal/store
// (the delivery row, sealed credentials). Credentials are loaded and decrypted here, per
// attempt, so they never travel in a workflow payload or history.
package deliveries

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/connectors"
	"github.com/impactflow/impactflow/internal/secrets"
	"github.com/impactflow/impactflow/internal/store"
)

// Error types the workflow's RetryPolicy treats as final.
const (
	// ErrTypeRejected is a 4xx from the partner (validation): the data must change first.
	ErrTypeRejected = "PartnerRejected"
	// ErrTypeUnauthorized is a 401/403 that a token refresh did not cure.
	ErrTypeUnauthorized = "PartnerUnauthorized"
	// ErrTypeNoCredentials means the tenant has not set credentials for the partner.
	ErrTypeNoCredentials = "NoCredentials"
	// ErrTypeBadDelivery means the delivery row is missing or unusable.
	ErrTypeBadDelivery = "BadDelivery"
	// ErrTypeUnavailable is a retryable failure: network, timeout, 5xx, 429.
	ErrTypeUnavailable = "PartnerUnavailable"
)

// Activities builds, sends and records deliveries.
type Activities struct {
	Store *store.Store
	Box   *secrets.Box
	// URLs is the platform's base URL per partner (a sandbox's in dev and tests).
	URLs map[connectors.Partner]string
	HTTP *http.Client
	// AttemptTimeout bounds one HTTP exchange with the partner.
	AttemptTimeout time.Duration
	// BeforeSend, when set, runs before each send; tests use it to stop a worker mid-send.
	BeforeSend func(ctx context.Context, deliveryID string)
	// Replayer resets delivery workflows for the batch replay.
	Replayer *Replayer

	senders sync.Map // cache key → connectors.Sender, so OAuth tokens are reused
}

// Period is a delivery's period, whole days, both inclusive.
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// BuildInput names the delivery whose payload to build.
type BuildInput struct {
	DeliveryID string `json:"delivery_id"`
	TenantID   string `json:"tenant_id"`
	Partner    string `json:"partner"`
	Period     Period `json:"period"`
}

// BuildResult describes the stored payload (the payload itself stays in Postgres).
type BuildResult struct {
	PayloadHash string `json:"payload_hash"`
	Bytes       int    `json:"bytes"`
	Programs    int    `json:"programs"`
}

// BuildPayload reads the tenant's impact data for the period, maps it to the partner's
// schema and stores it on the delivery row, which goes in progress. It is rebuilt on every
// run, so a replay after the data was fixed sends the fixed data.
func (a *Activities) BuildPayload(ctx context.Context, in BuildInput) (BuildResult, error) {
	p := connectors.Partner(in.Partner)
	creds, err := a.credentials(ctx, in.TenantID, p)
	if err != nil {
		return BuildResult{}, err
	}
	tenant, err := a.Store.Tenant(ctx, in.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		return BuildResult{}, temporal.NewNonRetryableApplicationError("tenant "+in.TenantID+" does not exist", ErrTypeBadDelivery, nil)
	}
	if err != nil {
		return BuildResult{}, fmt.Errorf("load tenant: %w", err)
	}
	figures, err := a.Store.ImpactFigures(ctx, in.TenantID, in.Period.Start, in.Period.End.AddDate(0, 0, 1))
	if err != nil {
		return BuildResult{}, fmt.Errorf("load impact data: %w", err)
	}
	summary := connectors.ImpactSummary{DeliveryID: in.DeliveryID, TenantID: in.TenantID, TenantName: tenant.Name,
		PeriodStart: in.Period.Start, PeriodEnd: in.Period.End, Currency: "USD", Programs: []connectors.ProgramImpact{}}
	for _, f := range figures {
		summary.Programs = append(summary.Programs, connectors.ProgramImpact(f))
	}
	payload, err := connectors.Map(p, creds.Protocol, summary)
	if err != nil {
		return BuildResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeBadDelivery, nil)
	}
	sum := sha256.Sum256(payload)
	hash := hex.EncodeToString(sum[:])
	err = a.Store.StartDelivery(ctx, in.DeliveryID, activity.GetInfo(ctx).WorkflowExecution.RunID, payload, connectors.ContentType(p, creds.Protocol), hash)
	if errors.Is(err, store.ErrNotFound) {
		return BuildResult{}, temporal.NewNonRetryableApplicationError("delivery row "+in.DeliveryID+" is missing", ErrTypeBadDelivery, nil)
	}
	if err != nil {
		return BuildResult{}, fmt.Errorf("store payload: %w", err)
	}
	return BuildResult{PayloadHash: hash, Bytes: len(payload), Programs: len(figures)}, nil
}

// SendInput names the delivery to send; the payload and credentials are loaded here.
type SendInput struct {
	DeliveryID string `json:"delivery_id"`
	TenantID   string `json:"tenant_id"`
	Partner    string `json:"partner"`
}

// SendResult is the partner's receipt and how the successful attempt went.
type SendResult struct {
	ReceiptID  string    `json:"receipt_id"`
	HTTPStatus int       `json:"http_status"`
	Duplicate  bool      `json:"duplicate"`
	Attempt    int32     `json:"attempt"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
}

// AttemptFailure is the detail attached to a failed attempt's error, so that the history
// (and the API reading it) has each attempt's HTTP status and timing.
type AttemptFailure struct {
	Attempt    int32     `json:"attempt"`
	HTTPStatus int       `json:"http_status"`
	Kind       string    `json:"kind"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
}

// Send posts the stored payload to the partner under the delivery's ID as idempotency key.
// Network errors, timeouts, 5xx and 429 are retryable (a 429's Retry-After sets the next
// retry's delay); 4xx are final, with the partner's message.
func (a *Activities) Send(ctx context.Context, in SendInput) (SendResult, error) {
	info := activity.GetInfo(ctx)
	p := connectors.Partner(in.Partner)
	payload, _, _, err := a.Store.DeliveryPayload(ctx, in.DeliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return SendResult{}, temporal.NewNonRetryableApplicationError("delivery "+in.DeliveryID+" has no payload", ErrTypeBadDelivery, nil)
	}
	if err != nil {
		return SendResult{}, fmt.Errorf("load payload: %w", err)
	}
	sender, err := a.sender(ctx, in.TenantID, p)
	if err != nil {
		return SendResult{}, err
	}
	if err := a.Store.CountAttempt(ctx, in.DeliveryID); err != nil {
		return SendResult{}, fmt.Errorf("count attempt: %w", err)
	}
	if a.BeforeSend != nil {
		a.BeforeSend(ctx, in.DeliveryID)
	}
	timeout := a.AttemptTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	sendCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	started := time.Now()
	receipt, err := sender.Send(sendCtx, payload, in.DeliveryID)
	took := time.Since(started)
	if err != nil {
		return SendResult{}, classify(err, AttemptFailure{Attempt: info.Attempt, StartedAt: started.UTC(), DurationMS: took.Milliseconds()})
	}
	return SendResult{ReceiptID: receipt.ID, HTTPStatus: receipt.HTTPStatus, Duplicate: receipt.Duplicate,
		Attempt: info.Attempt, StartedAt: started.UTC(), DurationMS: took.Milliseconds()}, nil
}

// classify turns a connector error into the Temporal error that says whether to retry.
func classify(err error, f AttemptFailure) error {
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		f.Kind = "internal"
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrTypeUnavailable, temporal.ApplicationErrorOptions{Details: []any{f}})
	}
	f.HTTPStatus, f.Kind = ce.HTTPStatus, ce.Kind
	if ce.Retryable {
		return temporal.NewApplicationErrorWithOptions(ce.Error(), ErrTypeUnavailable, temporal.ApplicationErrorOptions{
			Details: []any{f}, NextRetryDelay: ce.RetryAfter,
		})
	}
	typ := ErrTypeRejected
	if ce.Kind == "unauthorized" {
		typ = ErrTypeUnauthorized
	}
	return temporal.NewApplicationErrorWithOptions(ce.Error(), typ, temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{f}})
}

// OutcomeInput is how the delivery ended.
type OutcomeInput struct {
	DeliveryID     string `json:"delivery_id"`
	Status         string `json:"status"`
	ReceiptID      string `json:"receipt_id,omitempty"`
	Error          string `json:"error,omitempty"`
	LastHTTPStatus int    `json:"last_http_status,omitempty"`
}

// RecordOutcome writes the outcome to the delivery row; idempotent.
func (a *Activities) RecordOutcome(ctx context.Context, in OutcomeInput) error {
	return a.Store.FinishDelivery(ctx, in.DeliveryID, store.DeliveryOutcome{
		Status: in.Status, ReceiptID: in.ReceiptID, LastError: in.Error, LastHTTPStatus: in.LastHTTPStatus,
	})
}

func credentialsAD(tenantID string, p connectors.Partner) []byte {
	return []byte(tenantID + "/" + string(p))
}

// SealCredentials seals the credentials for storage, bound to tenant and partner.
func SealCredentials(box *secrets.Box, tenantID string, p connectors.Partner, c connectors.Credentials) (store.SealedCredentials, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return store.SealedCredentials{}, err
	}
	s := box.Seal(raw, credentialsAD(tenantID, p))
	return store.SealedCredentials{KeyID: s.KeyID, Sealed: s.Ciphertext}, nil
}

func (a *Activities) sealed(ctx context.Context, tenantID string, p connectors.Partner) (store.SealedCredentials, error) {
	sc, err := a.Store.PartnerCredentials(ctx, tenantID, string(p))
	if errors.Is(err, store.ErrNotFound) {
		return sc, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no %s credentials are set for tenant %s (PUT /v1/impact-in/partners/%s)", p, tenantID, p), ErrTypeNoCredentials, nil)
	}
	if err != nil {
		return sc, fmt.Errorf("load credentials: %w", err)
	}
	return sc, nil
}

func (a *Activities) open(tenantID string, p connectors.Partner, sc store.SealedCredentials) (connectors.Credentials, error) {
	if a.Box == nil {
		return connectors.Credentials{}, temporal.NewNonRetryableApplicationError("IMPACTFLOW_SECRET_KEY is not configured on this worker", ErrTypeNoCredentials, nil)
	}
	raw, err := a.Box.Open(secrets.Sealed{KeyID: sc.KeyID, Ciphertext: sc.Sealed}, credentialsAD(tenantID, p))
	if err != nil {
		// Never the credentials themselves: only which key was wanted.
		return connectors.Credentials{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s credentials do not decrypt: %v", p, err), ErrTypeNoCredentials, nil)
	}
	var c connectors.Credentials
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s credentials are not readable", p), ErrTypeNoCredentials, nil)
	}
	return c, nil
}

// reseal rewrites credentials sealed with a retired key under the current one, so that the
// retired key can eventually be dropped from IMPACTFLOW_SECRET_KEY. Best effort: the next
// use tries again.
func (a *Activities) reseal(ctx context.Context, tenantID string, p connectors.Partner, sc store.SealedCredentials, c connectors.Credentials) {
	if !a.Box.Stale(secrets.Sealed{KeyID: sc.KeyID, Ciphertext: sc.Sealed}) {
		return
	}
	if fresh, err := SealCredentials(a.Box, tenantID, p, c); err == nil {
		_ = a.Store.PutPartnerCredentials(ctx, tenantID, string(p), fresh)
	}
}

func (a *Activities) credentials(ctx context.Context, tenantID string, p connectors.Partner) (connectors.Credentials, error) {
	if !p.Valid() {
		return connectors.Credentials{}, temporal.NewNonRetryableApplicationError("unknown partner "+string(p), ErrTypeBadDelivery, nil)
	}
	sc, err := a.sealed(ctx, tenantID, p)
	if err != nil {
		return connectors.Credentials{}, err
	}
	return a.open(tenantID, p, sc)
}

// sender returns the cached sender for the tenant's current credentials: a new PUT of the
// credentials changes the sealed bytes and so the cache key.
func (a *Activities) sender(ctx context.Context, tenantID string, p connectors.Partner) (connectors.Sender, error) {
	sc, err := a.sealed(ctx, tenantID, p)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(sc.Sealed)
	key := tenantID + "/" + string(p) + "/" + hex.EncodeToString(sum[:8])
	if s, ok := a.senders.Load(key); ok {
		return s.(connectors.Sender), nil
	}
	c, err := a.open(tenantID, p, sc)
	if err != nil {
		return nil, err
	}
	a.reseal(ctx, tenantID, p, sc, c)
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	s, err := connectors.New(p, c, a.URLs[p], hc)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNoCredentials, nil)
	}
	actual, _ := a.senders.LoadOrStore(key, s)
	return actual.(connectors.Sender), nil
}
