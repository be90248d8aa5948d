// Package store is connvault's persistence layer: a small hand-written API
// over the sqlc-generated queries in store/sqlcdb. It converts rows into
// domain types and maps database errors once, so callers never see pgx.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/migrations"
	"github.com/connvault/connvault/store/sqlcdb"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the database behind connvault.
type Store struct {
	pool *pgxpool.Pool
	q    *sqlcdb.Queries
	keys Keyring
}

// New wraps an open pool. keys encrypts and fingerprints secrets.
func New(pool *pgxpool.Pool, keys Keyring) *Store {
	return &Store{pool: pool, q: sqlcdb.New(pool), keys: keys}
}

// Open connects to databaseURL and checks the connection.
func Open(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The URL may carry a password: don't wrap pgx's message.
		return nil, errors.New("invalid database URL")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return pool, nil
}

// Pool exposes the pool for components that run their own statements
// (the health checker's leases, tests).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Keys returns the keyring.
func (s *Store) Keys() Keyring { return s.keys }

// migrationLockID serialises concurrent migrators (several replicas starting).
const migrationLockID = 0x636f6e6e7661756c // "connvaul"

// Migrate applies every migration not applied yet, in file-name order, each
// in its own transaction, under an advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLockID)); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLockID)) //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, name := range names {
		version := strings.TrimSuffix(name, ".sql")
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if done {
			continue
		}
		sql, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

// mapError turns database errors into domain errors, once, for the store.
// what names the object for the message ("connection").
func mapError(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return connvault.Errorf(connvault.ENOTFOUND, "%s not found", what)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgerrcode.UniqueViolation:
			if pgErr.ConstraintName == "connections_live_name" {
				return connvault.Errorf(connvault.ECONFLICT, "a connection with this name already exists")
			}
			return connvault.Errorf(connvault.ECONFLICT, "%s already exists", what)
		case pgerrcode.CheckViolation, pgerrcode.StringDataRightTruncationDataException:
			return connvault.Errorf(connvault.EINVALID, "%s breaks a database rule (%s)", what, pgErr.ConstraintName)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
