package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Single-row statements scan with plans kept per connection and statement:
// the same statement scanned into other destination types, NULL into a
// pointer, a value that does not fit and no row at all answer as pgx's own
// Scan does; concurrent callers each get their own answer; and a
// statement scanned again on the same connection plans nothing new.
func TestKeptScanPlans(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(connvaulttest.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := store.NewCoalescer(pool, 5*time.Second, 1)
	const stmt = `SELECT $1::int4, $2::text`

	var n32 int32
	var s string
	if err := db.QueryRow(ctx, stmt, 7, "seven").Scan(&n32, &s); err != nil || n32 != 7 || s != "seven" {
		t.Fatalf("int32, string: %d %q %v", n32, s, err)
	}
	var n64 int64
	ps := new(string)
	if err := db.QueryRow(ctx, stmt, 8, nil).Scan(&n64, &ps); err != nil || n64 != 8 || ps != nil {
		t.Fatalf("int64, *string from NULL: %d %v %v", n64, ps, err)
	}
	if err := db.QueryRow(ctx, stmt, 9, "nine").Scan(&n32, &ps); err != nil || n32 != 9 || ps == nil || *ps != "nine" {
		t.Fatalf("int32, *string: %d %v %v", n32, ps, err)
	}
	var argErr pgx.ScanArgError
	if err := db.QueryRow(ctx, stmt, 1, "one").Scan(&n32, &n64); !errors.As(err, &argErr) || argErr.ColumnIndex != 1 {
		t.Fatalf("text into int64: %v, want a ScanArgError for column 1", err)
	}
	if err := db.QueryRow(ctx, `SELECT 1::int4 WHERE false`).Scan(&n32); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("no row: %v, want pgx.ErrNoRows", err)
	}
	if err := db.QueryRow(ctx, stmt, 1, "one").Scan(&n32); err == nil {
		t.Fatal("two columns into one destination: no error")
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				var n int32
				var text *string
				want := int32(g*1000 + i)
				if err := db.QueryRow(ctx, stmt, want, fmt.Sprint(want)).Scan(&n, &text); err != nil {
					errs <- err
				} else if n != want || text == nil || *text != fmt.Sprint(want) {
					errs <- fmt.Errorf("asked %d, got %d %v", want, n, text)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	before := store.ScanPlansMade()
	for i := range 100 {
		if err := db.QueryRow(ctx, stmt, i, "again").Scan(&n32, &ps); err != nil {
			t.Fatal(err)
		}
	}
	if made := store.ScanPlansMade() - before; made != 0 {
		t.Errorf("100 scans of a planned statement on the same connection planned %d times", made)
	}
}
