// Package testdb gives a test a Postgres database of its own, migrated, and drops it when
// the test ends, so that tests of different packages and runs never share rows.
package testdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/impactflow/impactflow/migrations"
)

// baseURL is the server's maintenance database, TEST_DATABASE_URL when set.
func baseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]+`)

// New migrates a new database for the test, named after label, the process and the test,
// and returns its URL; the database is dropped when the test and its subtests end.
func New(t testing.TB, label string) string {
	t.Helper()
	name := "impactflow_test_" + label + "_" + fmt.Sprint(os.Getpid()) + "_" + unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 63 { // Postgres cuts identifiers at 63 bytes; keep names distinct
		sum := sha256.Sum256([]byte(name))
		name = name[:50] + "_" + hex.EncodeToString(sum[:6])
	}
	base := baseURL()
	url := strings.Replace(base, "/postgres?", "/"+name+"?", 1)
	if err := migrations.Postgres(context.Background(), url); err != nil {
		t.Fatalf("migrate %s: %v", name, err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return url
}
