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
const platformTenant = temporal.PlatformTenant

// SyncSchedule says how the sync is scheduled; ID and TaskQueue default to SyncScheduleID
// and TaskQueueAnalytics.
type SyncSchedule struct {
	ID        string
	Interval  time.Duration
	TaskQueue string
}

// EnsureSyncSchedule creates the schedule that starts an incremental ClickHouseSyncWorkflow
// every interval, skipping a tick while the previous run is still going; when it exists,
// its interval is brought to this one. Safe to call from every worker at start.
func EnsureSyncSchedule(ctx context.Context, c client.Client, s SyncSchedule) error {
	if s.ID == "" {
		s.ID = SyncScheduleID
	}
	if s.TaskQueue == "" {
		s.TaskQueue = temporal.TaskQueueAnalytics
	}
	interval := s.Interval
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: interval}}}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      s.ID,
		Spec:    spec,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{
			ID:        s.ID,
			Workflow:  workflows.ClickHouseSyncWorkflow,
			Args:      []any{workflows.ClickHouseSyncInput{Scope: analyticsact.Scope{Mode: analyticsact.ModeIncremental}}},
			TaskQueue: s.TaskQueue,
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
	h := c.ScheduleClient().GetHandle(ctx, s.ID)
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		cur := in.Description.Schedule
		if cur.Spec != nil && len(cur.Spec.Intervals) == 1 && cur.Spec.Intervals[0].Every == interval {
			return nil, sdktemporal.ErrSkipScheduleUpdate
		}
		cur.Spec = &spec
		return &client.ScheduleUpdate{Schedule: &cur}, nil
	}})
	if err != nil {
		return fmt.Errorf("update sync schedule: %w", err)
	}
	return nil
}
