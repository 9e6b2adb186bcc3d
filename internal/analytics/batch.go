package analytics

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Range says which changes a sync run reads: every change up to Horizon in (updated_at,
// tenant_id, event_id) order (incremental), or one tenant's events and tombstones in
// event ID order, optionally only those that occurred in [From, To) (backfill).
type Range struct {
	Backfill bool
	TenantID string
	From, To *time.Time
	Horizon  time.Time
}

// Batch is one batch of changes on its way from Postgres to ClickHouse. For chDB it is read
// with a binary COPY and rewritten byte for byte into one RowBinary insert; for a
// ClickHouse server it is decoded rows sent with the native batch protocol.
type Batch struct {
	rowBinary []byte   // chDB: RowBinary rows in eventColumns order
	changes   []Change // server

	Rows    int64
	Deletes int64
	Tenants []string // the tenants the batch touches, sorted
	Last    Cursor   // the position just after the batch's last change
}

// pgText is a Postgres string literal, safe whatever standard_conforming_strings says.
func pgText(s string) string {
	return "E'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

// pgTime is a timestamptz literal with microseconds.
func pgTime(t time.Time) string {
	return "'" + t.UTC().Format("2006-01-02 15:04:05.000000") + "+00'::timestamptz"
}

// copyColumns are a change's columns in impactflow.events' column order (eventColumns, but
// for version, which is updated_at again), read from the c subquery in COPY's binary format,
// which costs Postgres no text conversion: times are microseconds, numbers are bytes.
const copyColumns = `tenant_id, event_id, program_id, participant_id, kind, occurred_at, value, location, cohort,
	attributes, updated_at, src`

// copyChange and copyTombstone name the columns copyColumns reads of a live row and of a
// tombstone.
const copyChange = `tenant_id, event_id, program_id, participant_id, kind, occurred_at, value::float8 AS value,
	coalesce(attributes->>'location', '') AS location, coalesce(attributes->>'cohort', '') AS cohort,
	attributes::text AS attributes, updated_at, 0 AS src`

const copyTombstone = `tenant_id, event_id, 0::bigint AS program_id, '' AS participant_id, '' AS kind, occurred_at,
	0::float8 AS value, '' AS location, '' AS cohort, '{}' AS attributes, updated_at, 1 AS src`

// copySQL is the COPY statement reading limit changes after the cursor: the same keyset
// as Changes and TenantChanges, with literals in place of parameters (COPY takes none).
func copySQL(r Range, after Cursor, limit int) string {
	lim := strconv.Itoa(limit)
	if r.Backfill {
		var cond strings.Builder
		cond.WriteString("tenant_id = " + pgText(r.TenantID) + " AND event_id >= " + pgText(after.EventID))
		if r.From != nil {
			cond.WriteString(" AND occurred_at >= " + pgTime(*r.From))
		}
		if r.To != nil {
			cond.WriteString(" AND occurred_at < " + pgTime(*r.To))
		}
		return `COPY (SELECT ` + copyColumns + ` FROM (
			(SELECT ` + copyChange + ` FROM impact_events WHERE ` + cond.String() + ` ORDER BY event_id LIMIT ` + lim + ` + 1)
			UNION ALL
			(SELECT ` + copyTombstone + ` FROM impact_event_tombstones WHERE ` + cond.String() + ` ORDER BY event_id LIMIT ` + lim + ` + 1)
		) c WHERE (event_id, src) > (` + pgText(after.EventID) + `, ` + strconv.Itoa(after.Src) + `)
		ORDER BY event_id, src LIMIT ` + lim + `) TO STDOUT (FORMAT binary)`
	}
	key := "(" + pgTime(after.UpdatedAt) + ", " + pgText(after.TenantID) + ", " + pgText(after.EventID) + ")"
	cond := "(updated_at, tenant_id, event_id) >= " + key + " AND updated_at < " + pgTime(r.Horizon)
	return `COPY (SELECT ` + copyColumns + ` FROM (
		(SELECT ` + copyChange + ` FROM impact_events WHERE ` + cond + ` ORDER BY updated_at, tenant_id, event_id LIMIT ` + lim + ` + 1)
		UNION ALL
		(SELECT ` + copyTombstone + ` FROM impact_event_tombstones WHERE ` + cond + ` ORDER BY updated_at, tenant_id, event_id LIMIT ` + lim + ` + 1)
	) c WHERE (updated_at, tenant_id, event_id, src) > (` + pgTime(after.UpdatedAt) + `, ` + pgText(after.TenantID) + `, ` +
		pgText(after.EventID) + `, ` + strconv.Itoa(after.Src) + `)
	ORDER BY updated_at, tenant_id, event_id, src LIMIT ` + lim + `) TO STDOUT (FORMAT binary)`
}

// ReadBatch reads up to limit changes of the range after the cursor.
func (db *DB) ReadBatch(ctx context.Context, src Source, r Range, after Cursor, limit int) (*Batch, error) {
	if db.server != nil {
		var changes []Change
		var err error
		if r.Backfill {
			changes, err = src.TenantChanges(ctx, r.TenantID, r.From, r.To, after, limit)
		} else {
			changes, err = src.Changes(ctx, after, r.Horizon, limit)
		}
		if err != nil {
			return nil, err
		}
		return batchOf(changes), nil
	}
	conn, err := src.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer conn.Release()
	// A keyset batch must be an ordered index scan that stops at the limit. Right after a
	// large import, before autovacuum has analyzed the table, the planner thinks the
	// tenant has a few rows and picks a bitmap scan and a sort of every row after the
	// cursor, for every batch (measured: 1.3 s a batch and a 180 MB sort on disk for a
	// 1,000,000-event tenant); the read turns those plans off for its own transaction.
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off"); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(limit * 160)
	if _, err := tx.Conn().PgConn().CopyTo(ctx, &buf, copySQL(r, after, limit)); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return rowBinaryBatch(buf.Bytes(), limit)
}

func batchOf(changes []Change) *Batch {
	b := &Batch{changes: changes, Rows: int64(len(changes))}
	tenants := map[string]bool{}
	for _, c := range changes {
		tenants[c.TenantID] = true
		if c.Deleted {
			b.Deletes++
		}
	}
	b.Tenants = sortedSet(tenants)
	if len(changes) > 0 {
		b.Last = CursorOf(changes[len(changes)-1])
	}
	return b
}

// pgEpochMicros is Postgres' epoch (2000-01-01) in Unix microseconds.
const pgEpochMicros = 946_684_800_000_000

// rowBinaryBatch turns Postgres' binary COPY of copyColumns into ClickHouse's RowBinary of
// eventColumns, counting the rows, deletes and tenants and
// keeping the last change's position on the way. It only moves bytes: no per-row
// allocation, no text conversion.
func rowBinaryBatch(in []byte, limit int) (*Batch, error) {
	const sig = "PGCOPY\n\xff\r\n\x00"
	bad := func(what string) (*Batch, error) { return nil, fmt.Errorf("read changes: binary COPY: %s", what) }
	if len(in) < len(sig)+8 || string(in[:len(sig)]) != sig {
		return bad("no header")
	}
	p := len(sig) + 4
	p += 4 + int(binary.BigEndian.Uint32(in[p:]))
	out := make([]byte, 0, len(in)+limit*8)
	b := &Batch{}
	tenants := map[string]bool{}
	var field, last [12][]byte
	for {
		if p+2 > len(in) {
			return bad("truncated")
		}
		n := int16(binary.BigEndian.Uint16(in[p:]))
		p += 2
		if n == -1 {
			break
		}
		if int(n) != len(field) {
			return bad(fmt.Sprintf("a row has %d columns, want %d", n, len(field)))
		}
		for i := range field {
			if p+4 > len(in) {
				return bad("truncated")
			}
			l := int(int32(binary.BigEndian.Uint32(in[p:])))
			p += 4
			if l < 0 || p+l > len(in) {
				return bad("a NULL or truncated column")
			}
			field[i] = in[p : p+l]
			p += l
		}
		if len(field[2]) != 8 || len(field[5]) != 8 || len(field[6]) != 8 || len(field[10]) != 8 || len(field[11]) != 4 {
			return bad("a column of the wrong width")
		}
		occurred := int64(binary.BigEndian.Uint64(field[5])) + pgEpochMicros
		updated := int64(binary.BigEndian.Uint64(field[10])) + pgEpochMicros
		deleted := binary.BigEndian.Uint32(field[11]) == 1
		out = appendString(out, field[0])
		out = appendString(out, field[1])
		out = binary.LittleEndian.AppendUint64(out, binary.BigEndian.Uint64(field[2]))
		out = appendString(out, field[3])
		out = appendString(out, field[4])
		out = binary.LittleEndian.AppendUint64(out, uint64(occurred))
		out = binary.LittleEndian.AppendUint64(out, binary.BigEndian.Uint64(field[6])) // float8 bits
		out = appendString(out, field[7])
		out = appendString(out, field[8])
		out = appendString(out, field[9])
		out = binary.LittleEndian.AppendUint64(out, uint64(updated))
		out = binary.LittleEndian.AppendUint64(out, uint64(updated)) // version
		if deleted {
			out = append(out, 1)
			b.Deletes++
		} else {
			out = append(out, 0)
		}
		b.Rows++
		if !tenants[string(field[0])] {
			tenants[string(field[0])] = true
		}
		last = field
	}
	b.Tenants = sortedSet(tenants)
	if b.Rows > 0 {
		b.rowBinary = out
		b.Last = Cursor{UpdatedAt: time.UnixMicro(int64(binary.BigEndian.Uint64(last[10])) + pgEpochMicros).UTC(),
			TenantID: string(last[0]), EventID: string(last[1])}
		if binary.BigEndian.Uint32(last[11]) == 1 {
			b.Last.Src = 1
		}
	}
	return b, nil
}

// appendString appends a RowBinary String: its length as a LEB128 varint, then its bytes.
func appendString(out, s []byte) []byte {
	return append(binary.AppendUvarint(out, uint64(len(s))), s...)
}

// eventStructure is eventColumns with their types, as RowBinary rows are read.
const eventStructure = `tenant_id String, event_id String, program_id UInt64, participant_id String, kind String,
	occurred_at DateTime64(6, 'UTC'), value Float64, location String, cohort String, attributes String,
	updated_at DateTime64(6, 'UTC'), version UInt64, deleted UInt8`

// WriteBatch writes a batch to ClickHouse in one insert. Writing the same batch again
// leaves the same analytics: each row's version is its Postgres updated_at.
//
// chDB takes a batch's RowBinary rows from a temporary file rather than inline after the
// INSERT: it ends inline data at the first empty line, which binary data may contain.
// optimize_on_insert = 0 skips deduplicating the block as it is written (a fifth of the
// insert's time here): duplicates in one block are as harmless as duplicates across
// blocks, since every read deduplicates (FINAL, or the views refreshed from FINAL).
func (db *DB) WriteBatch(ctx context.Context, b *Batch) error {
	if b.Rows == 0 {
		return nil
	}
	if b.rowBinary == nil {
		return db.WriteChanges(ctx, b.changes)
	}
	f, err := os.CreateTemp("", "impactflow-analytics-*.rowbinary")
	if err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b.rowBinary)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	err = db.Exec(ctx, "INSERT INTO impactflow.events ("+strings.Join(eventColumns, ", ")+") SELECT * FROM file("+
		quote(f.Name())+", 'RowBinary', "+quote(eventStructure)+") SETTINGS optimize_on_insert = 0")
	if err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	return nil
}

// CopyBatches copies up to maxBatches batches of limit changes of the range after the
// cursor, reading the next batch from Postgres while the current one is written to
// ClickHouse. each runs after every batch is written, before the next one is; an error
// from it stops the copy. done reports that the range is exhausted.
func (db *DB) CopyBatches(ctx context.Context, src Source, r Range, after Cursor, limit, maxBatches int,
	each func(i int, b *Batch) error) (done bool, err error) {
	type fetched struct {
		b   *Batch
		err error
	}
	read := func(after Cursor) chan fetched {
		ch := make(chan fetched, 1)
		go func() {
			b, err := db.ReadBatch(ctx, src, r, after, limit)
			ch <- fetched{b, err}
		}()
		return ch
	}
	next := read(after)
	pending := true
	// No read outlives the call.
	defer func() {
		if pending {
			<-next
		}
	}()
	for i := 0; i < maxBatches; i++ {
		f := <-next
		pending = false
		if f.err != nil {
			return false, f.err
		}
		full := f.b.Rows == int64(limit)
		if full && i+1 < maxBatches {
			next, pending = read(f.b.Last), true
		}
		if err := db.WriteBatch(ctx, f.b); err != nil {
			return false, err
		}
		if err := each(i, f.b); err != nil {
			return false, err
		}
		if !full {
			return true, nil
		}
	}
	return false, nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
