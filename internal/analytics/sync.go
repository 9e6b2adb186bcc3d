package analytics

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// eventColumns are impactflow.events' columns in the order WriteChanges sends them.
var eventColumns = []string{"tenant_id", "event_id", "program_id", "participant_id", "kind", "occurred_at", "value",
	"location", "cohort", "attributes", "updated_at", "version", "deleted"}

// WriteChanges writes a batch of changes. Writing the same batch again leaves the same
// analytics: each row's version is its Postgres updated_at, so a copy replaces its twin.
func (db *DB) WriteChanges(ctx context.Context, changes []Change) error {
	rows := make([][]any, len(changes))
	for i, c := range changes {
		var deleted uint8
		if c.Deleted {
			deleted = 1
		}
		rows[i] = []any{c.TenantID, c.EventID, uint64(c.ProgramID), c.ParticipantID, c.Kind, c.OccurredAt.UTC(), c.Value,
			c.Location, c.Cohort, c.Attributes, c.UpdatedAt.UTC(), uint64(c.UpdatedAt.UnixMicro()), deleted}
	}
	if err := db.Insert(ctx, "impactflow.events", eventColumns, rows); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	return nil
}

// WriteDimensions replaces the tenants and programs dimension tables' rows.
func (db *DB) WriteDimensions(ctx context.Context, tenants []TenantDim, programs []ProgramDim, now time.Time) error {
	version := uint64(now.UnixMicro())
	trows := make([][]any, len(tenants))
	for i, t := range tenants {
		trows[i] = []any{t.ID, t.Name, t.Industry, t.Region, t.SizeBand, version}
	}
	if err := db.Insert(ctx, "impactflow.tenants", []string{"tenant_id", "name", "industry", "region", "size_band", "version"}, trows); err != nil {
		return fmt.Errorf("write tenants: %w", err)
	}
	prows := make([][]any, len(programs))
	for i, p := range programs {
		prows[i] = []any{p.TenantID, uint64(p.ID), p.Code, p.Name, version}
	}
	if err := db.Insert(ctx, "impactflow.programs", []string{"tenant_id", "program_id", "code", "name", "version"}, prows); err != nil {
		return fmt.Errorf("write programs: %w", err)
	}
	return nil
}

const watermarkID = "events"

// Watermark returns the position the incremental sync has reached; zero when it never ran.
func (db *DB) Watermark(ctx context.Context) (Cursor, error) {
	var c Cursor
	var at string
	err := db.Query(ctx, `SELECT toString(updated_at), tenant_id, event_id FROM impactflow.sync_state FINAL WHERE id = `+quote(watermarkID),
		func(scan scanFunc) error { return scan(&at, &c.TenantID, &c.EventID) })
	if err != nil {
		return Cursor{}, fmt.Errorf("read watermark: %w", err)
	}
	if at != "" {
		if c.UpdatedAt, err = time.Parse("2006-01-02 15:04:05.999999", at); err != nil {
			return Cursor{}, fmt.Errorf("read watermark: %w", err)
		}
	}
	return c, nil
}

// SetWatermark records the incremental sync's position. Two runs writing at once keep the
// larger watermark (the version is its time), so the watermark never goes back.
func (db *DB) SetWatermark(ctx context.Context, c Cursor) error {
	return db.Insert(ctx, "impactflow.sync_state", []string{"id", "updated_at", "tenant_id", "event_id", "version"},
		[][]any{{watermarkID, c.UpdatedAt.UTC(), c.TenantID, c.EventID, uint64(c.UpdatedAt.UnixMicro())}})
}

// viewPhases are the materialized views the sync refreshes after writing, in order: the
// participant numbers (new participants appended), the deduplicated live events carrying
// them, the aggregates computed from the live events (daily trends, funnel entries), those
// merged from the daily trends (weekly, monthly, daily cohort figures), then those merged
// from them (peer figures from the monthly trends, monthly cohort figures).
var viewPhases = [][]string{
	{"mv_participant_numbers"},
	{"mv_events_live"},
	{"mv_trend_daily", "mv_funnel_walk"},
	{"mv_trend_weekly", "mv_trend_monthly", "mv_cohort_daily"},
	{"mv_peer_industry", "mv_peer_region", "mv_peer_size_band", "mv_cohort_monthly"},
}

// refreshPoll is how often RefreshViews looks at the refreshes' progress.
const refreshPoll = 50 * time.Millisecond

// RefreshViews recomputes the live events from the deduplicated events, then the
// aggregate views from them, and waits until each has swapped in its new contents. The
// refreshes run in ClickHouse's background pool; SYSTEM WAIT VIEW would hold chDB's one
// connection (and every API query behind it) for the whole refresh, so the wait is short
// status reads until nothing is running, and WAIT only confirms, returning at once unless a
// refresh had not yet started. waiting, when not nil, is called once a phase's refreshes
// are started and at every status read: a caller that must show it is alive (an activity's
// heartbeat) does it there, since a refresh over millions of events takes minutes.
func (db *DB) RefreshViews(ctx context.Context, waiting func()) error {
	for _, views := range viewPhases {
		if err := db.refresh(ctx, views, waiting); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) refresh(ctx context.Context, views []string, waiting func()) error {
	for _, v := range views {
		if err := db.Exec(ctx, "SYSTEM REFRESH VIEW impactflow."+v); err != nil {
			return fmt.Errorf("refresh %s: %w", v, err)
		}
	}
	for {
		if waiting != nil {
			waiting()
		}
		var running uint64
		err := db.Query(ctx, "SELECT toUInt64(countIf(status NOT IN ('Scheduled', 'Disabled'))) FROM system.view_refreshes WHERE database = 'impactflow'",
			func(scan scanFunc) error { return scan(&running) })
		if err != nil {
			return fmt.Errorf("refresh status: %w", err)
		}
		if running == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(refreshPoll):
		}
	}
	for _, v := range views {
		if err := db.Exec(ctx, "SYSTEM WAIT VIEW impactflow."+v); err != nil {
			return fmt.Errorf("wait for %s: %w", v, err)
		}
	}
	return nil
}

// Run is what one sync run did.
type Run struct {
	RunID      string    `json:"run_id"`
	Mode       string    `json:"mode"`
	TenantID   string    `json:"tenant_id,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Rows       int64     `json:"rows"`
	Upserts    int64     `json:"upserts"`
	Deletes    int64     `json:"deletes"`
}

// RecordRun stores a finished run.
func (db *DB) RecordRun(ctx context.Context, r Run) error {
	return db.Insert(ctx, "impactflow.sync_runs",
		[]string{"run_id", "mode", "tenant_id", "started_at", "finished_at", "rows", "upserts", "deletes"},
		[][]any{{r.RunID, r.Mode, r.TenantID, r.StartedAt.UTC(), r.FinishedAt.UTC(), uint64(r.Rows), uint64(r.Upserts), uint64(r.Deletes)}})
}

// LastRun returns the newest finished run, and false when none has finished.
func (db *DB) LastRun(ctx context.Context) (Run, bool, error) {
	var r Run
	var started, finished string
	var rows, ups, dels uint64
	found := false
	err := db.Query(ctx, `SELECT run_id, mode, tenant_id, toString(started_at), toString(finished_at), rows, upserts, deletes
		FROM impactflow.sync_runs ORDER BY finished_at DESC LIMIT 1`, func(scan scanFunc) error {
		found = true
		return scan(&r.RunID, &r.Mode, &r.TenantID, &started, &finished, &rows, &ups, &dels)
	})
	if err != nil || !found {
		return Run{}, false, err
	}
	r.StartedAt, _ = time.Parse("2006-01-02 15:04:05.999999", started)
	r.FinishedAt, _ = time.Parse("2006-01-02 15:04:05.999999", finished)
	r.Rows, r.Upserts, r.Deletes = int64(rows), int64(ups), int64(dels)
	return r, true, nil
}

// Reset empties every analytics table (the watermark included): the next sync copies
// everything again.
func (db *DB) Reset(ctx context.Context) error {
	for _, t := range []string{"events", "tenants", "programs", "sync_state", "sync_runs", "participant_numbers",
		"trend_daily", "trend_weekly", "trend_monthly", "peer_industry", "peer_region", "peer_size_band", "events_live", "cohort_daily", "cohort_monthly", "funnel_entries"} {
		if err := db.Exec(ctx, "TRUNCATE TABLE IF EXISTS impactflow."+t); err != nil {
			return fmt.Errorf("reset %s: %w", t, err)
		}
	}
	return nil
}

func inList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = quote(v)
	}
	return "(" + strings.Join(q, ", ") + ")"
}
