package store

import (
	"time"

	"github.com/connvault/connvault/store/sqlcdb"
	"github.com/jackc/pgx/v5/pgxpool"
)

// NewCoalescer exposes the read coalescer to the tests, with the number of
// reads or batches it lets run at once.
func NewCoalescer(pool *pgxpool.Pool, timeout time.Duration, maxInFlight int) sqlcdb.DBTX {
	c := newCoalescer(pool, timeout)
	c.maxInFlight = maxInFlight
	return c
}

// ScanPlansMade counts the scan plannings of single-row statements since the
// kept plans were last emptied.
func ScanPlansMade() int64 { return singleRowPlans.n.Load() }

// WritingRows is the coalescer db (from NewCoalescer) for statements that
// write and return a row.
func WritingRows(db sqlcdb.DBTX) sqlcdb.DBTX { return writingRows{db.(*coalescer)} }
