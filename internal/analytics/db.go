// Package analytics is impactflow's analytics store: ClickHouse, either the embedded chDB
// engine (libchdb.so, data under DATA_DIR) or a ClickHouse server (CLICKHOUSE_URL), chosen
// at start-up. Both backends run the same SQL text: the DDL in migrations/clickhouse and
// every query here; only the transport differs.
package analytics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/impactflow/impactflow/migrations"
)

// Options chooses the backend: a server when URL is set, else chDB from LibPath with its
// data under DataDir.
type Options struct {
	URL     string
	LibPath string
	DataDir string
}

// DB is the analytics store.
type DB struct {
	chdb   *chdbConn
	server driver.Conn

	benchFromStates bool // tests: Benchmarks counts participants as before cohort_monthly
}

// Open opens the backend the options choose. With chDB only one DB may be open per process.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.URL != "" {
		opts, err := clickhouse.ParseDSN(o.URL)
		if err != nil {
			return nil, fmt.Errorf("CLICKHOUSE_URL: %w", err)
		}
		conn, err := clickhouse.Open(opts)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: %w", err)
		}
		return &DB{server: conn}, nil
	}
	c, err := openCHDB(o.LibPath, filepath.Join(o.DataDir, "chdb"))
	if err != nil {
		return nil, err
	}
	return &DB{chdb: c}, nil
}

// Embedded reports whether this is the in-process chDB engine.
func (db *DB) Embedded() bool { return db.chdb != nil }

// Close releases the backend.
func (db *DB) Close() {
	if db.chdb != nil {
		db.chdb.close()
	}
	if db.server != nil {
		_ = db.server.Close()
	}
}

// Ping checks that the backend answers.
func (db *DB) Ping(ctx context.Context) error {
	if db.server != nil {
		return db.server.Ping(ctx)
	}
	_, err := db.chdb.run(ctx, "SELECT 1", "TabSeparated")
	return err
}

// schemaMigrations records the DDL files applied to the store, so that a start runs only
// the files it has not seen. A store from before the record has none: every file runs
// again, which its idempotent statements allow, and is recorded.
const schemaMigrations = "impactflow.schema_migrations"

// numbersFile is the DDL file that adds the participant numbers.
const numbersFile = "003_participant_numbers.sql"

// Migrate applies the ClickHouse DDL files not yet applied to the store, in name order,
// and records each. A start of a migrated store runs no DDL, so that no ALTER, TRUNCATE or
// view replacement meets the refreshes the engine starts when it opens the store.
//
// On the start that adds the participant numbers (003) to a store, it then refreshes every
// view in order: until then the live events carry number 0 for every participant, and the
// engine refreshes views at start and at creation in an order of its own, so a view reading
// the numbers could aggregate them before the live events are refreshed and stay wrong
// until the next sync.
func (db *DB) Migrate(ctx context.Context) error {
	files, err := migrations.ClickHouse()
	if err != nil {
		return err
	}
	for _, s := range []string{
		"CREATE DATABASE IF NOT EXISTS impactflow",
		"CREATE TABLE IF NOT EXISTS " + schemaMigrations + " (name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY name",
	} {
		if err := db.Exec(ctx, s); err != nil {
			return fmt.Errorf("clickhouse migrate: %w", err)
		}
	}
	applied := map[string]bool{}
	if err := db.Query(ctx, "SELECT DISTINCT name FROM "+schemaMigrations, func(scan scanFunc) error {
		var name string
		err := scan(&name)
		applied[name] = true
		return err
	}); err != nil {
		return fmt.Errorf("clickhouse migrate: %w", err)
	}
	// Every store without 003's record lacks the numbers: 003 reached main with the record.
	numbering := !applied[numbersFile]
	for _, f := range files {
		if applied[f.Name] {
			continue
		}
		for _, s := range f.Statements {
			if err := db.Exec(ctx, s); err != nil {
				return fmt.Errorf("clickhouse migrate %s: %w", f.Name, err)
			}
		}
		if err := db.Exec(ctx, "INSERT INTO "+schemaMigrations+" (name) VALUES ("+quote(f.Name)+")"); err != nil {
			return fmt.Errorf("clickhouse migrate %s: %w", f.Name, err)
		}
	}
	if numbering {
		if err := db.RefreshViews(ctx, nil); err != nil {
			return fmt.Errorf("clickhouse migrate: %w", err)
		}
	}
	return nil
}

// Exec runs a statement that returns no rows.
func (db *DB) Exec(ctx context.Context, sql string) error {
	if db.server != nil {
		return db.server.Exec(ctx, sql)
	}
	_, err := db.chdb.run(ctx, sql, "TabSeparated")
	return err
}

// scanFunc copies the current row's columns into dest: *string, *float64, *uint64 or *int64.
type scanFunc func(dest ...any) error

// Query runs sql and calls each for every row. Queries select only String, Float64, UInt64
// and Int64 columns, so that both backends scan them the same way.
func (db *DB) Query(ctx context.Context, sql string, each func(scan scanFunc) error) error {
	if db.server != nil {
		rows, err := db.server.Query(ctx, sql)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := each(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	out, err := db.chdb.run(ctx, sql, "JSONCompactEachRow")
	if err != nil {
		return err
	}
	for len(out) > 0 {
		line := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			line, out = out[:i], out[i+1:]
		} else {
			out = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var cols []json.RawMessage
		if err := json.Unmarshal(line, &cols); err != nil {
			return fmt.Errorf("chdb: decode row: %w", err)
		}
		if err := each(func(dest ...any) error { return scanJSON(cols, dest) }); err != nil {
			return err
		}
	}
	return nil
}

func scanJSON(cols []json.RawMessage, dest []any) error {
	if len(cols) != len(dest) {
		return fmt.Errorf("chdb: row has %d columns, scanning %d", len(cols), len(dest))
	}
	for i, raw := range cols {
		if string(raw) == "null" {
			continue
		}
		var err error
		switch d := dest[i].(type) {
		case *string:
			err = json.Unmarshal(raw, d)
		case *float64:
			err = json.Unmarshal(unquote(raw), d)
		case *uint64:
			*d, err = strconv.ParseUint(string(unquote(raw)), 10, 64)
		case *int64:
			*d, err = strconv.ParseInt(string(unquote(raw)), 10, 64)
		default:
			err = fmt.Errorf("unsupported scan type %T", dest[i])
		}
		if err != nil {
			return fmt.Errorf("chdb: column %d: %w", i, err)
		}
	}
	return nil
}

// unquote strips the quotes ClickHouse puts around 64-bit integers in JSON.
func unquote(raw json.RawMessage) []byte {
	return bytes.Trim(raw, `"`)
}

// Insert writes rows into table's columns in one batch. Values are string, float64,
// uint64, uint8 or time.Time.
func (db *DB) Insert(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	head := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ")"
	if db.server != nil {
		batch, err := db.server.PrepareBatch(ctx, head)
		if err != nil {
			return err
		}
		defer batch.Close()
		for _, r := range rows {
			if err := batch.Append(r...); err != nil {
				return err
			}
		}
		return batch.Send()
	}
	var b bytes.Buffer
	b.Grow(len(rows) * 256)
	b.WriteString(head)
	b.WriteString(" FORMAT JSONCompactEachRow\n")
	for _, r := range rows {
		b.WriteByte('[')
		for i, v := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			switch v := v.(type) {
			case time.Time:
				b.WriteByte('"')
				b.WriteString(v.UTC().Format("2006-01-02 15:04:05.000000"))
				b.WriteByte('"')
			case string:
				q, _ := json.Marshal(v)
				b.Write(q)
			case float64:
				b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			case uint64:
				b.WriteString(strconv.FormatUint(v, 10))
			case uint8:
				b.WriteString(strconv.FormatUint(uint64(v), 10))
			default:
				return fmt.Errorf("insert %s: unsupported value %T", table, v)
			}
		}
		b.WriteString("]\n")
	}
	_, err := db.chdb.run(ctx, b.String(), "TabSeparated")
	return err
}

// quote makes a ClickHouse string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// dateLit is a Date literal.
func dateLit(t time.Time) string { return "toDate('" + t.UTC().Format("2006-01-02") + "')" }

// timeLit is a DateTime64(6, 'UTC') literal.
func timeLit(t time.Time) string {
	return "toDateTime64('" + t.UTC().Format("2006-01-02 15:04:05.000000") + "', 6, 'UTC')"
}

// ErrUnavailable wraps failures to reach the backend (not errors in a query).
var ErrUnavailable = errors.New("clickhouse unavailable")

// IsQueryError reports whether err is an error ClickHouse raised for a statement.
func IsQueryError(err error) bool {
	var qe *QueryError
	var ex *clickhouse.Exception
	return errors.As(err, &qe) || errors.As(err, &ex)
}
