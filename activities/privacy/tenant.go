package privacy

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/impactflow/impactflow/internal/store"
)

// tenantDeleteBatch is how many rows of one table a tenant's deletion removes per statement.
const tenantDeleteBatch = 10000

// TenantKeys destroys a tenant's payload data keys (codec.Keyring).
type TenantKeys interface {
	DestroyTenantKeys(ctx context.Context, tenantID string) error
}

// TenantCaches deletes what a cache keeps for a tenant (analytics.Cache, quota.Quota).
type TenantCaches interface {
	DeleteTenant(ctx context.Context, tenantID string) (int64, error)
}

// TenantInput names the tenant a deletion step works on.
type TenantInput struct {
	TenantID string `json:"tenant_id"`
}

// TenantFound says whether the tenant still has its row when its deletion starts.
type TenantFound struct {
	Exists bool `json:"exists"`
}

// FindTenant says whether the tenant exists; a deletion run again finds it gone and still
// goes through every step, each of which finds nothing left.
func (a *Activities) FindTenant(ctx context.Context, in TenantInput) (TenantFound, error) {
	_, err := a.Store.Tenant(ctx, in.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		return TenantFound{}, nil
	}
	if err != nil {
		return TenantFound{}, fmt.Errorf("load tenant: %w", err)
	}
	return TenantFound{Exists: true}, nil
}

// RevokeTenantKeys revokes the tenant's API keys, so that nothing new starts for it.
func (a *Activities) RevokeTenantKeys(ctx context.Context, in TenantInput) (int64, error) {
	return a.Store.RevokeTenantKeys(ctx, in.TenantID)
}

// DeleteTenantSchedules deletes the tenant's Temporal Schedules and returns their IDs.
func (a *Activities) DeleteTenantSchedules(ctx context.Context, in TenantInput) ([]string, error) {
	ids, err := a.Temporal.DeleteTenantSchedules(ctx, in.TenantID)
	if ids == nil {
		ids = []string{}
	}
	return ids, err
}

// TerminateTenantWorkflows terminates the tenant's running workflows and says how many.
func (a *Activities) TerminateTenantWorkflows(ctx context.Context, in TenantInput) (int, error) {
	return a.Temporal.TerminateTenant(ctx, in.TenantID)
}

// DeleteTenantRows empties every Postgres table of the tenant's rows, in batches,
// heartbeating after each; it returns the rows deleted per table. A retried attempt goes
// on from what is left: a deleted row is not found again.
func (a *Activities) DeleteTenantRows(ctx context.Context, in TenantInput) (map[string]int64, error) {
	deleted := map[string]int64{}
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &deleted)
	}
	for _, table := range store.TenantTables() {
		for {
			n, err := a.Store.DeleteTenantRows(ctx, in.TenantID, table, tenantDeleteBatch)
			if err != nil {
				return deleted, err
			}
			if n > 0 {
				deleted[table] += n
			}
			activity.RecordHeartbeat(ctx, deleted)
			if n < tenantDeleteBatch {
				break
			}
		}
	}
	return deleted, nil
}

// DeleteTenantAnalytics deletes the tenant's rows from every ClickHouse table and refreshes
// the views, heartbeating while they refresh; nothing to do without an analytics store.
func (a *Activities) DeleteTenantAnalytics(ctx context.Context, in TenantInput) (map[string]int64, error) {
	if a.Analytics == nil {
		return map[string]int64{}, nil
	}
	return a.Analytics.DeleteTenant(ctx, in.TenantID, func() { activity.RecordHeartbeat(ctx, "refresh") })
}

// DeleteTenantCaches deletes every Redis key kept for the tenant and says how many.
func (a *Activities) DeleteTenantCaches(ctx context.Context, in TenantInput) (int64, error) {
	var total int64
	for _, c := range a.TenantCaches {
		n, err := c.DeleteTenant(ctx, in.TenantID)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// DestroyTenantDataKeys destroys the tenant's payload data keys: what is left of its
// payloads anywhere (a history not yet deleted, a backup of Temporal's store) can no longer
// be read. It reports whether this build encrypts payloads at all.
func (a *Activities) DestroyTenantDataKeys(ctx context.Context, in TenantInput) (bool, error) {
	if a.DataKeys == nil {
		return false, nil
	}
	return true, a.DataKeys.DestroyTenantKeys(ctx, in.TenantID)
}

// DeleteTenantExecutions deletes every workflow run of the tenant from Temporal, waiting
// (and heartbeating) until visibility lists none, and says how many it deleted.
func (a *Activities) DeleteTenantExecutions(ctx context.Context, in TenantInput) (int, error) {
	return a.Temporal.DeleteTenantExecutions(ctx, in.TenantID, func() { activity.RecordHeartbeat(ctx) })
}

// DeleteTenantRecord deletes the tenant's own row, last; false when it was already gone.
func (a *Activities) DeleteTenantRecord(ctx context.Context, in TenantInput) (bool, error) {
	err := a.Store.DeleteTenant(ctx, in.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
