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

// coalescer runs the single-row reads that arrive while others are in
// flight as one pipelined batch: one write to Postgres carries all of them
// and one read brings their rows back, where each would otherwise pay its
// own round trip (two system calls here and two in the backend, and the
// wake-ups between them, which cost more than the lookup itself).
//
// A read runs at once, alone, while fewer than maxInFlight reads or batches
// are running, so a quiet server adds no wait; under load the reads that
// queue behind them leave together. Every read is sent after it arrived,
// so it sees every write committed before the request came in.
//
// It is a sqlcdb.DBTX: the generated QueryRow methods run through it
// unchanged, scanning straight into their own destinations (the reader
// waits while the batch scans for it). Exec and Query go to the pool.
type coalescer struct {
	bounded
	pool        *pgxpool.Pool
	maxInFlight int

	mu       sync.Mutex
	inFlight int
	pending  []*queuedRead
}

// queuedRead is one QueryRow waiting for its row.
type queuedRead struct {
	sql  string
	args []any
	dest []any
	err  error
	// state moves from queued to taken (a batch will scan into dest) or to
	// abandoned (the reader's context ended first): whichever comes first.
	state atomic.Int32
	done  chan struct{}
}

const (
	queued int32 = iota
	taken
	abandoned
)

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

func (c *coalescer) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return coalescedRow{c: c, ctx: ctx, sql: sql, args: args}
}

type coalescedRow struct {
	c    *coalescer
	ctx  context.Context
	sql  string
	args []any
}

func (r coalescedRow) Scan(dest ...any) error {
	return r.c.read(r.ctx, &queuedRead{sql: r.sql, args: r.args, dest: dest, done: make(chan struct{})})
}

func (c *coalescer) read(ctx context.Context, q *queuedRead) error {
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
// reader that led returns with its own row at once.
func (c *coalescer) lead(batch []*queuedRead) {
	c.run(batch)
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

// run sends the reads still wanted as one batch under the store's
// deadline, not any one reader's: a reader that leaves does not cancel
// the others' reads.
func (c *coalescer) run(batch []*queuedRead) {
	live := make([]*queuedRead, 0, len(batch))
	for _, q := range batch {
		if q.state.CompareAndSwap(queued, taken) {
			live = append(live, q)
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if len(live) == 1 {
		q := live[0]
		q.err = c.pool.QueryRow(ctx, q.sql, q.args...).Scan(q.dest...)
		close(q.done)
		return
	}
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(live))}
	for _, q := range live {
		b.Queue(q.sql, q.args...)
	}
	results := c.pool.SendBatch(ctx, b)
	failed := false
	for _, q := range live {
		q.err = results.QueryRow().Scan(q.dest...)
		var pgErr *pgconn.PgError
		failed = failed || errors.As(q.err, &pgErr)
	}
	_ = results.Close() // its error is each read's error already
	if failed {
		// A statement that fails aborts the ones after it in the batch:
		// give each read that failed its own answer.
		for _, q := range live {
			var pgErr *pgconn.PgError
			if errors.As(q.err, &pgErr) {
				q.err = c.pool.QueryRow(ctx, q.sql, q.args...).Scan(q.dest...)
			}
		}
	}
	for _, q := range live {
		close(q.done)
	}
}
