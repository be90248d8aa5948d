package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/store"
	"github.com/connvault/connvault/store/sqlcdb"
	"github.com/jackc/pgx/v5/pgconn"
)

// holding is a statement that holds a coalescer's only slot.
type holding struct {
	at  time.Time // its now(): the time of its transaction
	err error
}

// hold runs a statement that sleeps for seconds on db, and returns once it
// holds the only slot (after 50 ms); the channel answers when it ends.
func hold(db sqlcdb.DBTX, seconds float64) <-chan holding {
	done := make(chan holding, 1)
	go func() {
		var h holding
		h.err = db.QueryRow(context.Background(), `SELECT now() FROM pg_sleep($1::float8)`, seconds).Scan(&h.at)
		done <- h
	}()
	time.Sleep(50 * time.Millisecond)
	return done
}

// Reads that arrive while the only slot is taken leave together in one
// pipelined batch (one implicit transaction, so one now()), each scanning
// its own answer; a reader whose context ends while it waits leaves at
// once; a statement that fails in a batch fails alone.
func TestQueuedReadsShareOneTrip(t *testing.T) {
	ctx := context.Background()
	db := store.NewCoalescer(connvaulttest.Pool(t), 5*time.Second, 1)

	slow := hold(db, 0.6)

	type answer struct {
		n   int
		at  time.Time
		err error
	}
	const readers = 20
	answers := make([]answer, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			a := &answers[i]
			a.err = db.QueryRow(ctx, `SELECT $1::int * 2, now()`, i).Scan(&a.n, &a.at)
		})
	}
	// A reader that gives up while queued is answered at once.
	quit, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() {
		var n int
		gaveUp <- db.QueryRow(quit, `SELECT 1`).Scan(&n)
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-gaveUp:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("queued reader whose context ended: %v, want context.Canceled", err)
		}
	case <-time.After(300 * time.Millisecond):
		t.Error("a queued reader whose context ended still waits for the batch")
	}
	wg.Wait()
	held := <-slow
	if held.err != nil {
		t.Fatal(held.err)
	}
	slowAt := held.at
	for i, a := range answers {
		if a.err != nil || a.n != 2*i {
			t.Fatalf("reader %d: %d, %v; want %d", i, a.n, a.err, 2*i)
		}
		if !a.at.Equal(answers[0].at) || a.at.Equal(slowAt) {
			t.Fatalf("reader %d ran at %v, reader 0 at %v, the slow read at %v: want the queued reads in one batch after it",
				i, a.at, answers[0].at, slowAt)
		}
	}

	// One statement of a batch fails: the others still get their answers.
	slow = hold(db, 0.2)
	for i := range readers {
		wg.Go(func() {
			a := &answers[i]
			a.n, a.err = 0, nil
			a.err = db.QueryRow(ctx, `SELECT 100 / $1::int, now()`, i%5).Scan(&a.n, &a.at)
		})
	}
	wg.Wait()
	if held := <-slow; held.err != nil {
		t.Fatal(held.err)
	}
	for i, a := range answers {
		var pgErr *pgconn.PgError
		switch {
		case i%5 == 0:
			if !errors.As(a.err, &pgErr) || pgErr.Code != "22012" {
				t.Errorf("reader %d divided by zero: %v, want SQLSTATE 22012", i, a.err)
			}
		case a.err != nil || a.n != 100/(i%5):
			t.Errorf("reader %d: %d, %v; want %d", i, a.n, a.err, 100/(i%5))
		}
	}
}

// Writes that share a batch with a statement that fails are not lost: the
// batch is one implicit transaction, rolled back by the failure, so each
// write (an Exec, or a writing statement that returns a row) runs again on
// its own and is committed when its caller returns.
func TestBatchedWritesSurviveAFailingNeighbour(t *testing.T) {
	ctx := context.Background()
	pool := connvaulttest.Pool(t)
	table := fmt.Sprintf("coalesce_probe_%d", time.Now().UnixNano())
	if _, err := pool.Exec(ctx, "CREATE TABLE "+table+" (n int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP TABLE "+table) })
	db := store.NewCoalescer(pool, 5*time.Second, 1)
	writing := store.WritingRows(db)

	slow := hold(db, 0.3)
	var wg sync.WaitGroup
	writeErrs := make([]error, 10)
	insert := func(i int) {
		wg.Go(func() {
			if i%2 == 0 {
				_, writeErrs[i] = db.Exec(ctx, "INSERT INTO "+table+" (n) VALUES ($1)", i)
				return
			}
			// Odd rows are written by statements that return a row.
			var n int
			if writeErrs[i] = writing.QueryRow(ctx, "INSERT INTO "+table+" (n) VALUES ($1) RETURNING n", i).Scan(&n); writeErrs[i] == nil && n != i {
				writeErrs[i] = fmt.Errorf("returned %d", n)
			}
		})
		time.Sleep(5 * time.Millisecond) // queue in order
	}
	for i := range 5 {
		insert(i)
	}
	var divErr error
	wg.Go(func() {
		var n int
		divErr = db.QueryRow(ctx, `SELECT 1 / $1::int`, 0).Scan(&n)
	})
	time.Sleep(5 * time.Millisecond)
	for i := 5; i < 10; i++ {
		insert(i)
	}
	wg.Wait()
	if held := <-slow; held.err != nil {
		t.Fatal(held.err)
	}
	var pgErr *pgconn.PgError
	if !errors.As(divErr, &pgErr) || pgErr.Code != "22012" {
		t.Errorf("the failing statement: %v, want SQLSTATE 22012", divErr)
	}
	for i, err := range writeErrs {
		if err != nil {
			t.Errorf("insert %d: %v", i, err)
		}
	}
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 10 {
		t.Errorf("%d rows committed, want the 10 acknowledged", rows)
	}
}

// Many concurrent lookups by id and by name through the store, some of
// them for rows that do not exist, each get their own answer.
func TestConcurrentLookupsEachGetTheirOwnRow(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	var conns []*connvault.Connection
	for i := range 30 {
		c, err := st.CreateConnection(ctx, store.NewConnection{
			OrgID: tn.OrgID, UserID: tn.UserID, Name: fmt.Sprintf("lookup-%02d", i), ProviderType: "rss",
			Config: connvault.SealedConfig{Config: map[string]any{"feed_url": fmt.Sprintf("https://feed%d.example.invalid/rss", i)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 600)
	for round := range 10 {
		for i := range 60 {
			wg.Go(func() {
				if i >= len(conns) {
					_, err := st.GetConnection(ctx, tn.OrgID, fmt.Sprintf("conn_missing%d%d", round, i))
					if connvault.ErrorCode(err) != connvault.ENOTFOUND {
						errs <- fmt.Errorf("missing id: %v, want not found", err)
					}
					return
				}
				want := conns[i]
				ident := want.ID
				if (i+round)%2 == 0 {
					ident = want.Name
				}
				got, err := st.GetConnection(ctx, tn.OrgID, ident)
				if err != nil {
					errs <- fmt.Errorf("%s: %v", ident, err)
					return
				}
				if got.ID != want.ID || got.Name != want.Name || string(got.Config) != string(want.Config) {
					errs <- fmt.Errorf("%s: got %s %s %s, want %s %s %s", ident, got.ID, got.Name, got.Config, want.ID, want.Name, want.Config)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A statement is bounded by the store's timeout from its arrival, the wait
// behind a batch included: behind a hung batch it fails when its own time
// is up, not a whole timeout after the batch in front of it failed.
func TestQueuedStatementsKeepTheirOwnDeadline(t *testing.T) {
	ctx := context.Background()
	const timeout = 500 * time.Millisecond
	db := store.NewCoalescer(connvaulttest.Pool(t), timeout, 1)
	first := hold(db, 3)
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	var n int
	err := db.QueryRow(ctx, `SELECT 1 FROM pg_sleep(3)`).Scan(&n)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("a statement that sleeps past the timeout succeeded")
	}
	if elapsed > timeout+300*time.Millisecond {
		t.Errorf("queued behind a hung batch, it failed after %v, want about %v", elapsed, timeout)
	}
	if held := <-first; held.err == nil {
		t.Error("the hung statement succeeded")
	}
}

// panicky is a destination whose Scan panics.
type panicky struct{}

func (*panicky) Scan(any) error { panic("scan exploded") }

// A destination that panics while a batch scans fails its own statement
// and the ones after it in that batch, and leaves the coalescer working:
// nothing waits forever, no goroutine takes the process down.
func TestAPanicInABatchFailsItsStatementsOnly(t *testing.T) {
	ctx := context.Background()
	db := store.NewCoalescer(connvaulttest.Pool(t), 5*time.Second, 1)
	slow := hold(db, 0.2)
	var wg sync.WaitGroup
	var before, exploded error
	var n int
	wg.Go(func() { before = db.QueryRow(ctx, `SELECT 7`).Scan(&n) })
	time.Sleep(10 * time.Millisecond)
	wg.Go(func() { exploded = db.QueryRow(ctx, `SELECT 1`).Scan(&panicky{}) })
	wg.Wait()
	if held := <-slow; held.err != nil {
		t.Fatal(held.err)
	}
	if before != nil || n != 7 {
		t.Errorf("the statement before the panic: %d, %v", n, before)
	}
	if exploded == nil {
		t.Error("the statement whose destination panicked succeeded")
	}
	var after int
	if err := db.QueryRow(ctx, `SELECT 8`).Scan(&after); err != nil || after != 8 {
		t.Fatalf("after the panic: %d, %v", after, err)
	}
}

// A write read back before a panic in its batch is not reported done: a
// statement after the panic can still fail in Postgres and roll the batch
// back, write included, so whether it committed is unknown to the caller.
func TestAPanicInABatchLeavesNoWriteReportedDoneThatWasRolledBack(t *testing.T) {
	ctx := context.Background()
	pool := connvaulttest.Pool(t)
	table := fmt.Sprintf("coalesce_panic_%d", time.Now().UnixNano())
	if _, err := pool.Exec(ctx, "CREATE TABLE "+table+" (id int)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP TABLE "+table) })
	db := store.NewCoalescer(pool, 5*time.Second, 1)
	slow := hold(db, 0.3)
	var wg sync.WaitGroup
	var wrote, exploded, failing error
	wg.Go(func() { _, wrote = db.Exec(ctx, "INSERT INTO "+table+" VALUES (1)") })
	time.Sleep(10 * time.Millisecond)
	wg.Go(func() { exploded = db.QueryRow(ctx, `SELECT 1`).Scan(&panicky{}) })
	time.Sleep(10 * time.Millisecond)
	wg.Go(func() {
		failing = db.QueryRow(ctx, `SELECT 1 / (SELECT count(*) FROM pg_class WHERE false)::int`).Scan(new(int))
	})
	wg.Wait()
	if held := <-slow; held.err != nil {
		t.Fatal(held.err)
	}
	if exploded == nil || failing == nil {
		t.Fatalf("the panicking and the failing statement: %v, %v", exploded, failing)
	}
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if wrote == nil && rows == 0 {
		t.Fatal("a write the batch rolled back was reported done")
	}
}

// A statement whose arguments cannot be encoded stops pgx from sending its
// batch at all: it fails alone, the others are sent again on their own.
func TestAnUnsendableStatementFailsAlone(t *testing.T) {
	ctx := context.Background()
	db := store.NewCoalescer(connvaulttest.Pool(t), 5*time.Second, 1)
	slow := hold(db, 0.2)
	var wg sync.WaitGroup
	var good, bad error
	var n, m int
	wg.Go(func() { good = db.QueryRow(ctx, `SELECT $1::int`, 41).Scan(&n) })
	time.Sleep(10 * time.Millisecond)
	wg.Go(func() { bad = db.QueryRow(ctx, `SELECT $1::int`, struct{ X chan int }{}).Scan(&m) })
	wg.Wait()
	if held := <-slow; held.err != nil {
		t.Fatal(held.err)
	}
	if good != nil || n != 41 {
		t.Errorf("the good statement: %d, %v", n, good)
	}
	if bad == nil {
		t.Error("a statement with unencodable arguments succeeded")
	}
}

// After a stall, a statement that waited out half its time fails at once,
// and does not cut short the deadline of the fresh ones it would share a
// batch with.
func TestAStalledStatementDoesNotShortenAFreshOnesDeadline(t *testing.T) {
	ctx := context.Background()
	const timeout = time.Second
	db := store.NewCoalescer(connvaulttest.Pool(t), timeout, 1)
	hold(db, 5) // hangs until its deadline
	time.Sleep(50 * time.Millisecond)
	stale := make(chan error, 1)
	go func() {
		var n int
		stale <- db.QueryRow(ctx, `SELECT 1`).Scan(&n)
	}()
	time.Sleep(800 * time.Millisecond)
	var n int
	if err := db.QueryRow(ctx, `SELECT 1 FROM pg_sleep(0.3)`).Scan(&n); err != nil {
		t.Errorf("a fresh statement queued behind the stall: %v", err)
	}
	if err := <-stale; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a statement that waited out half its time: %v, want DeadlineExceeded", err)
	}
}

// Callers that left while queued neither lead nor hold the slot: the batch
// behind them is led by a caller that stayed, and when every caller of a
// batch has left, the slot is free for the next statement at once.
func TestCallersThatLeftDoNotHoldTheSlot(t *testing.T) {
	ctx := context.Background()
	db := store.NewCoalescer(connvaulttest.Pool(t), 5*time.Second, 1)
	leave := func(n int) *sync.WaitGroup {
		var wg sync.WaitGroup
		for range n {
			quit, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			wg.Go(func() {
				defer cancel()
				var v int
				if err := db.QueryRow(quit, `SELECT 1`).Scan(&v); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("a queued caller whose context ended: %v, want DeadlineExceeded", err)
				}
			})
		}
		return &wg
	}

	slow := hold(db, 0.3)
	leave(3).Wait() // queued first, gone before the slot frees
	bounded, cancelBounded := context.WithTimeout(ctx, 3*time.Second)
	defer cancelBounded()
	var stayed int
	if err := db.QueryRow(bounded, `SELECT 42`).Scan(&stayed); err != nil || stayed != 42 {
		t.Fatalf("the caller queued behind three that left: %d, %v", stayed, err)
	}
	if held := <-slow; held.err != nil {
		t.Fatal(held.err)
	}

	slow = hold(db, 0.2)
	leave(3).Wait() // the whole batch behind the slow statement leaves
	if held := <-slow; held.err != nil {
		t.Fatal(held.err)
	}
	quick, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var after int
	if err := db.QueryRow(quick, `SELECT 7`).Scan(&after); err != nil || after != 7 {
		t.Fatalf("after a batch whose callers all left: %d, %v; want the slot free", after, err)
	}
}
