// Package migrations holds the SQL schema, embedded, and applies it.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed postgres/*.sql
var postgresFiles embed.FS

// versionTable records which migrations ran; tern serialises runs with an advisory lock,
// so two processes migrating at once apply each file exactly once.
const versionTable = "public.schema_version"

// Postgres applies every pending migration to the database at databaseURL, each in its own
// transaction, creating the database first when it does not exist. Safe to run twice.
func Postgres(ctx context.Context, databaseURL string) error {
	if err := EnsureDatabase(ctx, databaseURL); err != nil {
		return err
	}
	cfg, err := ConnConfig(databaseURL)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(context.Background())

	m, err := migrate.NewMigrator(ctx, conn, versionTable)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sub, err := fs.Sub(postgresFiles, "postgres")
	if err != nil {
		return err
	}
	if err := m.LoadMigrations(sub); err != nil {
		return fmt.Errorf("migrate: load: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// EnsureDatabase creates the database named in databaseURL when it does not exist, by
// connecting to the server's maintenance database with the same credentials.
func EnsureDatabase(ctx context.Context, databaseURL string) error {
	cfg, err := ConnConfig(databaseURL)
	if err != nil {
		return err
	}
	name := cfg.Database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("connect to postgres: %w", err)
	}
	admin, err := maintenanceURL(databaseURL)
	if err != nil {
		return err
	}
	adminCfg, err := ConnConfig(admin)
	if err != nil {
		return err
	}
	conn, err = pgx.ConnectConfig(ctx, adminCfg)
	if err != nil {
		return fmt.Errorf("connect to postgres to create database %q: %w", name, err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if err != nil && !(errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505")) { // already exists (a race)
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

// ConnConfig is one connection's settings from DATABASE_URL. It is parsed as a pool's URL,
// so the pool_* settings the store's pool reads (pool_max_conns, ...) are accepted here
// too; parsed for a single connection they would be sent to the server as unknown settings.
func ConnConfig(databaseURL string) (*pgx.ConnConfig, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	return cfg.ConnConfig, nil
}

func maintenanceURL(databaseURL string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: %w", err)
	}
	if strings.Trim(u.Path, "/") == "postgres" {
		return "", errors.New("database postgres does not exist")
	}
	u.Path = "/postgres"
	return u.String(), nil
}

//go:embed clickhouse/*.sql
var clickhouseFiles embed.FS

// ClickHouseFile is one file of ClickHouse DDL: its name, which records it as applied, and
// its statements in order.
type ClickHouseFile struct {
	Name       string
	Statements []string
}

// ClickHouse returns the ClickHouse DDL, file by file in name order. Every statement is
// idempotent (IF NOT EXISTS, or an ALTER that sets what is already set), so a file applied
// twice, by two processes starting at once, leaves the same schema; package analytics
// runs them on chDB or a server and records each file it applied.
func ClickHouse() ([]ClickHouseFile, error) {
	entries, err := fs.ReadDir(clickhouseFiles, "clickhouse")
	if err != nil {
		return nil, err
	}
	var files []ClickHouseFile
	for _, e := range entries {
		b, err := fs.ReadFile(clickhouseFiles, "clickhouse/"+e.Name())
		if err != nil {
			return nil, err
		}
		f := ClickHouseFile{Name: e.Name()}
		for _, s := range strings.Split(string(b), ";\n") {
			var lines []string
			for _, l := range strings.Split(s, "\n") {
				if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
					lines = append(lines, l)
				}
			}
			if len(lines) > 0 {
				f.Statements = append(f.Statements, strings.Join(lines, "\n"))
			}
		}
		files = append(files, f)
	}
	return files, nil
}
