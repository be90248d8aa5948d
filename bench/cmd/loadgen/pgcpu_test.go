package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/connvault/connvault/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The local test cluster is found from one of a pool's backends, and the
// work its backends do shows in its CPU time.
func TestPostgresCPUOfTheLocalCluster(t *testing.T) {
	ctx := context.Background()
	pool, pg, _ := localCluster(t)
	if comm, _ := procStat(pg.postmaster); comm != "postgres" {
		t.Fatalf("postmaster %d is %q", pg.postmaster, comm)
	}
	before := pg.ticks()
	// About 50 ms of a backend's CPU: a few ticks at 100 per second.
	if _, err := pool.Exec(ctx, "SELECT count(*) FROM generate_series(1, 3000000)"); err != nil {
		t.Fatal(err)
	}
	if after := pg.ticks(); after-before < 2 {
		t.Fatalf("the cluster's CPU time moved %d ticks over a query that computes for tens of ms", after-before)
	}
}

func TestProcStatOfThisProcess(t *testing.T) {
	comm, ppid := procStat(os.Getpid())
	if comm == "" || ppid != os.Getppid() {
		t.Fatalf("procStat(self) = %q, %d; want a name and parent %d", comm, ppid, os.Getppid())
	}
	if comm, ppid := procStat(-1); comm != "" || ppid != 0 {
		t.Fatalf("procStat of no process = %q, %d", comm, ppid)
	}
}

// A backend's work still counts once the backend has ended: an autovacuum
// worker or a closed connection that ends during a measurement must not
// take its time out of it.
func TestPostgresCPUOfAnEndedBackend(t *testing.T) {
	ctx := context.Background()
	_, pg, dbURL := localCluster(t)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	before := pg.ticks()
	if _, err := conn.Exec(ctx, "SELECT count(*) FROM generate_series(1, 3000000)"); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", backend)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("backend %d still there 5 s after its connection closed", backend)
		}
	}
	if after := pg.ticks(); after-before < 2 {
		t.Fatalf("the cluster's CPU time moved %d ticks over an ended backend's query that computed for tens of ms", after-before)
	}
}

// localCluster is a pool on the project-local test cluster and its
// postmaster (the test skips elsewhere), with the cluster's URL.
func localCluster(t *testing.T) (*pgxpool.Pool, postgresProcs, string) {
	t.Helper()
	dbURL := os.Getenv("CONNVAULT_TEST_DATABASE_URL")
	if dbURL == "" || os.Getenv("CONNVAULT_PG_LOG") == "" {
		t.Skip("not the project-local Postgres (make test sets CONNVAULT_PG_LOG for it)")
	}
	pool, err := store.Open(context.Background(), dbURL, store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	pg := findPostgres(context.Background(), pool)
	if pg.postmaster == 0 {
		t.Fatal("the local cluster's postmaster was not found")
	}
	return pool, pg, dbURL
}
