package devserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"go.temporal.io/server/common/config"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// prepareVisibility returns the SQLite settings of the visibility store: a file of its own
// beside the main one. The sqlite plugin gives each file one connection, and every workflow
// start, search-attribute upsert and close writes a visibility row besides its history; in
// one file those writes queued behind the history writes on that single connection, which
// kept the whole server on about one core. In two files they run side by side.
//
// A data directory from before the split has its visibility rows in the main file; they are
// copied over once, when the visibility file is created, so listing finds every workflow.
func prepareVisibility(opts Options, main *config.SQL) (*config.SQL, error) {
	cfg := &config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: maps.Clone(main.ConnectAttributes)}
	if opts.Ephemeral {
		// The plugin creates the schema of an in-memory database itself.
		cfg.DatabaseName = main.DatabaseName + "-visibility"
		return cfg, nil
	}
	cfg.DatabaseName = filepath.Join(opts.DataDir, visibilityFileName)
	_, err := os.Stat(cfg.DatabaseName)
	created := errors.Is(err, os.ErrNotExist)
	if err != nil && !created {
		return nil, fmt.Errorf("check temporal visibility database: %w", err)
	}
	if created {
		if err := sqliteschema.SetupSchema(cfg); err != nil {
			_ = os.Remove(cfg.DatabaseName)
			return nil, fmt.Errorf("set up temporal visibility schema: %w", err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+cfg.DatabaseName+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open temporal visibility database: %w", err)
	}
	defer func() { _ = db.Close() }()
	if created {
		if err := copyVisibility(db, main.DatabaseName, cfg.DatabaseName); err != nil {
			_ = db.Close()
			_ = os.Remove(cfg.DatabaseName)
			return nil, err
		}
	}
	return cfg, trimVisibilityIndexes(db)
}

// unusedVisibilityIndexes are indexes of the stock visibility schema that nothing here
// filters on: columns the UI offers no filter for, and the pre-allocated Bool, Datetime,
// Double and Int search-attribute columns (every attribute the platform registers is a
// Keyword). Each visibility write is a REPLACE that deletes and re-inserts the row in every
// index of the table, and the writes were the largest single cost of the server (a quarter
// of its CPU in the engine benchmark). A filter on a dropped column still works, by a scan.
var unusedVisibilityIndexes = []string{
	"by_history_length", "by_history_size_bytes", "by_execution_duration", "by_state_transition_count",
	"by_bool_01", "by_bool_02", "by_bool_03", "by_datetime_01", "by_datetime_02", "by_datetime_03",
	"by_double_01", "by_double_02", "by_double_03", "by_int_01", "by_int_02", "by_int_03",
	"by_temporal_bool_01", "by_temporal_bool_02", "by_temporal_datetime_01", "by_temporal_datetime_02",
	"by_temporal_double_01", "by_temporal_double_02", "by_temporal_int_01", "by_temporal_int_02",
}

// trimVisibilityIndexes drops unusedVisibilityIndexes; it is idempotent.
func trimVisibilityIndexes(db *sql.DB) error {
	for _, idx := range unusedVisibilityIndexes {
		if _, err := db.Exec("DROP INDEX IF EXISTS " + idx); err != nil {
			return fmt.Errorf("drop visibility index %s: %w", idx, err)
		}
	}
	return nil
}

// copyVisibility copies the visibility rows of the main file into the new visibility file,
// open as db.
// In a main file that never held any (made by this version) it copies nothing.
func copyVisibility(db *sql.DB, mainFile, visFile string) error {
	ctx := context.Background()
	conn, err := db.Conn(ctx) // ATTACH holds for one connection only
	if err != nil {
		return fmt.Errorf("open temporal visibility database: %w", err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS main_store", mainFile); err != nil {
		return fmt.Errorf("attach the temporal database: %w", err)
	}
	var n int
	if err := conn.QueryRowContext(ctx,
		"SELECT count(*) FROM main_store.sqlite_master WHERE type = 'table' AND name = 'executions_visibility'").Scan(&n); err != nil {
		return fmt.Errorf("read the temporal database: %w", err)
	}
	if n > 0 {
		// The search-attribute columns are generated from the row's JSON and cannot be
		// written: copy the stored columns only.
		cols, err := storedColumns(ctx, conn, "executions_visibility")
		if err != nil {
			return err
		}
		list := strings.Join(cols, ", ")
		if _, err := conn.ExecContext(ctx, "INSERT OR IGNORE INTO executions_visibility ("+list+") SELECT "+list+
			" FROM main_store.executions_visibility"); err != nil {
			return fmt.Errorf("copy visibility rows to %s: %w", filepath.Base(visFile), err)
		}
	}
	_, err = conn.ExecContext(ctx, "DETACH DATABASE main_store")
	return err
}

// storedColumns lists a table's columns that hold data of their own (not generated ones).
func storedColumns(ctx context.Context, conn *sql.Conn, table string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid", table)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	defer func() { _ = rows.Close() }()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		cols = append(cols, `"`+c+`"`)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s has no columns", table)
	}
	return cols, nil
}
