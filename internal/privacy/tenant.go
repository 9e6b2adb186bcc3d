package privacy

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/temporal"
)

// tenantQuery selects every workflow of the tenant in visibility.
func tenantQuery(tenantID string) string {
	return temporal.SearchAttrTenantID.GetName() + " = " + jobs.QueryLiteral(tenantID)
}

// DeleteTenantSchedules deletes every Temporal Schedule of the tenant (its recurring
// notifications), with its scheduler workflow's history, so that nothing new starts for
// the tenant; it returns the schedule IDs. The schedules are found by their own TenantId
// search attribute, so one whose Postgres row is missing is found too.
func (t Temporal) DeleteTenantSchedules(ctx context.Context, tenantID string) ([]string, error) {
	iter, err := t.Client.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var ids []string
	for iter.HasNext() {
		s, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		if s.SearchAttributes == nil || !ownedBy(s.SearchAttributes, tenantID) {
			continue
		}
		ids = append(ids, s.ID)
	}
	for _, id := range ids {
		if err := t.Client.ScheduleClient().GetHandle(ctx, id).Delete(ctx); err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("delete schedule %s: %w", id, err)
		}
		if err := t.deleteScheduler(ctx, tenantID, id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// TerminateTenant terminates every running workflow of the tenant and returns how many it
// terminated. The tenant's keys are revoked before, so no new one starts meanwhile.
func (t Temporal) TerminateTenant(ctx context.Context, tenantID string) (int, error) {
	infos, err := t.list(ctx, tenantQuery(tenantID)+" AND ExecutionStatus = 'Running'")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, info := range infos {
		ex := info.GetExecution()
		err := t.Client.TerminateWorkflow(ctx, ex.GetWorkflowId(), ex.GetRunId(), "tenant deleted")
		if err != nil && !isNotFound(err) {
			return n, fmt.Errorf("terminate %s: %w", ex.GetWorkflowId(), err)
		}
		n++
	}
	return n, nil
}

// DeleteTenantExecutions deletes every workflow run of the tenant from Temporal (history
// and visibility) and waits, calling waiting between looks, until visibility lists none:
// the server deletes asynchronously. It returns how many runs it deleted.
func (t Temporal) DeleteTenantExecutions(ctx context.Context, tenantID string, waiting func()) (int, error) {
	deleted, err := t.deleteListed(ctx, tenantQuery(tenantID), waiting)
	return len(deleted), err
}
