package main

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// settler keeps the bench database in the same state for every
// measurement. Autovacuum otherwise starts whenever a write workload has
// crossed its thresholds, and runs during whichever measurement comes next,
// an HTTP one or its floor: in one full run it vacuumed or analyzed
// connections, connection_secrets, connection_counts and events six times
// between 20:02:39 and 20:05:40, across the get, list and credentials
// workloads. So autovacuum is off on the written tables for the run, and
// after a measurement that wrote, VACUUM (ANALYZE) runs before the next
// one, outside the measured time.
type settler struct {
	pool  *pgxpool.Pool
	dirty bool
}

// settledTables are the tables the workloads write.
var settledTables = []string{"connections", "connection_secrets", "connection_counts", "events", "issued_credentials"}

func newSettler(ctx context.Context, pool *pgxpool.Pool) (*settler, error) {
	s := &settler{pool: pool}
	for _, t := range settledTables {
		if _, err := pool.Exec(ctx, "ALTER TABLE "+t+" SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)"); err != nil {
			return nil, fmt.Errorf("settle: autovacuum off on %s: %w", t, err)
		}
	}
	return s, nil
}

// wrote notes whether the measurement that just ended wrote.
func (s *settler) wrote(writes bool) { s.dirty = s.dirty || writes }

// before settles the database if the last measurement wrote.
func (s *settler) before(ctx context.Context) error {
	if !s.dirty {
		return nil
	}
	if _, err := s.pool.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(settledTables, ", ")); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	s.dirty = false
	return nil
}

// restore gives the tables back to autovacuum.
func (s *settler) restore(ctx context.Context) {
	for _, t := range settledTables {
		if _, err := s.pool.Exec(ctx, "ALTER TABLE "+t+" RESET (autovacuum_enabled, toast.autovacuum_enabled)"); err != nil {
			log.Printf("settle: autovacuum not restored on %s: %v", t, err)
		}
	}
}
