package privacy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/retention"
	"github.com/impactflow/impactflow/internal/store"
)

// purgeBatch is how many rows one delete statement removes: big enough that a million
// rows are a few hundred statements, small enough that none holds its locks for long.
const purgeBatch = 10000

// ErrTypeNoSuchClass marks a purge of a data class this build does not know: a worker
// older than the workflow that asked. Retrying on the same worker cannot help.
const ErrTypeNoSuchClass = "NoSuchDataClass"

// TenantsPageInput asks for the tenants after a cursor.
type TenantsPageInput struct {
	After string `json:"after"`
	Limit int    `json:"limit"`
}

// TenantsPage lists tenant IDs in order; fewer than the limit means the list is done.
func (a *Activities) TenantsPage(ctx context.Context, in TenantsPageInput) ([]string, error) {
	ids, err := a.Store.TenantsAfter(ctx, in.After, in.Limit)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ids, nil
}

// RetentionPlanInput asks for a tenant's cutoffs as of an instant.
type RetentionPlanInput struct {
	TenantID string    `json:"tenant_id"`
	AsOf     time.Time `json:"as_of"`
}

// ClassCutoff is the instant before which a class of a tenant's data is past retention.
type ClassCutoff struct {
	Class  retention.Class `json:"class"`
	Days   int             `json:"days"`
	Cutoff time.Time       `json:"cutoff"`
}

// RetentionPlan returns each class's cutoff under the tenant's policy, in purge order.
func (a *Activities) RetentionPlan(ctx context.Context, in RetentionPlanInput) ([]ClassCutoff, error) {
	p, err := a.Store.RetentionPolicy(ctx, in.TenantID)
	if err != nil {
		return nil, fmt.Errorf("retention policy of %s: %w", in.TenantID, err)
	}
	out := make([]ClassCutoff, 0, len(retention.Classes))
	for _, c := range retention.Classes {
		out = append(out, ClassCutoff{Class: c, Days: p.Days(c), Cutoff: p.Cutoff(c, in.AsOf)})
	}
	return out, nil
}

// PurgeInput is one class of one tenant to purge up to a cutoff.
type PurgeInput struct {
	TenantID string          `json:"tenant_id"`
	Class    retention.Class `json:"class"`
	Cutoff   time.Time       `json:"cutoff"`
	// BatchSize overrides purgeBatch (tests); 0 keeps it.
	BatchSize int `json:"batch_size,omitempty"`
}

// PurgeResult is how many rows a purge deleted.
type PurgeResult struct {
	Deleted int64 `json:"deleted"`
}

// PurgeExpired deletes a class's rows from before the cutoff in batches, heartbeating the
// running count after each; a retried attempt carries the count on from the last
// heartbeat, and the batches themselves are idempotent (a deleted row is not found again).
func (a *Activities) PurgeExpired(ctx context.Context, in PurgeInput) (PurgeResult, error) {
	var res PurgeResult
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &res)
	}
	batch := in.BatchSize
	if batch <= 0 {
		batch = purgeBatch
	}
	for {
		n, err := a.Store.PurgeExpired(ctx, in.TenantID, in.Class, in.Cutoff, batch)
		if errors.Is(err, store.ErrNoSuchClass) {
			return res, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNoSuchClass, err)
		}
		if err != nil {
			return res, err
		}
		res.Deleted += n
		activity.RecordHeartbeat(ctx, res)
		if n < int64(batch) {
			return res, nil
		}
	}
}
