package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connvault/connvault/store"
	"github.com/connvault/connvault/store/sqlcdb"
)

// The absolute floors beside the per-operation SQL floor: what Postgres
// itself does for the simplest point select (pgbench -S -M prepared), and
// what a plain net/http handler answering the same bytes does under the
// same HTTP load generator. A GET by id can be no faster than either. A
// third, the plain handler that first runs GET by id's query through a
// pgx pool (one query per request, as a service without connvault's
// batching would), is the cost of a database-backed GET in Go on this
// machine before any of connvault's own work: auth, validation, logging,
// encoding the row.

type floors struct {
	// The medians of the rounds.
	PgbenchSelectTPS float64 `json:"pgbench_select_tps"`
	PgbenchCommand   string  `json:"pgbench_command"`
	PlainHTTPRPS     float64 `json:"plain_http_rps"`
	PlainHTTPBytes   int     `json:"plain_http_body_bytes"`
	PlainHTTPPgxRPS  float64 `json:"plain_http_pgx_rps"`
	// Rounds are GET by id and the floors measured back to back.
	Rounds []floorRound `json:"rounds"`
}

type floorRound struct {
	GetByIDRPS       float64 `json:"get_by_id_rps"`
	PgbenchSelectTPS float64 `json:"pgbench_select_tps"`
	PlainHTTPRPS     float64 `json:"plain_http_rps"`
	PlainHTTPPgxRPS  float64 `json:"plain_http_pgx_rps"`
	// CPU per request of the process that answered (connvault, or the
	// plain handler's).
	GetByIDCPUMicros      float64 `json:"get_by_id_cpu_us_per_req"`
	PlainHTTPCPUMicros    float64 `json:"plain_http_cpu_us_per_req"`
	PlainHTTPPgxCPUMicros float64 `json:"plain_http_pgx_cpu_us_per_req"`
	// The credentials workloads right after GET by id, when the run has
	// them: the targets relate them to GET by id.
	CredentialsStaticRPS       float64 `json:"credentials_static_rps,omitempty"`
	CredentialsCachedRPS       float64 `json:"credentials_cached_rps,omitempty"`
	CredentialsStaticCPUMicros float64 `json:"credentials_static_cpu_us_per_req,omitempty"`
	CredentialsCachedCPUMicros float64 `json:"credentials_cached_cpu_us_per_req,omitempty"`
	// The local Postgres' CPU per request (0 when it runs elsewhere); not
	// for pgbench, whose backends end with it and take their time along.
	GetByIDPostgresMicros           float64 `json:"get_by_id_postgres_us_per_req,omitempty"`
	CredentialsStaticPostgresMicros float64 `json:"credentials_static_postgres_us_per_req,omitempty"`
	CredentialsCachedPostgresMicros float64 `json:"credentials_cached_postgres_us_per_req,omitempty"`
	PlainHTTPPgxPostgresMicros      float64 `json:"plain_http_pgx_postgres_us_per_req,omitempty"`
}

// medianOf is the median of value over the rounds (the middle one, or the
// mean of the two middle ones).
func medianOf(rounds []floorRound, value func(floorRound) float64) float64 {
	v := make([]float64, len(rounds))
	for i, r := range rounds {
		v[i] = value(r)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbenchSelect runs pgbench's select-only workload against a database of
// its own on the bench database's server, at the given clients.
func pgbenchSelect(ctx context.Context, databaseURL string, clients int, d time.Duration) (float64, string, error) {
	bin := os.Getenv("CONNVAULT_PG_BIN")
	if bin == "" {
		return 0, "", errors.New("CONNVAULT_PG_BIN is not set (make bench sets it)")
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return 0, "", err
	}
	admin := *u
	u.Path = "/connvault_pgbench"
	conn := u.String()
	psql := exec.CommandContext(ctx, filepath.Join(bin, "psql"), "-X", "-q", admin.String(), "-tAc",
		"SELECT 1 FROM pg_database WHERE datname = 'connvault_pgbench'")
	out, err := psql.Output()
	if err != nil {
		return 0, "", fmt.Errorf("psql: %w", err)
	}
	if strings.TrimSpace(string(out)) != "1" {
		create := exec.CommandContext(ctx, filepath.Join(bin, "psql"), "-X", "-q", admin.String(), "-c", "CREATE DATABASE connvault_pgbench")
		create.Stderr = os.Stderr
		if err := create.Run(); err != nil {
			return 0, "", fmt.Errorf("create pgbench database: %w", err)
		}
		initdb := exec.CommandContext(ctx, filepath.Join(bin, "pgbench"), "-i", "-q", "-s", "1", conn)
		initdb.Stderr = os.Stderr
		if err := initdb.Run(); err != nil {
			return 0, "", fmt.Errorf("pgbench -i: %w", err)
		}
	}
	args := []string{"-S", "-M", "prepared", "-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(max(1, int(d.Seconds())))}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pgbench"), append(args, conn)...)
	out, err = cmd.CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("pgbench: %w: %s", err, out)
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		return 0, "", fmt.Errorf("pgbench printed no tps: %s", out)
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	return tps, "pgbench " + strings.Join(args, " "), err
}

// plainServer is this program run as a plain net/http server (another
// process, as connvault is) answering every request with body; given a
// database URL, a request for plainPgxPath first runs GET by id's query.
type plainServer struct {
	cmd *exec.Cmd
	url string
}

const plainServeFlag = "-serve-plain-http"

func startPlainServer(body []byte, databaseURL string) (*plainServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	f, err := os.CreateTemp("", "connvault-plain-body-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(body); err != nil {
		return nil, err
	}
	f.Close()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, plainServeFlag, addr, f.Name())
	// The URL travels in the environment, not in the process list.
	cmd.Env = append(os.Environ(), plainDatabaseEnv+"="+databaseURL)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &plainServer{cmd: cmd, url: "http://" + addr}
	for range 100 {
		if resp, err := http.Get(p.url + "/"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return nil, errors.New("plain server did not start")
}

func (p *plainServer) stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

const (
	plainDatabaseEnv = "CONNVAULT_PLAIN_DATABASE_URL"
	// plainPgxPath is followed by an organization's internal id and a
	// connection id: the plain handler has no API keys to find the
	// organization by.
	plainPgxPath = "/plain-pgx/"
)

// servePlain is the plain server's main: it reads the body once, then
// answers every request with it, after GET by id's query for
// plainPgxPath.
func servePlain(addr, bodyFile string) error {
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return err
	}
	var q *sqlcdb.Queries
	if url := os.Getenv(plainDatabaseEnv); url != "" {
		// store.Open: the pool the server opens, same size and settings.
		pool, err := store.Open(context.Background(), url, store.OpenOptions{})
		if err != nil {
			return err
		}
		defer pool.Close()
		q = sqlcdb.New(pool)
	}
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { //nolint:gosec // loopback bench double
		if rest, ok := strings.CutPrefix(r.URL.Path, plainPgxPath); ok && q != nil {
			org, id, _ := strings.Cut(rest, "/")
			if _, err := q.GetConnectionByID(r.Context(), sqlcdb.GetConnectionByIDParams{InternalID: org, ConnectionID: id}); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
}

// httpPlain is the load against the plain server: a GET like a GET by id
// (of path's connection), through the same client as the server's load.
func httpPlain(c *rawClient, path func(e *env, t target) string) func(context.Context, *env, *rand.Rand) error {
	return func(ctx context.Context, e *env, r *rand.Rand) error {
		t := e.pick(r)
		status, err := c.do(ctx, "GET", path(e, t), e.fx.orgs[t.org].Key, nil)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("plain server: GET %s: HTTP %d", path(e, t), status)
		}
		return err
	}
}

// The paths of the plain handler's two loads: answer only, and the query
// through pgx first.
func plainPath(_ *env, t target) string { return "/v1/organizations/connections/" + t.id }

func plainPgxQueryPath(e *env, t target) string {
	return plainPgxPath + e.fx.orgs[t.org].ID + "/" + t.id
}
