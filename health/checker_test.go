package health_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/gen/client"
	"github.com/connvault/connvault/health"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/providers/providertest"
	"github.com/connvault/connvault/store"
)

// These tests claim due rows from this package's test database (each test
// process has its own), so they run one after another (no t.Parallel).

const secret = "health-check-secret"

func env() providers.Env {
	return providers.NewEnv(providers.EnvOptions{AllowPrivateNetworks: true, LoopbackOnly: true, Timeout: 5 * time.Second})
}

// seed stores n due S3 connections, each on its own bucket of d.
func seed(t *testing.T, st *store.Store, d *providertest.S3, n int) (connvaulttest.Tenant, []*connvault.Connection) {
	t.Helper()
	tn := connvaulttest.NewTenant(t, st)
	past := time.Now().Add(-time.Second)
	var out []*connvault.Connection
	for i := range n {
		bucket := fmt.Sprintf("bucket-%s-%03d", tn.OrgID[4:12], i)
		d.AddBucket(bucket, "k")
		c, err := st.CreateConnection(context.Background(), store.NewConnection{
			OrgID: tn.OrgID, UserID: tn.UserID, Name: bucket, ProviderType: "s3",
			Config: seal(t, "s3", map[string]any{"bucket": bucket, "endpoint_url": d.URL, "region": "us-east-1",
				"credentials": map[string]any{"type": "access_key", "access_key_id": d.AccessKey, "secret_access_key": secret}}),
			Health: connvault.Health{Status: connvault.StatusActive, NextCheckAt: &past},
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return tn, out
}

func checker(st *store.Store, owner string, sched connvault.Schedule, lease time.Duration) *health.Checker {
	return health.New(st, health.Config{Owner: owner, Schedule: sched, Concurrency: 4, CheckTimeout: 5 * time.Second, Lease: lease, Env: env()})
}

func TestTwoCheckersShareAPassAndCheckEachConnectionOnce(t *testing.T) {
	st := connvaulttest.Store(t)
	d := providertest.NewS3(t, "AKIAHEALTH", secret, map[string][]string{})
	tn, conns := seed(t, st, d, 200)
	sched := connvault.Schedule{Interval: time.Hour, Backoff: time.Hour}
	a, b := checker(st, "replica-a", sched, time.Minute), checker(st, "replica-b", sched, time.Minute)

	pass := func() (health.Stats, health.Stats) {
		var sa, sb health.Stats
		var wg sync.WaitGroup
		var errA, errB error
		wg.Go(func() { sa, errA = a.RunOnce(context.Background()) })
		wg.Go(func() { sb, errB = b.RunOnce(context.Background()) })
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("pass: %v / %v", errA, errB)
		}
		return sa, sb
	}
	sa, sb := pass()
	if sa.Checked+sb.Checked < 200 || sa.Checked == 0 || sb.Checked == 0 {
		t.Errorf("replica a checked %d, b %d: want 200 between them, shared", sa.Checked, sb.Checked)
	}
	for _, c := range conns {
		if n := d.BucketRequests(c.Name); n != 1 {
			t.Fatalf("%s was called %d times in one pass", c.Name, n)
		}
		got, err := st.GetConnection(context.Background(), tn.OrgID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastCheckedAt == nil || got.LastUsedAt == nil || got.NextCheckAt == nil || got.NextCheckAt.Before(time.Now().Add(50*time.Minute)) {
			t.Fatalf("%s not recorded: %+v", c.Name, got.Health)
		}
	}
	// Nothing is due any more: a second pass checks none of ours.
	pass()
	for _, c := range conns {
		if n := d.BucketRequests(c.Name); n != 1 {
			t.Fatalf("%s checked again before it was due (%d calls)", c.Name, n)
		}
	}
	// Due again: each is checked exactly once more.
	if _, err := st.Pool().Exec(context.Background(), `UPDATE connections SET next_check_at = now() - interval '1 second' WHERE internal_id = $1`, tn.OrgID); err != nil {
		t.Fatal(err)
	}
	pass()
	for _, c := range conns {
		if n := d.BucketRequests(c.Name); n != 2 {
			t.Fatalf("%s was called %d times after two due passes", c.Name, n)
		}
	}
}

func TestFailingConnectionIsDisabledAfterFivePassesAndRevivedByPatch(t *testing.T) {
	d := providertest.NewS3(t, "AKIAFAIL", secret, map[string][]string{})
	h := connvaulttest.NewServer(t, connvaulttest.Options{Schedule: connvault.Schedule{Interval: time.Hour, Backoff: time.Millisecond}})
	st := h.Store
	tn, conns := seed(t, st, d, 1)
	c := conns[0]
	sched := connvault.Schedule{Interval: time.Hour, Backoff: time.Millisecond}
	chk := checker(st, "solo", sched, time.Minute)

	d.RotateSecret("the-provider-changed-it") // the stored secret no longer works
	for pass := 1; pass <= 5; pass++ {
		time.Sleep(30 * time.Millisecond) // backoff: 1, 2, 4, 8 ms
		if _, err := chk.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := mustGet(t, st, tn.OrgID, c.ID)
		if got.ConsecutiveFailures != pass {
			t.Fatalf("after pass %d: %d failures (%s)", pass, got.ConsecutiveFailures, got.Status)
		}
		want := connvault.StatusActive
		if pass == 5 {
			want = connvault.StatusFailed
		}
		if got.Status != want || got.LastError == nil {
			t.Fatalf("after pass %d: status %s, last_error %v", pass, got.Status, got.LastError)
		}
	}
	calls := d.BucketRequests(c.Name)
	time.Sleep(30 * time.Millisecond)
	if _, err := chk.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := d.BucketRequests(c.Name); n != calls {
		t.Fatalf("a FAILED connection was probed again (%d -> %d calls)", calls, n)
	}
	failedConn := mustGet(t, st, tn.OrgID, c.ID)
	if failedConn.StatusReason == nil || failedConn.StatusChangedAt == nil {
		t.Error("no status_reason / status_changed_at recorded")
	}

	// The user fixes the credentials; the PATCH tests them and revives it.
	secret := client.SecretString("the-provider-changed-it")
	var creds client.S3Credentials
	if err := creds.FromS3AccessKeyCredentials(client.S3AccessKeyCredentials{Type: new(client.S3AccessKeyCredentialsTypeAccessKey), AccessKeyId: d.AccessKey, SecretAccessKey: &secret}); err != nil {
		t.Fatal(err)
	}
	patch, err := json.Marshal(map[string]any{"provider_config": map[string]any{"credentials": creds}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.ClientFor(t, tn.APIKey).UpdateConnectionWithBodyWithResponse(context.Background(), c.ID, "application/json", bytes.NewReader(patch))
	if err != nil || r.JSON200 == nil {
		t.Fatalf("patch: %v %s", err, r.Body)
	}
	if m := r.JSON200; m.Status != client.ConnectionStatusACTIVE || m.ConsecutiveFailures != 0 || !m.IsActive {
		t.Fatalf("after fixing: %v %v %v", m.Status, m.ConsecutiveFailures, m.IsActive)
	}
	// And the checker watches it again.
	if _, err := st.Pool().Exec(context.Background(), `UPDATE connections SET next_check_at = now() WHERE internal_id = $1`, tn.OrgID); err != nil {
		t.Fatal(err)
	}
	before := d.BucketRequests(c.Name)
	if _, err := chk.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d.BucketRequests(c.Name) != before+1 {
		t.Error("the revived connection is not checked again")
	}
}

func TestLeasedRowsOfADeadCheckerArePickedUpAfterTheLease(t *testing.T) {
	st := connvaulttest.Store(t)
	d := providertest.NewS3(t, "AKIALEASE", secret, map[string][]string{})
	tn, conns := seed(t, st, d, 3)
	sched := connvault.Schedule{Interval: time.Hour, Backoff: time.Hour}
	const lease = time.Second
	dying := checker(st, "dying", sched, lease)
	d.SetDelay(time.Minute) // the provider hangs: the checker dies mid-check

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _, _ = dying.RunOnce(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for d.Requests.Load() < int64(len(conns)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // killed mid-pass: nothing recorded, leases held
	<-done
	d.SetDelay(0)

	heir := checker(st, "heir", sched, lease)
	calls := d.Requests.Load()
	if _, err := heir.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := d.Requests.Load(); n != calls {
		t.Fatalf("took over leased rows while the lease was live (%d calls)", n-calls)
	}
	time.Sleep(lease + 200*time.Millisecond)
	s, err := heir.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Checked < len(conns) {
		t.Fatalf("after the lease: checked %d, want %d", s.Checked, len(conns))
	}
	for _, c := range conns {
		got := mustGet(t, st, tn.OrgID, c.ID)
		if got.LastCheckedAt == nil || got.ConsecutiveFailures != 0 {
			t.Errorf("%s: %+v", c.Name, got.Health)
		}
	}
}

// Concurrent manual tests and checker runs cannot lose an increment.
func TestConcurrentOutcomesAreNotLost(t *testing.T) {
	st := connvaulttest.Store(t)
	d := providertest.NewS3(t, "AKIACONC", secret, map[string][]string{})
	tn, conns := seed(t, st, d, 1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := st.RecordCheck(context.Background(), conns[0], false, "down", connvault.DefaultSchedule, "", store.HealthAudit{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := mustGet(t, st, tn.OrgID, conns[0].ID)
	if got.ConsecutiveFailures != 4 {
		t.Errorf("4 concurrent failures recorded as %d", got.ConsecutiveFailures)
	}
}

// A provider that answers with bytes Postgres cannot store (a non-UTF-8
// SQLSTATE) still has every failed pass recorded, up to FAILED.
func TestInvalidBytesFromAProviderAreRecorded(t *testing.T) {
	pg := providertest.NewPGWire(t, "\xff\xfe\x80Z9", "caf\xe9 \x01\x7f refused")
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	past := time.Now().Add(-time.Second)
	c, err := st.CreateConnection(context.Background(), store.NewConnection{
		OrgID: tn.OrgID, UserID: tn.UserID, Name: "broken server", ProviderType: "postgresql",
		Config: seal(t, "postgresql", map[string]any{"host": "127.0.0.1", "port": float64(pg.Addr.Port), "database": "d", "ssl_mode": "disable",
			"credentials": map[string]any{"type": "username_password", "username": "u", "password": "pw-of-broken-server"}}),
		Health: connvault.Health{Status: connvault.StatusActive, NextCheckAt: &past},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Backoff 20, 40, 80, 160 ms: due again before each pass, not within one.
	sched := connvault.Schedule{Interval: time.Hour, Backoff: 20 * time.Millisecond}
	chk := checker(st, "bytes", sched, time.Minute)
	for pass := 1; pass <= 5; pass++ {
		time.Sleep(200 * time.Millisecond)
		if _, err := chk.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, err := st.GetConnection(context.Background(), tn.OrgID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ConsecutiveFailures != pass || got.LastError == nil || !utf8.ValidString(*got.LastError) {
			t.Fatalf("after pass %d: %d failures, last_error %q", pass, got.ConsecutiveFailures, deref(got.LastError))
		}
	}
	if got := mustGet(t, st, tn.OrgID, c.ID); got.Status != connvault.StatusFailed {
		t.Fatalf("status %s after five failed passes", got.Status)
	}
	if pg.Conns.Load() < 5 {
		t.Errorf("the double saw %d connections, want at least 5", pg.Conns.Load())
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// seal seals a full config as the server does before storing it.
func seal(t *testing.T, providerType string, full map[string]any) connvault.SealedConfig {
	t.Helper()
	p, ok := providers.Lookup(providerType)
	if !ok {
		t.Fatalf("no provider %s", providerType)
	}
	return providers.Seal(p, full)
}

// mustGet reads a connection back, failing the test if it cannot.
func mustGet(t *testing.T, st *store.Store, orgID, id string) *connvault.Connection {
	t.Helper()
	c, err := st.GetConnection(context.Background(), orgID, id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return c
}

// A background check that spends a rotating refresh token stores the new
// one: the next pass works too.
func TestBackgroundChecksKeepRotatedRefreshTokens(t *testing.T) {
	box := providertest.NewBox(t, "boxcid", "bg-box-secret", "bg-refresh-1", "", "", providertest.KeyPair{})
	box.SetRotation(providertest.RevokeUsedRefreshToken)
	st := connvaulttest.Store(t)
	tn := connvaulttest.NewTenant(t, st)
	past := time.Now().Add(-time.Second)
	c, err := st.CreateConnection(context.Background(), store.NewConnection{
		OrgID: tn.OrgID, UserID: tn.UserID, Name: "box in the background", ProviderType: "box",
		Config: seal(t, "box", map[string]any{"credentials": map[string]any{"type": "oauth", "client_id": "boxcid",
			"client_secret": "bg-box-secret", "refresh_token": "bg-refresh-1"}}),
		Health: connvault.Health{Status: connvault.StatusActive, NextCheckAt: &past},
	})
	if err != nil {
		t.Fatal(err)
	}
	envWithBox := providers.NewEnv(providers.EnvOptions{AllowPrivateNetworks: true, LoopbackOnly: true, Timeout: 5 * time.Second, Endpoints: box.Endpoints()})
	chk := health.New(st, health.Config{Owner: "rotating", Schedule: connvault.Schedule{Interval: time.Hour, Backoff: time.Hour},
		Concurrency: 1, CheckTimeout: 5 * time.Second, Lease: time.Minute, Env: envWithBox})
	for pass := 1; pass <= 2; pass++ {
		if _, err := st.Pool().Exec(context.Background(), `UPDATE connections SET next_check_at = now() - interval '1 second' WHERE connection_id = $1`, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := chk.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := mustGet(t, st, tn.OrgID, c.ID)
		if got.ConsecutiveFailures != 0 || got.LastError != nil {
			t.Fatalf("pass %d: %d failures, last_error %q", pass, got.ConsecutiveFailures, deref(got.LastError))
		}
	}
	if n := box.TokenExchanges.Load(); n != 2 {
		t.Errorf("%d exchanges, want 2", n)
	}
}

// A pass checks each due connection once, even when a failed check's
// backoff ends before the pass does. One check at a time and one row per
// claim: the pass claims the second connection only once the first has
// failed and become due again, so a claim by "due now" took the first
// again (and on a slow machine any pass could check a connection twice).
func TestAPassChecksAConnectionOnce(t *testing.T) {
	st := connvaulttest.Store(t)
	d := providertest.NewS3(t, "AKIAONCE", secret, map[string][]string{})
	tn, conns := seed(t, st, d, 2)
	d.RotateSecret("changed-at-the-provider") // every check fails
	chk := health.New(st, health.Config{Owner: "once", Schedule: connvault.Schedule{Interval: time.Hour, Backoff: time.Nanosecond},
		Concurrency: 1, Batch: 1, CheckTimeout: 5 * time.Second, Lease: time.Minute, Env: env()})
	stats, err := chk.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Checked != 2 {
		t.Errorf("one pass over 2 due connections checked %d times", stats.Checked)
	}
	for _, c := range conns {
		if got := mustGet(t, st, tn.OrgID, c.ID); got.ConsecutiveFailures != 1 {
			t.Errorf("%s: %d failures after one pass", c.Name, got.ConsecutiveFailures)
		}
	}
}

// A claim takes no more rows than there are free slots, so a claimed row
// starts its check at once, under its whole lease: with one check at a
// time and a lease of two check timeouts, every check times out and yet
// each outcome is recorded. Claiming four rows for one slot, the last
// ones' leases ran out while they waited, the next claim took them again,
// and outcomes were dropped as "lease lost".
func TestQueuedChecksKeepTheirLease(t *testing.T) {
	st := connvaulttest.Store(t)
	d := providertest.NewS3(t, "AKIAQUEUED", secret, map[string][]string{})
	tn, conns := seed(t, st, d, 4)
	d.SetDelay(2 * time.Second) // every check times out
	chk := health.New(st, health.Config{Owner: "queued", Schedule: connvault.Schedule{Interval: time.Hour, Backoff: time.Hour},
		Concurrency: 1, Batch: 4, CheckTimeout: 150 * time.Millisecond, Lease: 300 * time.Millisecond, Env: env()})
	stats, err := chk.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// (Rows other tests left due are checked too.)
	if stats.LeaseLost != 0 || stats.Checked < 4 {
		t.Errorf("4 due connections, every check timing out: %+v", stats)
	}
	for _, c := range conns {
		if got := mustGet(t, st, tn.OrgID, c.ID); got.ConsecutiveFailures != 1 {
			t.Errorf("%s: %d failures after one pass", c.Name, got.ConsecutiveFailures)
		}
	}
}
