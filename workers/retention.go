package workers

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// RetentionScheduleID is the Temporal Schedule that runs RetentionWorkflow every day.
const RetentionScheduleID = "privacy-retention"

// retentionHour is when, in UTC, the daily run starts: a quiet hour for most tenants.
const retentionHour = 3

// RetentionSchedule says how retention is scheduled; the zero value is the daily run.
type RetentionSchedule struct {
	ID string
	// Every, when set, replaces the daily calendar (tests).
	Every time.Duration
}

// EnsureRetentionSchedule creates the schedule that starts RetentionWorkflow daily at
// retentionHour UTC, skipping a day while the previous run still goes. Safe to call from
// every worker at start: an existing schedule is left as it is, so an operator's pause
// holds across restarts.
func EnsureRetentionSchedule(ctx context.Context, c client.Client, s RetentionSchedule) error {
	if s.ID == "" {
		s.ID = RetentionScheduleID
	}
	spec := client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{
		Hour: []client.ScheduleRange{{Start: retentionHour}}, Minute: []client.ScheduleRange{{Start: 0}},
		Second: []client.ScheduleRange{{Start: 0}},
	}}}
	if s.Every > 0 {
		spec = client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: s.Every}}}
	}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      s.ID,
		Spec:    spec,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{
			ID:        s.ID,
			Workflow:  workflows.RetentionWorkflow,
			Args:      []any{workflows.RetentionInput{}},
			TaskQueue: temporal.TaskQueuePrivacy,
			TypedSearchAttributes: sdktemporal.NewSearchAttributes(
				temporal.SearchAttrTenantID.ValueSet(platformTenant),
				temporal.SearchAttrJobKind.ValueSet(string(jobs.KindRetention)),
			),
		},
	})
	if err != nil && !errors.Is(err, sdktemporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create retention schedule: %w", err)
	}
	return nil
}
