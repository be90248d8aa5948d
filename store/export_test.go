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
