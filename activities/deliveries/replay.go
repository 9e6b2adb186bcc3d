package deliveries

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
)

// Replayer replays deliveries by resetting their workflows to the first workflow task: the
// new run keeps the delivery's ID (and so its idempotency key at the partner) and stays
// linked to the old run in the history and the Temporal UI.
type Replayer struct {
	Store *store.Store
	Jobs  *jobs.Service
}

// Replay resets the delivery's finished workflow. A delivered one is refused unless force
// is set (the partner then answers with its first receipt: one delivery either way).
func (r *Replayer) Replay(ctx context.Context, tenantID, id string, force bool, by string) (jobs.Job, error) {
	d, err := r.Store.Delivery(ctx, tenantID, id)
	if err != nil {
		return jobs.Job{}, err
	}
	job, err := r.Jobs.Get(ctx, tenantID, id)
	if err != nil {
		return jobs.Job{}, err
	}
	if !job.Status.Closed() {
		return jobs.Job{}, fmt.Errorf("%w: delivery %s is still running; cancel it or wait", jobs.ErrConflict, id)
	}
	if d.Status == store.DeliveryDelivered && !force {
		return jobs.Job{}, fmt.Errorf("%w: delivery %s was delivered (receipt %s); replay it with force=true", jobs.ErrConflict, id, d.ReceiptID)
	}
	reason := "replay delivery"
	if force {
		reason = "forced replay of a delivered delivery"
	}
	return r.Jobs.Reset(ctx, tenantID, id, jobs.ResetRequest{To: jobs.ResetFirstWorkflowTask, Reason: reason, By: by})
}

// ReplayItemInput is one delivery of a batch replay.
type ReplayItemInput struct {
	TenantID string `json:"tenant_id"`
	ID       string `json:"id"`
	Force    bool   `json:"force"`
	By       string `json:"by"`
}

// ReplayItem is what happened to one delivery of a batch.
type ReplayItem struct {
	ID      string `json:"id"`
	Result  string `json:"result"` // replayed | conflict | not_found
	Message string `json:"message,omitempty"`
	RunID   string `json:"run_id,omitempty"`
}

// ReplayDelivery replays one delivery of a batch. Refusals (not found, delivered, still
// running) are results, not errors; only infrastructure failures are retried.
func (a *Activities) ReplayDelivery(ctx context.Context, in ReplayItemInput) (ReplayItem, error) {
	if a.Replayer == nil {
		return ReplayItem{}, errors.New("replay: no replayer configured on this worker")
	}
	job, err := a.Replayer.Replay(ctx, in.TenantID, in.ID, in.Force, in.By)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, jobs.ErrNotFound):
		return ReplayItem{ID: in.ID, Result: "not_found", Message: "no such delivery"}, nil
	case errors.Is(err, jobs.ErrConflict):
		return ReplayItem{ID: in.ID, Result: "conflict", Message: err.Error()}, nil
	case err != nil:
		return ReplayItem{}, err
	}
	return ReplayItem{ID: in.ID, Result: "replayed", RunID: job.RunID}, nil
}

// FailedFilter selects the failed deliveries that retry-all-failed replays.
type FailedFilter struct {
	TenantID string    `json:"tenant_id"`
	Partner  string    `json:"partner,omitempty"`
	From     time.Time `json:"from,omitempty"`
	To       time.Time `json:"to,omitempty"`
	Limit    int       `json:"limit"`
}

// ListFailedDeliveries lists the failed deliveries the filter selects, oldest first.
func (a *Activities) ListFailedDeliveries(ctx context.Context, f FailedFilter) ([]string, error) {
	return a.Store.FailedDeliveryIDs(ctx, f.TenantID, f.Partner, f.From, f.To, f.Limit)
}
