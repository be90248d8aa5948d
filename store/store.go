// Package store is connvault's persistence layer: a small hand-written API
// over the sqlc-generated queries in store/sqlcdb. It converts rows into
// domain types and maps database errors once, so callers never see pgx.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sort"
	"strings"
	"time"

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
	// db runs the statements and transactions: the pool, or one pooled
	// connection held for a while (see WithIssueLock).
	db database
	q  *sqlcdb.Queries
	// batched runs the hot paths' short single statements (lookups,
	// secrets, cached credentials, audit events), sharing trips under load
	// (see coalescer); on a held connection it is q. Statements that may
	// run long (a COUNT, a page) stay off it: one would hold up every
	// statement batched with it.
	batched *sqlcdb.Queries
	// batchedWrites is batched for the statements that write and return
	// a row (see writingRows).
	batchedWrites *sqlcdb.Queries
	keys          Keyring
	queryTimeout  time.Duration
}

// database is what the store runs statements and transactions on.
type database interface {
	sqlcdb.DBTX
	Begin(ctx context.Context) (pgx.Tx, error)
}

// New wraps an open pool. keys encrypts and fingerprints secrets. Every
// statement is bounded by DefaultQueryTimeout (see WithQueryTimeout).
func New(pool *pgxpool.Pool, keys Keyring) *Store {
	return (&Store{pool: pool, keys: keys}).WithQueryTimeout(DefaultQueryTimeout)
}

// WithQueryTimeout returns the store with another per-statement deadline.
func (s *Store) WithQueryTimeout(d time.Duration) *Store {
	if d <= 0 {
		d = DefaultQueryTimeout
	}
	c := newCoalescer(s.pool, d)
	return &Store{pool: s.pool, db: s.pool, keys: s.keys, queryTimeout: d,
		q: sqlcdb.New(bounded{db: s.pool, timeout: d}), batched: sqlcdb.New(c), batchedWrites: sqlcdb.New(writingRows{c})}
}

// OpenOptions adjust Open.
type OpenOptions struct {
	// AllowLoggedParameters starts even where connvault's sessions cannot
	// turn off the logging of statement parameters (see Open). Secrets and
	// the pgcrypto passphrase then reach the database's log whenever it
	// logs statements with their parameters: accept that risk explicitly.
	AllowLoggedParameters bool
}

// unloggedParameters are set on every pooled session: secrets and the
// pgcrypto passphrase travel as statement parameters, and a database that
// logs statements (log_statement, log_min_duration_statement, errors)
// would otherwise write them into its log in plaintext.
var unloggedParameters = map[string]string{
	"log_parameter_max_length":          "0",
	"log_parameter_max_length_on_error": "0",
}

// ErrParametersLoggable explains how to let connvault's role keep its
// statement parameters out of the database's log.
var ErrParametersLoggable = errors.New("the database role cannot set log_parameter_max_length and " +
	"log_parameter_max_length_on_error, so the database may log secrets sent as statement parameters. " +
	"As a superuser run: GRANT SET ON PARAMETER log_parameter_max_length, log_parameter_max_length_on_error TO <connvault's role>; " +
	"(PostgreSQL 15+), or start with CONNVAULT_ALLOW_LOGGED_PARAMETERS=true to accept the risk")

// Open connects to databaseURL with every session set to keep statement
// parameters out of the database's log, and checks that they are.
func Open(ctx context.Context, databaseURL string, opts OpenOptions) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The URL may carry a password: don't wrap pgx's message.
		return nil, errors.New("invalid database URL")
	}
	for name, value := range unloggedParameters {
		cfg.ConnConfig.RuntimeParams[name] = value
	}
	pool, err := connect(ctx, cfg)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.InsufficientPrivilege {
		if !opts.AllowLoggedParameters {
			return nil, ErrParametersLoggable
		}
		for name := range unloggedParameters {
			delete(cfg.ConnConfig.RuntimeParams, name)
		}
		return connect(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	for name, want := range unloggedParameters {
		var got string
		if err := pool.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil || got != want {
			pool.Close()
			if err != nil {
				return nil, fmt.Errorf("check %s: %w", name, err)
			}
			return nil, fmt.Errorf("%s is %s on connvault's sessions, want %s", name, got, want)
		}
	}
	return pool, nil
}

func connect(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
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
	if ce := (*connvault.Error)(nil); errors.As(err, &ce) {
		return err // mapped already
	}
	if errors.Is(err, pgx.ErrNoRows) {
		// The cause stays: a caller of inTx tells a statement that found
		// no row (errors.Is) from the other failures of its transaction.
		return &connvault.Error{Code: connvault.ENOTFOUND, Message: what + " not found", Cause: err}
	}
	if unavailable(err) {
		return &connvault.Error{Code: connvault.EUNAVAILABLE, Message: "the database is unavailable; retry shortly", Cause: err}
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

// unavailable reports errors that mean the database cannot be reached or
// did not answer in time, as opposed to refusing the statement: the
// request may succeed if retried.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08 (connection exception), 57P01-57P03 (the server is
		// shutting down or starting up), 53300 (too many connections).
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == pgerrcode.AdminShutdown ||
			pgErr.Code == pgerrcode.CrashShutdown || pgErr.Code == pgerrcode.CannotConnectNow ||
			pgErr.Code == pgerrcode.TooManyConnections
	}
	// A connection the server closed under us.
	return pgconn.SafeToRetry(err)
}
