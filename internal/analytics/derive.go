package analytics

import (
	"context"
	"fmt"
	"time"
)

// The derived tables (migrations/clickhouse: events_live, live_keys, the aggregates,
// participant_ids, the cohort figures, funnel_steps and funnel_entries) are brought up to date with
// events after every sync by UpdateDerived, either by appending the figures of the new
// events or by rebuilding them whole.
//
// Measured before this (each refreshable view refreshed alone after loading 5,000,000 synthetic
// events of 4 tenants, chDB on 2 shared cores): rebuilding everything took 46 s, of which
// cohort_daily 17 s, agg_daily 8 s, events_live 6 s, agg_monthly 5.5 s, agg_weekly and the
// bench tables 3-5 s each, funnel_entries 2 s, cohort_monthly 0.7 s; a sync of 5,000 new
// events paid all of it. Partitioning by month and rebuilding the touched months would not
// help the usual sync: new events arrive for every month of the year (the benchmark's writer
// spreads them over the tenant's whole window), so every partition would be touched.
// Appending is proportional to the new events wherever they fall.
// After (BenchmarkDerived, same data, load 3-6): appending 5,000 new events takes 1.1 s, a
// full rebuild 34 s, and the process peaks at 831 MB resident (1.43 GB before).

// maxIncremental is the most changed events an update appends; more (a first sync, a
// backfill into an empty store) are cheaper to rebuild from events in one pass than to
// collect in derive_delta, which is held in memory. A variable for tests.
var maxIncremental uint64 = 500_000

const (
	// changesOverlap is how far before its mark an update reads events_changes again on a
	// ClickHouse server, which may commit a concurrent insert after a later one (chDB runs
	// one statement at a time); reading a change twice is harmless (its version is then in
	// live_keys and it is skipped).
	changesOverlap = time.Minute
	// maxMarkAge is the oldest mark an update trusts events_changes after: it keeps a day.
	maxMarkAge = 12 * time.Hour
)

// funnelKinds are the steps of the default funnel that funnel_entries walks.
const funnelKinds = "('signup', 'session_started', 'session_completed', 'outcome_measured')"

// liveColumns are events_live's columns.
const liveColumns = "tenant_id, kind, occurred_at, participant_id, program_id, location, cohort, value"

// aggSelect aggregates the live events of src by tenant, program, kind and period, with the
// rows whose kind is empty, over every kind.
func aggSelect(period, src string) string {
	return `SELECT tenant_id, program_id, kind, ` + period + ` AS period,
       count() AS events, sum(value) AS value_sum, uniqExactState(participant_id) AS participants
FROM ` + src + `
GROUP BY GROUPING SETS ((tenant_id, program_id, kind, period), (tenant_id, program_id, period))`
}

// benchSelect aggregates the live events of src by month under each tenant's peer group
// (industry, region or size band).
func benchSelect(group, src string) string {
	return `SELECT t.` + group + ` AS peer_group, e.tenant_id AS tenant_id, e.kind AS kind, toStartOfMonth(e.occurred_at) AS period,
       count() AS events, sum(e.value) AS value_sum, uniqExactState(e.participant_id) AS participants
FROM ` + src + ` AS e
INNER JOIN (SELECT tenant_id, ` + group + ` FROM impactflow.tenants FINAL) AS t ON t.tenant_id = e.tenant_id
GROUP BY GROUPING SETS ((peer_group, tenant_id, kind, period), (peer_group, tenant_id, period))`
}

// cohortSelect computes cohort_daily's rows (day is toDate) or cohort_monthly's
// (toStartOfMonth) from the live events of src, numbering participants with ids.
// Two passes of GROUPING SETS: the figures by kind, without participants (no metric counts
// one kind's participants, and Cohorts reads events_live for one that would), then the
// rows whose kind is empty, with the participants, which alone need the numbering join;
// one pass of all seven sets with bitmaps took 33 s to rebuild 10,000,000 events. grouping(c) is 0 in the
// sets that group by c (the SQL standard's meaning, ClickHouse's default). The last set,
// dimension 'all' (an empty value), holds every participant of the tenant, whether or not
// programs knows their event's program: Benchmarks counts a tenant's participants from its
// monthly rows.
func cohortSelect(day, src, ids string) string {
	programs := `LEFT JOIN (SELECT tenant_id, program_id, code, toUInt8(1) AS known FROM impactflow.programs FINAL) AS p
        ON p.tenant_id = e.tenant_id AND p.program_id = e.program_id`
	return `SELECT tenant_id, dimension, value, kind, day, events, value_sum, participants
FROM (
    SELECT e.tenant_id AS tenant_id,
           multiIf(grouping(p.code) = 0, 'program', grouping(e.location) = 0, 'location', 'cohort') AS dimension,
           multiIf(grouping(p.code) = 0, p.code, grouping(e.location) = 0, e.location, e.cohort) AS value,
           e.kind AS kind, ` + day + `(e.occurred_at) AS day, p.known AS known,
           count() AS events, sum(e.value) AS value_sum, groupBitmapStateIf(toUInt32(0), 0) AS participants
    FROM ` + src + ` AS e
    ` + programs + `
    GROUP BY GROUPING SETS ((e.tenant_id, known, p.code, e.kind, day), (e.tenant_id, known, e.location, e.kind, day),
                            (e.tenant_id, known, e.cohort, e.kind, day))
    UNION ALL
    SELECT e.tenant_id AS tenant_id,
           multiIf(grouping(p.code) = 0, 'program', grouping(e.location) = 0, 'location', grouping(e.cohort) = 0, 'cohort', 'all') AS dimension,
           multiIf(grouping(p.code) = 0, p.code, grouping(e.location) = 0, e.location, grouping(e.cohort) = 0, e.cohort, '') AS value,
           '' AS kind, ` + day + `(e.occurred_at) AS day, p.known AS known,
           count() AS events, sum(e.value) AS value_sum, groupBitmapState(ids.n) AS participants
    FROM ` + src + ` AS e
    ` + programs + `
    INNER JOIN ` + ids + ` AS ids ON ids.tenant_id = e.tenant_id AND ids.participant_id = e.participant_id
    GROUP BY GROUPING SETS ((e.tenant_id, known, p.code, day), (e.tenant_id, known, e.location, day),
                            (e.tenant_id, known, e.cohort, day), (e.tenant_id, day))
)
WHERE dimension = 'all' OR known = 1`
}

// funnelSelect walks the default funnel from every signup of the live events of src
// (restricted by where, a condition on tenant_id and participant_id, or "1").
func funnelSelect(src, where string) string {
	return `SELECT tenant_id, participant_id, entry_at, previous, t2, t3, t4
FROM (
    SELECT tenant_id, participant_id, fromUnixTimestamp64Micro(e, 'UTC') AS entry_at, previous,
           arrayFirstIndex(x -> x >= e, s2) AS i2, if(i2 = 0, toInt64(9223372036854775807), s2[i2]) AS t2,
           arrayFirstIndex(x -> x >= t2, s3) AS i3, if(i3 = 0, toInt64(9223372036854775807), s3[i3]) AS t3,
           arrayFirstIndex(x -> x >= t3, s4) AS i4, if(i4 = 0, toInt64(9223372036854775807), s4[i4]) AS t4
    FROM (
        SELECT tenant_id, participant_id,
               arraySort(groupArrayIf(toUnixTimestamp64Micro(occurred_at), kind = 'signup')) AS s1,
               arraySort(groupArrayIf(toUnixTimestamp64Micro(occurred_at), kind = 'session_started')) AS s2,
               arraySort(groupArrayIf(toUnixTimestamp64Micro(occurred_at), kind = 'session_completed')) AS s3,
               arraySort(groupArrayIf(toUnixTimestamp64Micro(occurred_at), kind = 'outcome_measured')) AS s4
        FROM ` + src + `
        WHERE kind IN ` + funnelKinds + ` AND ` + where + `
        GROUP BY tenant_id, participant_id
        HAVING notEmpty(s1)
    )
    ARRAY JOIN s1 AS e, arrayPushFront(arrayPopBack(s1), toInt64(-9223372036854775807)) AS previous
)`
}

// numberSelect numbers the distinct participants of src that ids does not hold after
// offset (an expression), in (tenant, participant) order.
func numberSelect(src, offset string) string {
	return `SELECT tenant_id, participant_id, toUInt32(` + offset + ` + rowNumberInAllBlocks() + 1) AS n
FROM (SELECT DISTINCT tenant_id, participant_id FROM ` + src + ` ORDER BY tenant_id, participant_id)`
}

// rebuildSteps build each derived table from events in a new table beside it (name_next),
// in order: each reads the new tables of the steps before it. A step with a chunk
// expression (of events_live's columns) runs once for each of its values, over the live
// events with that value (src): a table's groups never span two chunks (they are within a
// month, or one participant's), so each chunk writes distinct rows, and memory holds one
// chunk's groups at a time. Built in one statement, agg_daily's 5,000,000 events needed
// 1.1 GB, over the chDB memory limit (chdbServerArgs); see chunkRows.
var rebuildSteps = []struct {
	table  string
	chunk  string
	insert func(src string) string
}{
	{"events_live", "", func(string) string { return "SELECT " + liveColumns + " FROM impactflow.events FINAL" }},
	{"live_keys", "", func(string) string { return "SELECT tenant_id, event_id, version FROM impactflow.events FINAL" }},
	{"agg_daily", byMonth, func(src string) string { return aggSelect("toDate(occurred_at)", src) }},
	{"agg_weekly", "toYYYYMM(toMonday(occurred_at))", func(src string) string { return aggSelect("toMonday(occurred_at)", src) }},
	{"agg_monthly", byMonth, func(src string) string { return aggSelect("toStartOfMonth(occurred_at)", src) }},
	{"bench_industry", byMonth, func(src string) string { return benchSelect("industry", src) }},
	{"bench_region", byMonth, func(src string) string { return benchSelect("region", src) }},
	{"bench_size_band", byMonth, func(src string) string { return benchSelect("size_band", src) }},
	{"participant_ids", "", func(string) string { return numberSelect("impactflow.events_live_next", "0") }},
	{"cohort_daily", byMonth, func(src string) string {
		return cohortSelect("toDate", src, "impactflow.participant_ids_next")
	}},
	{"cohort_monthly", "toYYYYMM(day)", func(src string) string {
		return `SELECT tenant_id, dimension, value, kind, toStartOfMonth(day) AS day,
       sum(events) AS events, sum(value_sum) AS value_sum, groupBitmapMergeState(participants) AS participants
FROM ` + src + ` GROUP BY tenant_id, dimension, value, kind, day`
	}},
	{"funnel_steps", "", func(string) string {
		return "SELECT tenant_id, participant_id, kind, occurred_at FROM impactflow.events_live_next WHERE kind IN " + funnelKinds
	}},
	{"funnel_entries", "cityHash64(participant_id) % 8", func(src string) string { return funnelSelect(src, "1") }},
}

// byMonth chunks a rebuild by the month of the events.
const byMonth = "toYYYYMM(occurred_at)"

// deriveState is derive_state's one row.
type deriveState struct {
	found      bool
	mark       time.Time
	full       bool
	dimensions uint64
}

const deriveStateID = "derived"

func (db *DB) readDeriveState(ctx context.Context) (deriveState, error) {
	var s deriveState
	var mark string
	var full uint64
	err := db.Query(ctx, "SELECT toString(mark), toUInt64(full), dimensions FROM impactflow.derive_state FINAL WHERE id = "+quote(deriveStateID),
		func(scan scanFunc) error {
			s.found = true
			return scan(&mark, &full, &s.dimensions)
		})
	if err != nil {
		return deriveState{}, fmt.Errorf("read derive state: %w", err)
	}
	if s.found {
		if s.mark, err = time.Parse("2006-01-02 15:04:05.999999", mark); err != nil {
			return deriveState{}, fmt.Errorf("read derive state: %w", err)
		}
		s.full = full != 0
	}
	return s, nil
}

func (db *DB) writeDeriveState(ctx context.Context, s deriveState) error {
	if s.mark.IsZero() {
		s.mark = time.Unix(0, 0)
	}
	var full uint8
	if s.full {
		full = 1
	}
	err := db.Insert(ctx, "impactflow.derive_state", []string{"id", "mark", "full", "dimensions", "version"},
		[][]any{{deriveStateID, s.mark.UTC(), full, s.dimensions, uint64(time.Now().UnixNano())}})
	if err != nil {
		return fmt.Errorf("write derive state: %w", err)
	}
	return nil
}

// dimensionsFingerprint sums a hash of every tenant's peer groups and program's code: the
// dimensions the derived tables join. A change makes a full rebuild.
func (db *DB) dimensionsFingerprint(ctx context.Context) (uint64, error) {
	var fp uint64
	err := db.Query(ctx, `SELECT (SELECT sum(cityHash64(tenant_id, industry, region, size_band)) FROM impactflow.tenants FINAL)
		+ (SELECT sum(cityHash64(tenant_id, program_id, code)) FROM impactflow.programs FINAL)`,
		func(scan scanFunc) error { return scan(&fp) })
	if err != nil {
		return 0, fmt.Errorf("dimensions fingerprint: %w", err)
	}
	return fp, nil
}

// lastChange is the newest seen_at of events_changes (zero when it is empty).
func (db *DB) lastChange(ctx context.Context) (time.Time, error) {
	var at string
	err := db.Query(ctx, "SELECT toString(max(seen_at)) FROM impactflow.events_changes", func(scan scanFunc) error { return scan(&at) })
	if err != nil {
		return time.Time{}, fmt.Errorf("read changes: %w", err)
	}
	t, err := time.Parse("2006-01-02 15:04:05.999999", at)
	if err != nil {
		return time.Time{}, fmt.Errorf("read changes: %w", err)
	}
	return t, nil
}

// UpdateDerived brings the derived tables up to date with events: it appends the figures
// of the events new since the last update, or rebuilds every table when an event they
// already count was updated or deleted, the dimensions changed, or there is too much to
// append (see maxIncremental). Rows written again with the version already counted change
// nothing. Updates run one at a time.
func (db *DB) UpdateDerived(ctx context.Context) error {
	_, err := db.updateDerived(ctx)
	return err
}

// How updateDerived brought the derived tables up to date.
const (
	derivedUnchanged = "unchanged"
	derivedAppended  = "appended"
	derivedRebuilt   = "rebuilt"
)

func (db *DB) updateDerived(ctx context.Context) (string, error) {
	db.deriveMu.Lock()
	defer db.deriveMu.Unlock()
	state, err := db.readDeriveState(ctx)
	if err != nil {
		return "", err
	}
	dims, err := db.dimensionsFingerprint(ctx)
	if err != nil {
		return "", err
	}
	if !state.found || state.full || state.dimensions != dims || time.Since(state.mark) > maxMarkAge {
		return derivedRebuilt, db.rebuild(ctx, dims)
	}
	from := timeLit(state.mark)
	if db.server != nil {
		from = timeLit(state.mark.Add(-changesOverlap))
	}
	changed := "(SELECT tenant_id, event_id FROM impactflow.events_changes WHERE seen_at > " + from + ")"
	var changes uint64
	var last, now string
	err = db.Query(ctx, "SELECT toUInt64(count()), toString(max(seen_at)), toString(now64(6, 'UTC')) FROM impactflow.events_changes WHERE seen_at > "+from,
		func(scan scanFunc) error { return scan(&changes, &last, &now) })
	if err != nil {
		return "", fmt.Errorf("read changes: %w", err)
	}
	if changes == 0 {
		// Nothing new: move the mark on (by ClickHouse's clock, which stamps seen_at), or
		// an idle store would soon have one too old to trust and rebuild at every sync.
		t, err := time.Parse("2006-01-02 15:04:05.999999", now)
		if err != nil {
			return "", fmt.Errorf("read changes: %w", err)
		}
		if t = t.Add(-changesOverlap); t.After(state.mark) {
			state.mark = t
			return derivedUnchanged, db.writeDeriveState(ctx, state)
		}
		return derivedUnchanged, nil
	}
	mark, err := time.Parse("2006-01-02 15:04:05.999999", last)
	if err != nil {
		return "", fmt.Errorf("read changes: %w", err)
	}
	if changes > maxIncremental {
		// Too many to append; often a backfill that wrote again what the tables hold
		// already, which needs nothing.
		same, err := db.liveKeysMatch(ctx)
		if err != nil {
			return "", err
		}
		if !same {
			return derivedRebuilt, db.rebuild(ctx, dims)
		}
		state.mark, state.full = mark, false
		return derivedUnchanged, db.writeDeriveState(ctx, state)
	}
	// An event live_keys holds at another version than events' newest, or that events no
	// longer has (deleted), was updated or deleted; one live_keys does not hold is new.
	var modified, added uint64
	err = db.Query(ctx, `SELECT toUInt64(countIf(k.version != 0 AND k.version != e.version)), toUInt64(countIf(k.version = 0 AND e.version != 0))
		FROM (SELECT DISTINCT tenant_id, event_id FROM `+changed+`) AS c
		LEFT JOIN (SELECT tenant_id, event_id, version FROM impactflow.events FINAL WHERE (tenant_id, event_id) IN `+changed+`) AS e
			ON e.tenant_id = c.tenant_id AND e.event_id = c.event_id
		LEFT JOIN (SELECT tenant_id, event_id, version FROM impactflow.live_keys WHERE (tenant_id, event_id) IN `+changed+`) AS k
			ON k.tenant_id = c.tenant_id AND k.event_id = c.event_id
		SETTINGS join_use_nulls = 0`,
		func(scan scanFunc) error { return scan(&modified, &added) })
	if err != nil {
		return "", fmt.Errorf("classify changes: %w", err)
	}
	if modified > 0 {
		return derivedRebuilt, db.rebuild(ctx, dims)
	}
	how := derivedUnchanged
	if added > 0 {
		if err := db.appendNew(ctx, state, changed); err != nil {
			return "", err
		}
		how = derivedAppended
	}
	state.mark, state.full = mark, false
	return how, db.writeDeriveState(ctx, state)
}

// liveKeysMatch reports whether live_keys holds exactly the newest version of every live
// event, that is whether the derived tables are up to date whatever events_changes says.
// Both sides are read in (tenant, event) order and merged, which keeps memory flat; the
// first difference ends the scan.
func (db *DB) liveKeysMatch(ctx context.Context) (bool, error) {
	var diffs uint64
	err := db.Query(ctx, `SELECT toUInt64(count()) FROM (
			SELECT 1 FROM (SELECT tenant_id, event_id, version FROM impactflow.events FINAL) AS e
			FULL OUTER JOIN impactflow.live_keys AS k ON k.tenant_id = e.tenant_id AND k.event_id = e.event_id
			WHERE e.version != k.version
			LIMIT 1
		) SETTINGS join_algorithm = 'full_sorting_merge', join_use_nulls = 0`,
		func(scan scanFunc) error { return scan(&diffs) })
	if err != nil {
		return false, fmt.Errorf("compare live keys: %w", err)
	}
	return diffs == 0, nil
}

// appendNew appends the figures of the changed events live_keys does not hold. The state
// says full while it runs: an update that dies half-way leaves tables that count some of
// the events, and the next update rebuilds them rather than append the events again.
// live_keys is written last, after every figure.
func (db *DB) appendNew(ctx context.Context, state deriveState, changed string) error {
	state.full = true
	if err := db.writeDeriveState(ctx, state); err != nil {
		return err
	}
	const delta = "impactflow.derive_delta"
	stmts := []string{
		"TRUNCATE TABLE " + delta,
		"INSERT INTO " + delta + " SELECT " + liveColumns + ", event_id, version FROM impactflow.events FINAL" +
			" WHERE (tenant_id, event_id) IN " + changed +
			" AND (tenant_id, event_id) NOT IN (SELECT tenant_id, event_id FROM impactflow.live_keys WHERE (tenant_id, event_id) IN " + changed + ")",
		"INSERT INTO impactflow.participant_ids " + numberSelect(
			"(SELECT tenant_id, participant_id FROM "+delta+" WHERE (tenant_id, participant_id) NOT IN"+
				" (SELECT tenant_id, participant_id FROM impactflow.participant_ids WHERE (tenant_id, participant_id) IN (SELECT tenant_id, participant_id FROM "+delta+")))",
			"(SELECT max(n) FROM impactflow.participant_ids)"),
		"INSERT INTO impactflow.events_live (" + liveColumns + ") SELECT " + liveColumns + " FROM " + delta,
		"INSERT INTO impactflow.agg_daily " + aggSelect("toDate(occurred_at)", delta),
		"INSERT INTO impactflow.agg_weekly " + aggSelect("toMonday(occurred_at)", delta),
		"INSERT INTO impactflow.agg_monthly " + aggSelect("toStartOfMonth(occurred_at)", delta),
		"INSERT INTO impactflow.bench_industry " + benchSelect("industry", delta),
		"INSERT INTO impactflow.bench_region " + benchSelect("region", delta),
		"INSERT INTO impactflow.bench_size_band " + benchSelect("size_band", delta),
		"INSERT INTO impactflow.cohort_daily " + cohortSelect("toDate", delta, "impactflow.participant_ids"),
		"INSERT INTO impactflow.cohort_monthly " + cohortSelect("toStartOfMonth", delta, "impactflow.participant_ids"),
		"INSERT INTO impactflow.funnel_steps SELECT tenant_id, participant_id, kind, occurred_at FROM " + delta + " WHERE kind IN " + funnelKinds,
	}
	for _, s := range stmts {
		if err := db.Exec(ctx, s); err != nil {
			return fmt.Errorf("append derived: %w", err)
		}
	}
	// funnel_entries: the participants with new step events get their rows recomputed from
	// all their live step events (funnel_steps, by participant); everyone else's rows are
	// copied (the table has one row per signup, a twentieth of the events).
	var steps uint64
	if err := db.Query(ctx, "SELECT toUInt64(count()) FROM "+delta+" WHERE kind IN "+funnelKinds,
		func(scan scanFunc) error { return scan(&steps) }); err != nil {
		return fmt.Errorf("append derived: %w", err)
	}
	if steps > 0 {
		touched := "(tenant_id, participant_id) IN (SELECT DISTINCT tenant_id, participant_id FROM " + delta + " WHERE kind IN " + funnelKinds + ")"
		if err := db.replaceTable(ctx, "funnel_entries", "SELECT tenant_id, participant_id, entry_at, previous, t2, t3, t4 FROM impactflow.funnel_entries WHERE NOT "+touched+
			" UNION ALL "+funnelSelect("impactflow.funnel_steps", touched)); err != nil {
			return err
		}
	}
	for _, s := range []string{
		"INSERT INTO impactflow.live_keys SELECT tenant_id, event_id, version FROM " + delta,
		"TRUNCATE TABLE " + delta,
	} {
		if err := db.Exec(ctx, s); err != nil {
			return fmt.Errorf("append derived: %w", err)
		}
	}
	return nil
}

// replaceTable builds a table's new contents beside it and swaps them in.
func (db *DB) replaceTable(ctx context.Context, table, sel string) error {
	if err := db.buildNext(ctx, table, sel); err != nil {
		return err
	}
	return db.swapNext(ctx, table)
}

// buildNext makes an empty table_next like table and, unless sel is empty, fills it.
func (db *DB) buildNext(ctx context.Context, table, sel string) error {
	t, next := "impactflow."+table, "impactflow."+table+"_next"
	stmts := []string{"DROP TABLE IF EXISTS " + next, "CREATE TABLE " + next + " AS " + t}
	if sel != "" {
		stmts = append(stmts, "INSERT INTO "+next+" "+sel)
	}
	for _, s := range stmts {
		if err := db.Exec(ctx, s); err != nil {
			return fmt.Errorf("rebuild %s: %w", table, err)
		}
	}
	return nil
}

func (db *DB) swapNext(ctx context.Context, table string) error {
	t, next := "impactflow."+table, "impactflow."+table+"_next"
	for _, s := range []string{"EXCHANGE TABLES " + t + " AND " + next, "DROP TABLE " + next} {
		if err := db.Exec(ctx, s); err != nil {
			return fmt.Errorf("rebuild %s: %w", table, err)
		}
	}
	return nil
}

// rebuild builds every derived table anew from events and swaps them in, table by table
// once all are built. The mark is taken first: a change written during the rebuild may or
// may not be in it, and the next update looks at it again.
func (db *DB) rebuild(ctx context.Context, dims uint64) error {
	mark, err := db.lastChange(ctx)
	if err != nil {
		return err
	}
	if mark.IsZero() || mark.Unix() <= 0 {
		mark = time.Now()
	}
	state := deriveState{mark: mark, full: true, dimensions: dims}
	if err := db.writeDeriveState(ctx, state); err != nil {
		return err
	}
	for _, s := range rebuildSteps {
		if err := db.buildNext(ctx, s.table, ""); err != nil {
			return err
		}
		var chunks []string
		if s.chunk == "" {
			chunks = []string{""}
		} else if chunks, err = db.chunks(ctx, s.chunk, chunkSource(s.table)); err != nil {
			return err
		}
		for _, c := range chunks {
			src := chunkSource(s.table)
			if c != "" {
				src = "(SELECT * FROM " + src + " WHERE " + s.chunk + " BETWEEN " + c + ")"
			}
			if err := db.Exec(ctx, "INSERT INTO impactflow."+s.table+"_next "+s.insert(src)); err != nil {
				return fmt.Errorf("rebuild %s: %w", s.table, err)
			}
		}
		// One part per chunk made every query read and merge several: at 10,000,000
		// events BenchmarkQueries' p50s were 1.4-2.3x those over one part (trends 14.8
		// against 7.3 ms, funnels 13.4 against 6.1 ms). These tables are small.
		if len(chunks) > 1 {
			if err := db.Exec(ctx, "OPTIMIZE TABLE impactflow."+s.table+"_next FINAL"); err != nil {
				return fmt.Errorf("rebuild %s: %w", s.table, err)
			}
		}
	}
	for _, s := range rebuildSteps {
		if err := db.swapNext(ctx, s.table); err != nil {
			return err
		}
	}
	state.full = false
	if err := db.writeDeriveState(ctx, state); err != nil {
		return err
	}
	// The rebuild's aggregation memory stays with the process's allocator unless given
	// back: after a 5,000,000-event rebuild chDB held 280 MB anonymous memory, 132 MB after
	// the purge.
	if db.chdb != nil {
		if err := db.Exec(ctx, "SYSTEM JEMALLOC PURGE"); err != nil {
			return fmt.Errorf("rebuild: release memory: %w", err)
		}
	}
	return nil
}

// chunkSource is what a rebuild step reads.
func chunkSource(table string) string {
	switch table {
	case "cohort_monthly":
		return "impactflow.cohort_daily_next"
	case "funnel_entries":
		return "impactflow.funnel_steps_next"
	}
	return "impactflow.events_live_next"
}

// chunkRows is about the most rows a rebuild step aggregates in one statement. Chunks
// cost: at 1,000,000 events, a rebuild a month at a time took 13-14 s, in one statement
// 7.3 s (BenchmarkDerived, 2 shared cores); at 5,000,000 events one statement went over
// the memory limit.
const chunkRows = 1_500_000

// chunks splits the values of expr over src into ranges ("lo AND hi") of consecutive
// values holding about chunkRows rows each.
func (db *DB) chunks(ctx context.Context, expr, src string) ([]string, error) {
	var out []string
	var lo, hi string
	var rows uint64
	flush := func() {
		if rows > 0 {
			out = append(out, lo+" AND "+hi)
		}
		rows = 0
	}
	err := db.Query(ctx, "SELECT toString(c), toUInt64(count()) FROM "+src+" GROUP BY "+expr+" AS c ORDER BY c", func(scan scanFunc) error {
		var c string
		var n uint64
		if err := scan(&c, &n); err != nil {
			return err
		}
		if rows > 0 && rows+n > chunkRows {
			flush()
		}
		if rows == 0 {
			lo = c
		}
		hi, rows = c, rows+n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	flush()
	return out, nil
}

// RebuildDerived rebuilds every derived table from events, whatever changed.
func (db *DB) RebuildDerived(ctx context.Context) error {
	db.deriveMu.Lock()
	defer db.deriveMu.Unlock()
	dims, err := db.dimensionsFingerprint(ctx)
	if err != nil {
		return err
	}
	return db.rebuild(ctx, dims)
}

// staleDerived finds the derived tables of a shape older than the migrations' (they are
// created only when missing), to be dropped before migrating: the aggregates became
// AggregatingMergeTrees, funnel_entries got participant_id. The next update rebuilds them
// (derive_state is new with them, or says nothing was built).
func (db *DB) staleDerived(ctx context.Context) ([]string, error) {
	var stale []string
	err := db.Query(ctx, `SELECT name FROM system.tables WHERE database = 'impactflow' AND (
		(name IN ('agg_daily', 'agg_weekly', 'agg_monthly', 'bench_industry', 'bench_region', 'bench_size_band', 'cohort_daily', 'cohort_monthly')
			AND engine != 'AggregatingMergeTree')
		OR (name = 'funnel_entries' AND name NOT IN (SELECT table FROM system.columns WHERE database = 'impactflow' AND name = 'participant_id')))`,
		func(scan scanFunc) error {
			var n string
			if err := scan(&n); err != nil {
				return err
			}
			stale = append(stale, n)
			return nil
		})
	return stale, err
}

// legacyViews are the refreshable views of earlier versions, which rebuilt the derived
// tables on a schedule of their own: a scheduled rebuild racing an incremental update
// would lose or double its rows.
var legacyViews = []string{"mv_daily", "mv_weekly", "mv_monthly", "mv_bench_industry", "mv_bench_region", "mv_bench_size_band",
	"mv_events_live", "mv_agg_daily", "mv_agg_weekly", "mv_agg_monthly", "mv_peers_industry", "mv_peers_region", "mv_peers_size_band",
	"mv_cohort_monthly", "mv_cohort_daily", "mv_funnel_entries"}

// upgradeDerived drops what an older version left that the migrations cannot change in
// place, and marks the derived tables for a full rebuild when it dropped any.
func (db *DB) upgradeDerived(ctx context.Context) (bool, error) {
	var exists uint64
	if err := db.Query(ctx, "SELECT toUInt64(count()) FROM system.databases WHERE name = 'impactflow'",
		func(scan scanFunc) error { return scan(&exists) }); err != nil {
		return false, fmt.Errorf("clickhouse migrate: %w", err)
	}
	if exists == 0 {
		return false, nil
	}
	for _, v := range legacyViews {
		if err := db.Exec(ctx, "DROP VIEW IF EXISTS impactflow."+v); err != nil {
			return false, fmt.Errorf("clickhouse migrate: %w", err)
		}
	}
	stale, err := db.staleDerived(ctx)
	if err != nil {
		return false, fmt.Errorf("clickhouse migrate: %w", err)
	}
	for _, t := range stale {
		if err := db.Exec(ctx, "DROP TABLE impactflow."+t); err != nil {
			return false, fmt.Errorf("clickhouse migrate: drop %s: %w", t, err)
		}
	}
	return len(stale) > 0, nil
}

// derivedTables are the tables Reset empties besides events and the sync's own.
var derivedTables = func() []string {
	var out []string
	for _, s := range rebuildSteps {
		out = append(out, s.table)
	}
	return append(out, "events_changes", "derive_state", "derive_delta")
}()
