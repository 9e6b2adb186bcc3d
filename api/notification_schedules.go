package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/impactflow/impactflow/internal/jobs"
	"github.com/impactflow/impactflow/internal/store"
	"github.com/impactflow/impactflow/temporal"
	"github.com/impactflow/impactflow/workflows"
)

// schedulePrefix starts every recurring notification's ID; each run it starts is a
// notification whose ID is the schedule's plus the run's time.
const schedulePrefix = "schedule-"

// isScheduleID reports whether id names a schedule (schedule-<uuid>) rather than one of its
// runs (schedule-<uuid>-<time>) or a notification.
func isScheduleID(id string) bool {
	rest, ok := strings.CutPrefix(id, schedulePrefix)
	_, err := uuid.Parse(rest)
	return ok && err == nil && len(rest) == 36
}

// recurrence is when a recurring notification fires: a cron expression or a calendar, in
// the tenant's time zone unless another is named.
type recurrence struct {
	Cron     string    `json:"cron,omitempty"`
	Calendar *calendar `json:"calendar,omitempty"`
	Timezone string    `json:"timezone,omitempty"`
	// StartAt, when set, is when the recurrence begins (e.g. the weekly report from March).
	StartAt *time.Time `json:"start_at,omitempty"`
}

// calendar is a calendar spec in cron's field syntax ("9", "MON-FRI", "1,15", "*/2").
// Omitted fields are 0 for minute and hour and every value for the others.
type calendar struct {
	Minute     string `json:"minute,omitempty"`
	Hour       string `json:"hour,omitempty"`
	DayOfMonth string `json:"day_of_month,omitempty"`
	Month      string `json:"month,omitempty"`
	DayOfWeek  string `json:"day_of_week,omitempty"`
}

// cronFor returns the recurrence as the cron expression Temporal's schedule spec takes.
func (r *recurrence) cronFor() (string, error) {
	switch {
	case r.Cron != "" && r.Calendar != nil:
		return "", badRequest("recurrence", "give recurrence.cron or recurrence.calendar, not both")
	case r.Cron != "":
		if n := len(strings.Fields(r.Cron)); n != 5 || strings.Contains(r.Cron, "CRON_TZ") {
			return "", badRequest("recurrence.cron", "recurrence.cron must have five fields (minute hour day-of-month month day-of-week); the time zone goes in recurrence.timezone")
		}
		return r.Cron, nil
	case r.Calendar != nil:
		or := func(v, def string) string {
			if strings.TrimSpace(v) == "" {
				return def
			}
			if strings.ContainsAny(v, " \t") {
				return "!"
			}
			return v
		}
		c := r.Calendar
		cron := strings.Join([]string{or(c.Minute, "0"), or(c.Hour, "0"), or(c.DayOfMonth, "*"), or(c.Month, "*"), or(c.DayOfWeek, "*")}, " ")
		if strings.Contains(cron, "!") {
			return "", badRequest("recurrence.calendar", "calendar fields take cron syntax without spaces, e.g. \"MON-FRI\" or \"1,15\"")
		}
		return cron, nil
	}
	return "", badRequest("recurrence", "recurrence needs cron or calendar")
}

// scheduleSpec is the Temporal schedule spec of a recurrence in a time zone: Temporal
// computes the fire times in that zone, so 09:00 stays 09:00 local across DST changes.
func scheduleSpec(cron, tz string, startAt *time.Time) client.ScheduleSpec {
	spec := client.ScheduleSpec{CronExpressions: []string{cron}, TimeZoneName: tz}
	if startAt != nil {
		spec.StartAt = *startAt
	}
	return spec
}

type scheduleView struct {
	ID              string          `json:"id"`
	Cron            string          `json:"cron"`
	Timezone        string          `json:"timezone"`
	Paused          bool            `json:"paused"`
	NextActionTimes []time.Time     `json:"next_action_times"`
	RecentRuns      []scheduleRun   `json:"recent_runs"`
	Actions         int             `json:"actions"`
	Request         json.RawMessage `json:"request"`
	CreatedAt       time.Time       `json:"created_at"`
}

type scheduleRun struct {
	ScheduledAt    time.Time `json:"scheduled_at"`
	NotificationID string    `json:"notification_id"`
}

type storedSpec struct {
	Cron     string     `json:"cron"`
	Timezone string     `json:"timezone"`
	StartAt  *time.Time `json:"start_at,omitempty"`
}

func (s *Server) createSchedule(c *gin.Context, req sendRequest) {
	ctx := c.Request.Context()
	tenantID := mustPrincipal(c).TenantID
	tenant, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := req.validate(tenant.DefaultLocale); err != nil {
		s.fail(c, err)
		return
	}
	cron, err := req.Recurrence.cronFor()
	if err != nil {
		s.fail(c, err)
		return
	}
	tz := req.Recurrence.Timezone
	if tz == "" {
		tz = tenant.Timezone
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "" || tz == "Local" {
		s.fail(c, badRequest("recurrence.timezone", "recurrence.timezone must be an IANA time zone such as Europe/Paris"))
		return
	}
	jid, err := jobID(c, jobs.KindNotification, tenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	id := schedulePrefix + strings.TrimPrefix(jid, string(jobs.KindNotification)+"-")
	in := req.input(tenantID, "")
	in.ScheduleID = id
	_, err = s.temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   id,
		Spec: scheduleSpec(cron, tz, req.Recurrence.StartAt),
		Action: &client.ScheduleWorkflowAction{
			ID: id, Workflow: workflows.NotificationWorkflow, Args: []any{in}, TaskQueue: temporal.TaskQueueNotifications,
			TypedSearchAttributes: sdktemporal.NewSearchAttributes(
				temporal.SearchAttrTenantID.ValueSet(tenantID),
				temporal.SearchAttrJobKind.ValueSet(string(jobs.KindNotification)),
			),
		},
		// Each run is its own notification: a slow one does not hold back the next.
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
		Note:    "recurring notification of tenant " + tenantID,
		TypedSearchAttributes: sdktemporal.NewSearchAttributes(
			temporal.SearchAttrTenantID.ValueSet(tenantID),
			temporal.SearchAttrJobKind.ValueSet(string(jobs.KindNotification)),
		),
	})
	var invalid *serviceerror.InvalidArgument
	switch {
	case errors.As(err, &invalid):
		s.fail(c, badRequest("recurrence", "Temporal refused the schedule: %s", invalid.Message))
		return
	case err != nil && !errors.Is(err, sdktemporal.ErrScheduleAlreadyRunning):
		s.fail(c, err)
		return
	}
	spec, _ := json.Marshal(storedSpec{Cron: cron, Timezone: tz, StartAt: req.Recurrence.StartAt})
	body, _ := json.Marshal(req)
	sc, err := s.store.CreateSchedule(ctx, store.NotificationSchedule{ID: id, TenantID: tenantID, Spec: spec, Request: body})
	if err != nil {
		s.fail(c, err)
		return
	}
	view, err := s.describeSchedule(c, sc)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/v1/notifications/schedules/"+id)
	c.JSON(http.StatusCreated, view)
}

func (s *Server) describeSchedule(c *gin.Context, sc store.NotificationSchedule) (scheduleView, error) {
	var spec storedSpec
	_ = json.Unmarshal(sc.Spec, &spec)
	v := scheduleView{ID: sc.ID, Cron: spec.Cron, Timezone: spec.Timezone, Request: sc.Request, CreatedAt: sc.CreatedAt,
		NextActionTimes: []time.Time{}, RecentRuns: []scheduleRun{}}
	d, err := s.temporal.ScheduleClient().GetHandle(c.Request.Context(), sc.ID).Describe(c.Request.Context())
	if err != nil {
		return v, err
	}
	v.NextActionTimes = d.Info.NextActionTimes
	v.Actions = d.Info.NumActions
	if d.Schedule.State != nil {
		v.Paused = d.Schedule.State.Paused
	}
	for _, a := range d.Info.RecentActions {
		r := scheduleRun{ScheduledAt: a.ScheduleTime}
		if a.StartWorkflowResult != nil {
			r.NotificationID = a.StartWorkflowResult.WorkflowID
		}
		v.RecentRuns = append(v.RecentRuns, r)
	}
	return v, nil
}

func (s *Server) listSchedules(c *gin.Context) {
	list, err := s.store.Schedules(c.Request.Context(), mustPrincipal(c).TenantID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]scheduleView, 0, len(list))
	for _, sc := range list {
		v, err := s.describeSchedule(c, sc)
		if err != nil {
			s.fail(c, err)
			return
		}
		out = append(out, v)
	}
	c.JSON(http.StatusOK, gin.H{"schedules": out})
}

func (s *Server) getSchedule(c *gin.Context) { s.scheduleOp(c, nil) }

func (s *Server) pauseSchedule(c *gin.Context) {
	s.scheduleOp(c, func(h client.ScheduleHandle) error {
		return h.Pause(c.Request.Context(), client.SchedulePauseOptions{Note: "paused through the API"})
	})
}

func (s *Server) resumeSchedule(c *gin.Context) {
	s.scheduleOp(c, func(h client.ScheduleHandle) error {
		return h.Unpause(c.Request.Context(), client.ScheduleUnpauseOptions{Note: "resumed through the API"})
	})
}

func (s *Server) triggerSchedule(c *gin.Context) {
	s.scheduleOp(c, func(h client.ScheduleHandle) error {
		return h.Trigger(c.Request.Context(), client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL})
	})
}

// scheduleOp applies op (when not nil) to one of the tenant's schedules and answers with its state.
func (s *Server) scheduleOp(c *gin.Context, op func(client.ScheduleHandle) error) {
	sc, err := s.store.Schedule(c.Request.Context(), mustPrincipal(c).TenantID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if op != nil {
		if err := op(s.temporal.ScheduleClient().GetHandle(c.Request.Context(), sc.ID)); err != nil {
			s.fail(c, err)
			return
		}
	}
	v, err := s.describeSchedule(c, sc)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) deleteSchedule(c *gin.Context, tenantID, id string) {
	ctx := c.Request.Context()
	if _, err := s.store.Schedule(ctx, tenantID, id); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.temporal.ScheduleClient().GetHandle(ctx, id).Delete(ctx); err != nil && !isTemporalNotFound(err) {
		s.fail(c, err)
		return
	}
	if err := s.store.DeleteSchedule(ctx, tenantID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": id, "deleted": true})
}
