package providers_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/connvaulttest"
	"github.com/connvault/connvault/providers"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testRole is a login role made for one test in the test database, so its
// password is known, and where that database listens.
type testRole struct {
	pool           *pgxpool.Pool
	host, db       string
	port           int
	role, password string
}

// newTestRole creates the role (named prefix_...) until the test ends.
func newTestRole(t *testing.T, prefix string) testRole {
	t.Helper()
	pool := connvaulttest.Pool(t)
	u, err := url.Parse(connvaulttest.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	r := testRole{pool: pool, host: u.Hostname(), db: strings.TrimPrefix(u.Path, "/")}
	r.port, _ = strconv.Atoi(u.Port())
	r.role = prefix + "_" + strings.ToLower(connvault.NewUserID()[4:])
	r.password = "pg-" + prefix + "-password-" + r.role
	if _, err := pool.Exec(context.Background(), "CREATE ROLE "+r.role+" LOGIN PASSWORD '"+r.password+"'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+r.role) })
	return r
}

// config is a postgresql config for the test database as user/pass.
func (r testRole) config(user, pass, db, table string) providers.Config {
	c := providers.Config{"host": r.host, "port": float64(r.port), "database": db, "ssl_mode": "disable",
		"credentials": map[string]any{"type": "username_password", "username": user, "password": pass}}
	if table != "" {
		c["table"] = table
	}
	return c
}

// TestPostgresCheck runs the check against the test database itself, with
// a role created for the test so the password is known.
func TestPostgresCheck(t *testing.T) {
	t.Parallel()
	r := newTestRole(t, "check")
	pool, role, password, db, cfg := r.pool, r.role, r.password, r.db, r.config
	ctx := context.Background()
	env := localEnv(nil)

	res := run(t, "postgresql", cfg(role, password, db, "connections"), env)
	if !res.Success {
		t.Fatalf("check failed: %+v", res)
	}
	names := []string{}
	for _, s := range res.Steps {
		names = append(names, s.Name+"="+string(s.Status))
	}
	if got := strings.Join(names, ","); got != "connect=PASSED,authenticate=PASSED,SELECT 1=PASSED,find table=PASSED" {
		t.Errorf("steps = %s", got)
	}

	for _, tc := range []struct {
		name, user, pass, db, table, message string
		steps                                string
	}{
		{"wrong password", role, "not-the-password", db, "", "authentication failed", "connect=PASSED,authenticate=FAILED"},
		{"unknown user", role + "_nobody", password, db, "", "authentication failed", "connect=PASSED,authenticate=FAILED"},
		{"unknown database", role, password, "no_such_db_here", "", "database does not exist", "connect=PASSED,authenticate=FAILED"},
		{"missing table", role, password, db, "no_such_table", "table was not found",
			"connect=PASSED,authenticate=PASSED,SELECT 1=PASSED,find table=FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rawCheck(t, "postgresql", cfg(tc.user, tc.pass, tc.db, tc.table), env)
			if res.Success || !strings.Contains(res.Message, tc.message) {
				t.Fatalf("got %+v, want failure %q", res, tc.message)
			}
			if got := stepList(res); got != tc.steps {
				t.Errorf("steps = %s, want %s", got, tc.steps)
			}
			assertNoSecret(t, res, password, "not-the-password")
		})
	}

	// ssl_mode defaults to prefer, which falls back to plaintext on a
	// server without TLS; require does not.
	noMode := cfg(role, password, db, "")
	delete(noMode, "ssl_mode")
	if res := run(t, "postgresql", noMode, env); !res.Success {
		t.Errorf("default ssl_mode: %+v", res)
	}
	var ssl string
	if err := pool.QueryRow(ctx, "SHOW ssl").Scan(&ssl); err == nil && ssl == "off" {
		required := cfg(role, password, db, "")
		required["ssl_mode"] = "require"
		if res := run(t, "postgresql", required, env); res.Success || !strings.Contains(res.Message, "TLS") {
			t.Errorf("ssl_mode=require against a server without TLS: %+v", res)
		}
	}

	// The check's deadline ends a connection attempt that never answers.
	quiet, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	go func() {
		for {
			c, err := quiet.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept and say nothing
		}
	}()
	silent := cfg(role, password, db, "")
	silent["host"], silent["port"] = "127.0.0.1", float64(quiet.Addr().(*net.TCPAddr).Port)
	p, _ := providers.Lookup("postgresql")
	sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if res := providers.Run(sctx, p, silent, env); res.Success || !res.TimedOut || time.Since(start) > 2*time.Second {
		t.Errorf("silent server: %+v after %v", res, time.Since(start))
	}
}

func stepList(res providers.Result) string {
	var out []string
	for _, s := range res.Steps {
		out = append(out, s.Name+"="+string(s.Status))
	}
	return strings.Join(out, ",")
}

func TestPostgresCheckRefusesLoopbackByDefault(t *testing.T) {
	t.Parallel()
	env := providers.NewEnv(providers.EnvOptions{})
	res := run(t, "postgresql", providers.Config{"host": "127.0.0.1", "port": float64(1), "database": "x",
		"credentials": map[string]any{"type": "username_password", "username": "u", "password": "secret-pw"}}, env)
	if res.Success || !strings.Contains(res.Message, "refused to connect") {
		t.Fatalf("got %+v", res)
	}
}

// The issued password connects: a worker gets what it needs to log in as
// the connection's role, and nothing is sent while issuing.
func TestPostgresIssue(t *testing.T) {
	t.Parallel()
	r := newTestRole(t, "issue")
	ctx := context.Background()
	cfg := r.config(r.role, r.password, r.db, "connections")
	// No Env at all: issuing a stored password dials nothing.
	iss := mustIssue(t, "postgresql", cfg, providers.Env{})
	expectStatic(t, iss, map[string]any{"username": r.role, "password": r.password, "host": r.host, "port": r.port,
		"database": r.db, "ssl_mode": "disable"})

	c := iss.Credentials
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s sslmode=%s",
		c["host"], c["port"], c["database"], c["username"], c["password"], c["ssl_mode"]))
	if err != nil {
		t.Fatalf("the issued password does not connect: %v", err)
	}
	defer conn.Close(ctx)
	var who string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != r.role {
		t.Errorf("connected as %q (%v), want %s", who, err, r.role)
	}

	// The spec's defaults are what a worker connects with when unset.
	delete(cfg, "port")
	delete(cfg, "ssl_mode")
	iss = mustIssue(t, "postgresql", cfg, providers.Env{})
	if iss.Credentials["port"] != 5432 || iss.Credentials["ssl_mode"] != "prefer" {
		t.Errorf("defaults: port %v, ssl_mode %v", iss.Credentials["port"], iss.Credentials["ssl_mode"])
	}
}
