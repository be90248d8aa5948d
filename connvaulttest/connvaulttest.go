// Package connvaulttest builds real connvault servers for tests: a real
// Postgres (the server CONNVAULT_TEST_DATABASE_URL names, as `make test`
// sets up), the real store and the Echo instance main serves, behind
// httptest. Each test process (one per package) gets a database of its own
// on that server; within it tenants are isolated by organization, so a
// package's tests run in parallel.
package connvaulttest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen/client"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/server"
	"github.com/connvault/connvault/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EncryptionKey is the server key every test server uses.
const EncryptionKey = "test-encryption-key-0123456789abcdef0123456789"

var (
	dbOnce  sync.Once
	dbURL   string
	dbErr   error
	poolOne sync.Once
	pool    *pgxpool.Pool
	poolErr error
)

// serverURL is the test database the environment names (`make test` sets
// CONNVAULT_TEST_DATABASE_URL): each test process works in a database of
// its own on that server, never in this one.
func serverURL(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"CONNVAULT_TEST_DATABASE_URL", "CONNVAULT_DATABASE_URL"} {
		if v := os.Getenv(name); v != "" {
			return v
		}
	}
	t.Fatal("CONNVAULT_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a local Postgres")
	return ""
}

// DatabaseURL returns the URL of this test process's own database, made
// empty on first use: packages that `go test` runs side by side (one
// process each) never see each other's rows, so no test depends on another
// package's connections not being due, say.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	base := serverURL(t)
	dbOnce.Do(func() { dbURL, dbErr = processDatabase(base) })
	if dbErr != nil {
		t.Fatalf("test database: %v", dbErr)
	}
	return dbURL
}

// processDatabasePrefix names the databases of test processes.
const processDatabasePrefix = "connvault_proc_"

// processDatabase creates connvault_proc_<pid>_<package> on the server of
// base, first dropping those of test processes that are gone (a process
// cannot drop its own at exit without a TestMain in every package).
func processDatabase(base string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", err
	}
	defer admin.Close(ctx)
	rows, err := admin.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1", processDatabasePrefix+"%")
	if err != nil {
		return "", err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	for _, name := range names {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(name, processDatabasePrefix), "_")
		if pid, err := strconv.Atoi(pidText); err == nil && !processAlive(pid) {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		}
	}
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	pkg = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(pkg))
	name := fmt.Sprintf("%s%d_%.20s", processDatabasePrefix, os.Getpid(), pkg)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// processAlive reports whether a process of this machine has the pid.
func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// Pool returns the migrated pool of this process's test database.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := DatabaseURL(t)
	poolOne.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, poolErr = store.Open(ctx, url, store.OpenOptions{})
		if poolErr == nil {
			poolErr = store.Migrate(ctx, pool)
		}
	})
	if poolErr != nil {
		t.Fatalf("test database: %v", poolErr)
	}
	return pool
}

// Store returns a store on the test database with the test key.
func Store(t testing.TB) *store.Store {
	t.Helper()
	keys, err := store.NewKeyring(EncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	return store.New(Pool(t), keys)
}

// Tenant is an organization with a user and an API key of every scope.
type Tenant struct {
	OrgID  string
	UserID string
	APIKey string
	KeyID  string
}

// NewTenant creates a fresh organization, user and key.
func NewTenant(t testing.TB, st *store.Store) Tenant {
	t.Helper()
	tn := Tenant{OrgID: connvault.NewOrgID(), UserID: connvault.NewUserID()}
	tn.APIKey, tn.KeyID = NewKey(t, st, tn, connvault.AllScopes...)
	return tn
}

// NewKey creates another key of the tenant's user with the given scopes
// and answers it and its id.
func NewKey(t testing.TB, st *store.Store, tn Tenant, scopes ...connvault.Scope) (string, string) {
	t.Helper()
	key, k, err := st.CreateAPIKey(context.Background(), store.NewAPIKey{OrgID: tn.OrgID, UserID: tn.UserID, Name: "test", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return key, k.ID
}

// Options adjust a test server.
type Options struct {
	// Endpoints override provider URLs (pointing them at doubles).
	Endpoints map[string]string
	// CheckTimeout bounds checks (default 5s).
	CheckTimeout time.Duration
	// Schedule of background checks (default connvault.DefaultSchedule).
	Schedule connvault.Schedule
	// RateLimit limits each API key to this many requests per second with
	// a burst of one (default 0: unlimited).
	RateLimit float64
	// AuthCacheTTL overrides the server's API key cache TTL.
	AuthCacheTTL time.Duration
	// BrokenDatabase gives the server its own pool and closes it once the
	// tenant exists, so every request meets a failing database (500s).
	BrokenDatabase bool
	// DenyPrivateNetworks runs the production SSRF guard (checks may not
	// dial loopback), for tests of the guard itself.
	DenyPrivateNetworks bool
	// UnreachableDatabase gives the server a pool whose database refuses
	// every connection (a closed loopback port): every request that needs
	// the database meets an outage (503s).
	UnreachableDatabase bool
	// DatabaseURL, when set, is the (migrated) database the server and its
	// tenant use: a FreshDatabase, or a fault-injecting proxy in front of
	// the test database.
	DatabaseURL string
	// OnResponseViolation replaces the default (t.Errorf) for answers that
	// do not match the spec: fuzz targets report them from their own t.
	OnResponseViolation func(method, path string, status int, err error)
	// Tenant, when set, is the tenant the harness speaks for (another
	// server's, to run two replicas of one organization).
	Tenant *Tenant
	// SkipResponseValidation serves as production does by default, without
	// checking answers against the spec: for benchmarks of the handler path.
	SkipResponseValidation bool
	// DiscardLogs logs as production does, through a server.LogBuffer, into
	// nothing: for benchmarks, where a test buffer growing by a line per
	// request (copied at every doubling) would be counted as the server's.
	// Logs then returns "".
	DiscardLogs bool
	// EncryptionKeys, when set, are the server's keys, the current one
	// first and then previous ones (default: EncryptionKey alone). With
	// DatabaseURL and Tenant, two servers act as replicas before and after
	// a key rotation.
	EncryptionKeys []string
	// UnauthenticatedRateLimit limits requests without a valid key per
	// client address (0: unlimited), burst UnauthenticatedBurst.
	UnauthenticatedRateLimit float64
	UnauthenticatedBurst     int
}

// Harness is a running server with one tenant.
type Harness struct {
	URL string
	// Handler is the server itself, for in-process benchmarks.
	Handler http.Handler
	Store   *store.Store
	Tenant  Tenant
	// Client is the generated Go client, authenticated as Tenant.
	Client *client.ClientWithResponses
	logs   *SyncBuffer
}

// Logs returns everything the server logged so far.
func (h *Harness) Logs() string { return h.logs.String() }

// ClientFor returns a generated client authenticated with apiKey.
func (h *Harness) ClientFor(t testing.TB, apiKey string) *client.ClientWithResponses {
	t.Helper()
	c, err := client.NewClientWithResponses(h.URL, client.WithRequestEditorFn(bearer(apiKey)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewServer starts a server on the test database. Provider checks may dial
// loopback (the doubles live there); the background checker is off.
func NewServer(t testing.TB, opts Options) *Harness {
	t.Helper()
	st := Store(t)
	var broken *pgxpool.Pool
	if opts.BrokenDatabase {
		var err error
		if broken, err = store.Open(context.Background(), DatabaseURL(t), store.OpenOptions{}); err != nil {
			t.Fatal(err)
		}
		keys, _ := store.NewKeyring(EncryptionKey)
		st = store.New(broken, keys)
	}
	tenantStore := st
	keys, _ := store.NewKeyring(EncryptionKey)
	if len(opts.EncryptionKeys) > 0 {
		var err error
		if keys, err = store.NewKeyring(opts.EncryptionKeys[0], opts.EncryptionKeys[1:]...); err != nil {
			t.Fatal(err)
		}
		if opts.DatabaseURL == "" {
			t.Fatal("EncryptionKeys needs a DatabaseURL: the default store uses EncryptionKey")
		}
	}
	switch {
	case opts.UnreachableDatabase:
		// Nothing listens on port 1; the pool connects lazily.
		p, err := pgxpool.New(context.Background(), "postgres://connvault@127.0.0.1:1/unreachable?sslmode=disable&connect_timeout=1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		st = store.New(p, keys)
	case opts.DatabaseURL != "":
		p, err := store.Open(context.Background(), opts.DatabaseURL, store.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		st = store.New(p, keys)
		tenantStore = st
	}
	if opts.CheckTimeout == 0 {
		opts.CheckTimeout = 5 * time.Second
	}
	onViolation := opts.OnResponseViolation
	if onViolation == nil {
		onViolation = func(method, path string, status int, err error) {
			t.Errorf("answer does not match openapi.yaml: %s %s -> %d: %v", method, path, status, err)
		}
	}
	logs := &SyncBuffer{}
	var logTo io.Writer = logs
	if opts.DiscardLogs {
		buffered := server.NewLogBuffer(io.Discard, time.Second)
		t.Cleanup(func() { _ = buffered.Close() })
		logTo = buffered
	}
	logger, err := server.NewLogger(logTo, "debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		Env:                      providers.NewEnv(providers.EnvOptions{AllowPrivateNetworks: !opts.DenyPrivateNetworks, LoopbackOnly: true, Timeout: opts.CheckTimeout, Endpoints: opts.Endpoints}),
		CheckTimeout:             opts.CheckTimeout,
		Schedule:                 opts.Schedule,
		AuthCacheTTL:             opts.AuthCacheTTL,
		RateLimit:                opts.RateLimit,
		RateBurst:                1,
		UnauthenticatedRateLimit: opts.UnauthenticatedRateLimit,
		UnauthenticatedBurst:     opts.UnauthenticatedBurst,
		Logger:                   logger,
	}
	if !opts.SkipResponseValidation {
		// Every answer of every test server is checked against the spec.
		cfg.OnResponseViolation = onViolation
	}
	e, err := server.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(recordStatuses(e))
	srv.Listener = server.AnswerProtocolErrorsInEnvelope(srv.Listener)
	srv.Start()
	t.Cleanup(srv.Close)
	h := &Harness{URL: srv.URL, Handler: e, Store: tenantStore, logs: logs}
	if opts.Tenant != nil {
		h.Tenant = *opts.Tenant
	} else {
		h.Tenant = NewTenant(t, tenantStore)
	}
	if broken != nil {
		broken.Close()
	}
	h.Client = h.ClientFor(t, h.Tenant.APIKey)
	return h
}

// SyncBuffer is a buffer several goroutines may write (a server's log).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreshDatabase creates an empty, migrated database of its own on the test
// server for tests that must not share state (the start-up key check, the
// database's log settings), drops it when the test ends, and returns its URL.
func FreshDatabase(t testing.TB) string {
	t.Helper()
	base := DatabaseURL(t)
	name := fmt.Sprintf("%s%d_fresh_%s", processDatabasePrefix, os.Getpid(), strings.ToLower(connvault.NewUserID()[4:]))
	ctx := context.Background()
	admin := Pool(t)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	pool, err := store.Open(ctx, u.String(), store.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := store.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return u.String()
}
