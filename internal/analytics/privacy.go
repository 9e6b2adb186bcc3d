package analytics

import (
	"context"
	"encoding/json"
	"fmt"
)

// participantTables are the tables that hold a participant's ID, each row one of theirs:
// the copied events, the live events derived from them and the participant numbers the
// aggregates count with. The aggregates themselves (trends, cohorts, peers, funnels) hold
// counts and bitmaps of those numbers, recomputed from the live events by RefreshViews.
var participantTables = []string{"events", "events_live", "participant_numbers"}

// ParticipantRows returns the participant's rows of each table that holds them, each row
// as a JSON object, for an export.
func (db *DB) ParticipantRows(ctx context.Context, tenantID, participantID string) (map[string][]json.RawMessage, error) {
	where := " WHERE tenant_id = " + quote(tenantID) + " AND participant_id = " + quote(participantID)
	selects := map[string]string{
		"events": "SELECT formatRowNoNewline('JSONEachRow', event_id, program_id, participant_id, kind, occurred_at, value, location, cohort, attributes, updated_at) FROM impactflow.events FINAL" +
			where + " AND deleted = 0 ORDER BY occurred_at, event_id",
		"participant_numbers": "SELECT formatRowNoNewline('JSONEachRow', participant_id, pn) FROM impactflow.participant_numbers" + where,
	}
	out := map[string][]json.RawMessage{}
	for table, sql := range selects {
		rows := []json.RawMessage{}
		err := db.Query(ctx, sql, func(scan scanFunc) error {
			var row string
			if err := scan(&row); err != nil {
				return err
			}
			rows = append(rows, json.RawMessage(row))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", table, err)
		}
		out[table] = rows
	}
	return out, nil
}

// ParticipantErasure is what EraseParticipant did: rows deleted per table and the views
// refreshed after.
type ParticipantErasure struct {
	Rows      map[string]int64 `json:"rows"`
	Refreshed []string         `json:"refreshed_views"`
}

// EraseParticipant deletes the participant's rows from every table that holds their ID
// (synchronous mutations, which rewrite the parts rather than mask rows) and, when there
// were any, refreshes every materialized view so that the aggregates derived from them
// are recomputed without them. waiting is passed to RefreshViews.
//
// The Postgres rows must be gone first: the sync would copy them back otherwise. The
// tombstones their deletion leaves carry no participant ID.
func (db *DB) EraseParticipant(ctx context.Context, tenantID, participantID string, waiting func()) (ParticipantErasure, error) {
	res := ParticipantErasure{Rows: map[string]int64{}, Refreshed: []string{}}
	where := " WHERE tenant_id = " + quote(tenantID) + " AND participant_id = " + quote(participantID)
	var total int64
	for _, t := range participantTables {
		var n uint64
		err := db.Query(ctx, "SELECT count() FROM impactflow."+t+where, func(scan scanFunc) error { return scan(&n) })
		if err != nil {
			return res, fmt.Errorf("count %s: %w", t, err)
		}
		if n == 0 {
			continue
		}
		if err := db.Exec(ctx, "ALTER TABLE impactflow."+t+" DELETE"+where+" SETTINGS mutations_sync = 2"); err != nil {
			return res, fmt.Errorf("delete from %s: %w", t, err)
		}
		res.Rows[t] = int64(n)
		total += int64(n)
	}
	if total == 0 {
		return res, nil
	}
	if err := db.RefreshViews(ctx, waiting); err != nil {
		return res, err
	}
	for _, phase := range viewPhases {
		res.Refreshed = append(res.Refreshed, phase...)
	}
	return res, nil
}

// Total is the rows deleted, over every table.
func (e ParticipantErasure) Total() int64 {
	var n int64
	for _, v := range e.Rows {
		n += v
	}
	return n
}

// TablesHolding counts, per table of the impactflow database, the rows whose text (every
// column, cast to a string) holds s, ignoring case: how an erasure is checked.
func (db *DB) TablesHolding(ctx context.Context, s string) (map[string]uint64, error) {
	tables, err := db.dataTables(ctx, "")
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, table := range tables {
		var n uint64
		err := db.Query(ctx, "SELECT count() FROM impactflow."+table+" WHERE positionCaseInsensitive(toString(tuple(*)), "+quote(s)+") > 0",
			func(scan scanFunc) error { return scan(&n) })
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		if n > 0 {
			out[table] = n
		}
	}
	return out, nil
}

// dataTables lists the tables of the impactflow database that hold rows (not views), those
// with a column of that name when column is set, in name order.
func (db *DB) dataTables(ctx context.Context, column string) ([]string, error) {
	query := `SELECT name FROM system.tables WHERE database = 'impactflow' AND engine NOT IN ('MaterializedView', 'View')`
	if column != "" {
		query += ` AND name IN (SELECT table FROM system.columns WHERE database = 'impactflow' AND name = ` + quote(column) + `)`
	}
	var tables []string
	err := db.Query(ctx, query+` ORDER BY name`, func(scan scanFunc) error {
		var name string
		if err := scan(&name); err != nil {
			return err
		}
		tables = append(tables, name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return tables, nil
}
