package workers

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"

	analyticsact "github.com/impactflow/impactflow/activities/analytics"
	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// SyncScheduleID is the Temporal Schedule that runs the incremental ClickHouse sync.
const SyncScheduleID = "clickhouse-sync"

// platformTenant is the TenantId of platform-wide workflows (the scheduled sync).
const platformTenant = "_platform"

// EnsureSyncSchedule creates the schedule that starts an incremental ClickHouseSyncWorkflow
// every interval, skipping a tick while the previous run is still going; when it exists,
// its interval is brought to this one. Safe to call from every worker at start.
func EnsureSyncSchedule(ctx context.Context, c client.Client, interval time.Duration) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: interval}}}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      SyncScheduleID,
		Spec:    spec,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{
			ID:        SyncScheduleID,
			Workflow:  workflows.ClickHouseSyncWorkflow,
			Args:      []any{workflows.ClickHouseSyncInput{Scope: analyticsact.Scope{Mode: analyticsact.ModeIncremental}}},
			TaskQueue: temporal.TaskQueueAnalytics,
			TypedSearchAttributes: sdktemporal.NewSearchAttributes(
				temporal.SearchAttrTenantID.ValueSet(platformTenant),
				temporal.SearchAttrJobKind.ValueSet(string(jobs.KindClickHouseSync)),
			),
		},
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, sdktemporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create sync schedule: %w", err)
	}
	h := c.ScheduleClient().GetHandle(ctx, SyncScheduleID)
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		if s.Spec != nil && len(s.Spec.Intervals) == 1 && s.Spec.Intervals[0].Every == interval {
			return nil, sdktemporal.ErrSkipScheduleUpdate
		}
		s.Spec = &spec
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
	if err != nil {
		return fmt.Errorf("update sync schedule: %w", err)
	}
	return nil
}
