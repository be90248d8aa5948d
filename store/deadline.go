package store

import (
	"context"
	"errors"
	"time"

	"github.com/connvault/connvault/store/sqlcdb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultQueryTimeout bounds one statement (or one transaction), waiting
// for a pooled connection included. A database that is down answers at
// once; one that hangs would hold every request for as long as it hangs,
// so the deadline turns a hang into a quick 503 the client can retry.
const DefaultQueryTimeout = time.Second

// bounded gives every statement a deadline unless its context already has
// an earlier one.
type bounded struct {
	db      sqlcdb.DBTX
	timeout time.Duration
}

func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

func (b bounded) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := withDeadline(ctx, b.timeout)
	defer cancel()
	return b.db.Exec(ctx, sql, args...)
}

func (b bounded) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, cancel := withDeadline(ctx, b.timeout)
	rows, err := b.db.Query(ctx, sql, args...)
	if err != nil {
		cancel()
		return nil, err
	}
	return &cancelRows{Rows: rows, cancel: cancel}, nil
}

func (b bounded) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := withDeadline(ctx, b.timeout)
	return cancelRow{row: b.db.QueryRow(ctx, sql, args...), sql: sql, cancel: cancel}
}

// cancelRows releases the deadline when the rows are closed.
type cancelRows struct {
	pgx.Rows
	cancel context.CancelFunc
}

func (r *cancelRows) Close() {
	r.Rows.Close()
	r.cancel()
}

// cancelRow releases the deadline once the row is scanned (with kept
// scan plans, see scanPlans).
type cancelRow struct {
	row    pgx.Row
	sql    string
	cancel context.CancelFunc
}

func (r cancelRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.row.Scan(singleRowPlans.into(r.sql, dest)...)
}

// inTx runs fn in one transaction under one deadline.
func (s *Store) inTx(ctx context.Context, fn func(q *sqlcdb.Queries) error) error {
	ctx, cancel := withDeadline(ctx, s.queryTimeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		return fn(s.q.WithTx(tx))
	})
	if errors.Is(err, ErrLeaseLost) {
		return err
	}
	return mapError(err, "transaction")
}
