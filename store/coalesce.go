package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// coalescer runs the single statements (single-row reads, audit inserts)
// that arrive while others are in flight as one pipelined batch: one write
// to Postgres carries all of them and one read brings their answers back,
// where each would otherwise pay its own round trip (two system calls here
// and two in the backend, and the wake-ups between them, which cost more
// than a lookup itself) and each insert its own commit.
//
// A statement runs at once, alone, while fewer than maxInFlight statements
// or batches are running, so a quiet server adds no wait; under load the
// ones that queue behind them leave together. Every statement is sent
// after it arrived, so it sees every write committed before the request
// came in, and a write is committed when its caller returns.
//
// It is a sqlcdb.DBTX: the generated QueryRow and Exec methods run through
// it unchanged, scanning straight into their own destinations (the caller
// waits while the batch scans for it). Query goes to the pool. Its
// QueryRow is for reads; a statement that writes and returns a row goes
// through writingRows, so that it is run again like an Exec when its batch
// fails.
type coalescer struct {
	bounded
	pool        *pgxpool.Pool
	maxInFlight int

	mu       sync.Mutex
	inFlight int
	pending  []*queuedStatement
}

// queuedStatement is one statement waiting for its answer: a QueryRow's row
// (dest) or, for an Exec, its command tag.
type queuedStatement struct {
	sql  string
	args []any
	dest []any
	exec bool
	// writes: the statement changes the database (every Exec does), so a
	// batch that fails rolls it back and it must run again.
	writes bool
	tag    pgconn.CommandTag
	err    error
	// state moves from queued to taken (a batch will scan into dest), then
	// to answered (done is closed); or from queued to abandoned (the
	// caller's context ended first, and no batch will touch it).
	state atomic.Int32
	done  chan struct{}
	// deadline bounds the statement from its arrival, the wait for a
	// batch included.
	deadline time.Time
	// read: the batch has read this statement's answer; rerun: it has run
	// again alone since (leader only).
	read, rerun bool
}

const (
	queued int32 = iota
	taken
	abandoned
	answered
)

// answer hands a taken statement its answer (q.err and dest or tag set).
func (q *queuedStatement) answer() {
	if q.state.CompareAndSwap(taken, answered) {
		close(q.done)
	}
}

func newCoalescer(pool *pgxpool.Pool, timeout time.Duration) *coalescer {
	return &coalescer{
		bounded: bounded{db: pool, timeout: timeout},
		pool:    pool,
		// A quarter of the pool (one batch on a small machine): the rest
		// stays free for writes and lists, and the larger the batches, the
		// fewer trips. Measured on 2 cores at 8 clients: one in flight
		// 16.2k GETs/s, two 15.2k, none (every read its own trip) 12.7k.
		maxInFlight: max(1, int(pool.Config().MaxConns)/4),
	}
}

func (c *coalescer) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	q := &queuedStatement{sql: sql, args: args, exec: true, writes: true, done: make(chan struct{})}
	err := c.do(ctx, q)
	return q.tag, err
}

func (c *coalescer) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return coalescedRow{c: c, ctx: ctx, sql: sql, args: args}
}

// writingRows is the coalescer for statements that write and return a
// row (a SELECT with a writing WITH).
type writingRows struct{ *coalescer }

func (w writingRows) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return coalescedRow{c: w.coalescer, ctx: ctx, sql: sql, args: args, writes: true}
}

type coalescedRow struct {
	c      *coalescer
	ctx    context.Context
	sql    string
	args   []any
	writes bool
}

func (r coalescedRow) Scan(dest ...any) error {
	return r.c.do(r.ctx, &queuedStatement{sql: r.sql, args: r.args, dest: singleRowPlans.into(r.sql, dest), writes: r.writes, done: make(chan struct{})})
}

func (c *coalescer) do(ctx context.Context, q *queuedStatement) error {
	q.deadline = time.Now().Add(c.timeout)
	c.mu.Lock()
	c.pending = append(c.pending, q)
	if c.inFlight < c.maxInFlight {
		c.inFlight++
		batch := c.pending
		c.pending = nil
		c.mu.Unlock()
		c.lead(batch)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-q.done:
		return q.err
	case <-ctx.Done():
		if q.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		// A batch is scanning into dest: wait for it (its deadline bounds
		// the wait), so nothing writes into dest after we return.
		<-q.done
		return q.err
	}
}

// lead runs batch, then hands what queued meanwhile to a new leader, so the
// caller that led returns with its own answer at once.
func (c *coalescer) lead(batch []*queuedStatement) {
	c.sendSafely(batch)
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.inFlight--
		c.mu.Unlock()
		return
	}
	next := c.pending
	c.pending = nil
	c.mu.Unlock()
	go c.lead(next)
}

// sendSafely is send that survives a panic (in pgx, or in a destination's
// Scan): the statements not answered yet fail, and the leader goes on, as
// a leader started by lead has no request around it to recover. A read
// the batch read keeps its answer. A write keeps its answer only if it ran
// again alone since: a statement after the panic may have failed in
// Postgres and rolled the batch back, so whether the batch committed is
// unknown.
func (c *coalescer) sendSafely(batch []*queuedStatement) {
	defer func() {
		if r := recover(); r != nil {
			for _, q := range batch {
				if q.state.Load() == taken {
					if !q.read || (q.writes && !q.rerun) {
						q.err = errStatementPanicked
					}
					q.answer()
				}
			}
		}
	}()
	c.send(batch)
}

var errStatementPanicked = errors.New("the statement failed unexpectedly")

// send sends the statements still wanted as one batch under the earliest
// of their deadlines (each the store's timeout from its arrival), not under
// a caller's context: a caller that leaves does not cancel the others'
// statements. One that spent half its time waiting fails alone.
func (c *coalescer) send(batch []*queuedStatement) {
	if len(batch) == 1 { // alone: no batch to build
		if q := batch[0]; q.state.CompareAndSwap(queued, taken) {
			ctx, cancel := context.WithDeadline(context.Background(), q.deadline)
			defer cancel()
			q.runAlone(ctx, c.pool)
			q.answer()
		}
		return
	}
	now := time.Now()
	live := make([]*queuedStatement, 0, len(batch))
	var deadline time.Time
	for _, q := range batch {
		if !q.state.CompareAndSwap(queued, taken) {
			continue
		}
		if q.deadline.Sub(now) < c.timeout/2 {
			// It waited out half its time behind a stalled batch: fail it
			// now (a 503 to retry) rather than give every statement of
			// this batch the little time it has left.
			q.err = context.DeadlineExceeded
			q.answer()
			continue
		}
		if len(live) == 0 || q.deadline.Before(deadline) {
			deadline = q.deadline
		}
		live = append(live, q)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if len(live) == 1 {
		live[0].runAlone(ctx, c.pool)
		live[0].answer()
		return
	}
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(live))}
	for _, q := range live {
		b.Queue(q.sql, q.args...)
	}
	results := c.pool.SendBatch(ctx, b)
	closed := false
	defer func() {
		if !closed { // a panic while reading: give the connection back
			_ = results.Close()
		}
	}()
	failed := false
	for _, q := range live {
		if q.exec {
			q.tag, q.err = results.Exec()
		} else {
			q.err = results.QueryRow().Scan(q.dest...)
		}
		q.read = true
		var pgErr *pgconn.PgError
		var unsent pgx.ErrPreprocessingBatch // one statement's arguments: none was sent
		failed = failed || errors.As(q.err, &pgErr) || errors.As(q.err, &unsent)
	}
	// Close once only: a second Close would touch the connection after it
	// went back to the pool.
	closed = true
	var pgErr *pgconn.PgError
	if err := results.Close(); errors.As(err, &pgErr) {
		failed = true // the commit that ends the batch was refused
	} else if err != nil {
		// The connection failed: whether the writes committed is unknown,
		// so they are not run again.
		for _, q := range live {
			if q.writes && q.err == nil {
				q.err = err
			}
		}
	}
	if failed {
		// The batch is one implicit transaction: a statement that fails
		// aborts the ones after it and rolls back the writes before it.
		// Run each write, and each read that failed, on its own, under its
		// own deadline (the batch may have spent the earliest one).
		for _, q := range live {
			if q.writes || q.err != nil {
				qctx, cancel := context.WithDeadline(context.Background(), q.deadline)
				q.runAlone(qctx, c.pool)
				q.rerun = true
				cancel()
			}
		}
	}
	for _, q := range live {
		q.answer()
	}
}

func (q *queuedStatement) runAlone(ctx context.Context, pool *pgxpool.Pool) {
	if q.exec {
		q.tag, q.err = pool.Exec(ctx, q.sql, q.args...)
		return
	}
	q.err = pool.QueryRow(ctx, q.sql, q.args...).Scan(q.dest...)
}
