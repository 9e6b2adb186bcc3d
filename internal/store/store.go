// Package store is impactflow's Postgres storage: one file per table, plain SQL on pgx.
package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound means the record does not exist, or belongs to another tenant.
var ErrNotFound = errors.New("not found")

// ErrConflict means the write contradicts what is stored, e.g. an idempotency key reused
// with a different request.
var ErrConflict = errors.New("conflict")

// minPoolConns is the pool's size unless DATABASE_URL sets pool_max_conns.
const minPoolConns = 16

// Store is the Postgres connection pool and the queries on it.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to Postgres. It does not migrate; see package migrations.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	// pgxpool's default is the number of CPUs, at least 4: a burst of report jobs, each
	// holding a connection for its gather, redact and persist, queued behind four.
	// pool_max_conns in DATABASE_URL still decides when given.
	if !strings.Contains(databaseURL, "pool_max_conns") && cfg.MaxConns < minPoolConns {
		cfg.MaxConns = minPoolConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close releases every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that Postgres answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool exposes the pool for health and metrics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// IsUnavailable reports whether err means Postgres could not be reached, as opposed to a
// query that Postgres rejected: the API answers the first with 503.
func IsUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 is connection exceptions; 57P0x is the server shutting down or not ready.
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err)
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
