package migrations

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresCreatesTheDatabaseAndIsSafeConcurrently runs the migrations from several
// goroutines at once on a database that does not exist yet, then once more: each file is
// applied exactly once and nothing fails.
func TestPostgresCreatesTheDatabaseAndIsSafeConcurrently(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("impactflow_test_migrations_%d", os.Getpid())
	// pool_max_conns is the store's pool setting: the migrations must accept it too.
	url := "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable&pool_max_conns=8"
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	})

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- Postgres(ctx, url)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	if err := Postgres(ctx, url); err != nil {
		t.Fatalf("second migrate: %v", err)
	}

	files, err := postgresFiles.ReadDir("postgres")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConnConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var version int
	if err := conn.QueryRow(ctx, "SELECT version FROM "+versionTable).Scan(&version); err != nil {
		t.Fatal(err)
	}
	// The version is the highest file number (numbers of files other branches add are
	// applied as empty migrations until they are merged).
	last, _, _ := strings.Cut(files[len(files)-1].Name(), "_")
	if want, _ := strconv.Atoi(last); version != want {
		t.Errorf("schema version = %d, want %d", version, want)
	}
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'
		AND table_name IN ('tenants', 'api_keys', 'programs', 'participants', 'impact_events', 'evidence_snippets', 'import_uploads', 'import_chunks')`).Scan(&tables); err != nil || tables != 8 {
		t.Errorf("tables = %d (%v), want 8", tables, err)
	}
}
