package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/store"
)

// A manual test (or an archive) that lands while a background check holds
// the lease releases it; the background outcome that arrives afterwards must
// be told it lost the lease, not fail reading a NULL lease.
func TestCheckOutcomeAfterAManualTestReleasedTheLease(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	c := createRSS(t, st, tn, "leased")
	const owner = "checker-under-test"
	lease(t, st, c, owner)
	sched := connvault.Schedule{Interval: time.Hour, Backoff: time.Minute}
	if _, err := st.RecordCheck(ctx, c, true, "", sched, "", store.HealthAudit{}); err != nil {
		t.Fatalf("manual test outcome: %v", err)
	}
	_, err := st.RecordCheck(ctx, c, false, "late background failure", sched, owner, store.HealthAudit{})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("background outcome after the lease was released: %v, want ErrLeaseLost", err)
	}
	got, err := st.GetConnection(ctx, tn.OrgID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ConsecutiveFailures != 0 || got.LastError != nil {
		t.Errorf("the lost outcome was recorded: failures=%d last_error=%v", got.ConsecutiveFailures, got.LastError)
	}

	// Archived while leased: the late outcome is refused the same way.
	lease(t, st, c, owner)
	if _, err := st.ArchiveConnection(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordCheck(ctx, c, true, "", sched, owner, store.HealthAudit{}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("background outcome after archive: %v, want ErrLeaseLost", err)
	}
}

// A usage report that lands while a background check holds the lease
// leaves the lease alone: the check's outcome, when it comes, is recorded
// (a report is no check of the credentials).
func TestUsageReportLeavesARunningChecksLease(t *testing.T) {
	ctx := context.Background()
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	c := createRSS(t, st, tn, "leased and used")
	const owner = "checker-while-used"
	lease(t, st, c, owner)
	sched := connvault.Schedule{Interval: time.Hour, Backoff: time.Minute}
	if _, err := st.RecordUsage(ctx, tn.OrgID, c.ID, true, "", sched, store.HealthAudit{}); err != nil {
		t.Fatal(err)
	}
	got, err := st.RecordCheck(ctx, c, false, "background failure", sched, owner, store.HealthAudit{})
	if err != nil {
		t.Fatalf("the background outcome after a usage report: %v", err)
	}
	if got.ConsecutiveFailures != 1 {
		t.Errorf("the background outcome: %d failures", got.ConsecutiveFailures)
	}
}

// lease gives owner the background checker's lease on c alone (ClaimDue
// would take any tenant's due rows).
func lease(t *testing.T, st *store.Store, c *connvault.Connection, owner string) {
	t.Helper()
	if _, err := st.Pool().Exec(context.Background(), `INSERT INTO connection_leases (internal_id, connection_id, owner, expires_at)
		VALUES ($2, $3, $1, now() + interval '1 minute')`, owner, c.OrgID, c.ID); err != nil {
		t.Fatal(err)
	}
}
