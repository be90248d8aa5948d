package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/store"
	"github.com/connvault/connvault/store/sqlcdb"
	"github.com/jackc/pgx/v5/pgxpool"
)

const benchKey = "bench-encryption-key-0123456789abcdef-0123456789"

// env is what every request of a run may use.
type env struct {
	fx      *fixture
	baseURL string
	client  *http.Client // setup requests
	http    *rawClient   // the load
	q       *sqlcdb.Queries
	keys    store.Keyring
	runID   string
	seq     atomic.Int64
	pg      postgresProcs // the local Postgres, for its CPU per request
	s3Body  func(name string) []byte
	s3Split struct {
		public  []byte
		secrets string
		fields  []byte
	}
	// versions holds each target's version at its last static issue by
	// the floor, as the server's lastIssues does (conn_ id -> int64).
	versions sync.Map
}

// operation is one workload, with its HTTP request and its floor: the SQL
// the handler issues for it, run directly through pgx.
type operation struct {
	name  string
	http  func(ctx context.Context, e *env, r *rand.Rand) error
	floor func(ctx context.Context, e *env, r *rand.Rand) error
	// writes: it inserts or updates rows (connections or audit events),
	// so the database is settled again after it (see settler).
	writes bool
}

func run(ctx context.Context, o options) error {
	keys, err := store.NewKeyring(benchKey)
	if err != nil {
		return err
	}
	pool, err := store.Open(ctx, o.databaseURL, store.OpenOptions{})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := store.Migrate(ctx, pool); err != nil {
		return err
	}
	st := store.New(pool, keys)
	fx, err := seed(ctx, st, o)
	if err != nil {
		return err
	}
	srv, err := startServer(ctx, o.databaseURL, o.serverBin)
	if err != nil {
		return err
	}
	defer srv.stop()

	e := &env{fx: fx, baseURL: srv.url, q: sqlcdb.New(pool), keys: keys, runID: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
	e.client = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}}
	e.http = newRawClient(srv.url, 256)
	defer e.http.close()
	p, _ := providers.Lookup("s3")
	_, cfg := seedConfig(0)
	// Sealed as the server seals it: the marker where the secret was.
	sealed := providers.Seal(p, cfg)
	e.s3Split.public, _ = json.Marshal(sealed.Config)
	sj, _ := json.Marshal(sealed.Secrets.Plain())
	e.s3Split.secrets = string(sj)
	e.s3Split.fields = []byte(`[{"field":"credentials.secret_access_key","set":true,"fingerprint":"hmac-sha256:0000000000000000","changed_at":"2026-11-24T00:00:00Z"}]`)
	e.s3Body = func(name string) []byte {
		b, _ := json.Marshal(map[string]any{"name": name, "provider_type": "s3", "provider_config": cfg, "test_before_save": false})
		return b
	}

	pg := findPostgres(ctx, pool)
	e.pg = pg
	settle, err := newSettler(ctx, pool)
	if err != nil {
		return err
	}
	defer settle.restore(context.WithoutCancel(ctx))

	report := &report{Machine: machine(), Commit: gitCommit(), Date: time.Now().UTC().Format(time.RFC3339),
		Rows: o.rows, Orgs: o.orgs, Duration: o.duration.String(), PoolSize: int(pool.Config().MaxConns), ServerBinary: o.serverBin}
	report.HostProbeMs[0] = ms(hostProbe())
	for _, op := range operations() {
		if o.only != "" && !strings.Contains(","+o.only+",", ","+op.name+",") {
			continue
		}
		for _, level := range o.levels {
			if err := settle.before(ctx); err != nil {
				return err
			}
			cpu0, pg0 := cpuTicks(srv.cmd.Process.Pid), pg.ticks()
			h := measure(ctx, e, level, o.warmup, o.duration, op.http)
			cpu, pgHTTP := cpuTicks(srv.cmd.Process.Pid)-cpu0, pg.ticks()-pg0
			settle.wrote(op.writes)
			if err := settle.before(ctx); err != nil {
				return err
			}
			pg0 = pg.ticks()
			f := measure(ctx, e, level, o.warmup, o.duration, op.floor)
			pgFloor := pg.ticks() - pg0
			settle.wrote(op.writes)
			row := result{Operation: op.name, Concurrency: level, HTTP: h, Floor: f}
			row.ServerCPUMicrosPerRequest = cpuMicrosPerRequest(cpu, h)
			if pg.postmaster != 0 {
				row.PostgresCPUMicrosPerRequest = cpuMicrosPerRequest(pgHTTP, h)
				row.FloorPostgresCPUMicrosPerRequest = cpuMicrosPerRequest(pgFloor, f)
			}
			if f.Throughput > 0 {
				row.Ratio = h.Throughput / f.Throughput
			}
			report.Results = append(report.Results, row)
			printRow(row)
		}
	}
	report.ServerPeakRSSMB = float64(srv.peakRSSKB()) / 1024
	fmt.Printf("\nserver peak RSS: %.1f MB\n", report.ServerPeakRSSMB)
	if err := settle.before(ctx); err != nil {
		return err
	}
	if err := measureFloors(ctx, e, srv, o, report); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: floors:", err)
	}
	report.HostProbeMs[1] = ms(hostProbe())
	fmt.Printf("\nhost probe (sorting 2^20 integers on one core, higher is slower): %.1f ms before the first measurement, %.1f ms after the last\n",
		report.HostProbeMs[0], report.HostProbeMs[1])
	if o.handlers && o.serverBin == "" && o.only == "" {
		benches, err := handlerBenchmarks(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: handler benchmarks:", err)
		}
		report.HandlerBenchmarks = benches
		fmt.Println("\nin-process handler path (go test -bench Handler -benchmem ./server):")
		for _, b := range benches {
			fmt.Printf("  %-40s %7.1f cpu us/req %6.0f allocs/req %7.0f B/req\n", b.Name, b.CPUMicrosPerOp, b.AllocsPerOp, b.BytesPerOp)
		}
	}
	return report.write(o.out)
}

func operations() []operation {
	return []operation{
		{name: "create", http: httpCreate, floor: floorCreate, writes: true},
		{name: "get_by_id", http: httpGetByID, floor: floorGetByID},
		{name: "get_by_name", http: httpGetByName, floor: floorGetByName},
		{name: "list_first_page", http: httpListFirst, floor: floorListFirst},
		{name: "list_cursor_deep", http: httpListDeep, floor: floorListDeep},
		{name: "patch", http: httpPatch, floor: floorPatch, writes: true},
		{name: "mixed_80_15_5", http: mixed(httpGetByID, httpPatch, httpCreate), floor: mixed(floorGetByID, floorPatch, floorCreate), writes: true},
		// Every issue writes its audit event.
		{name: "credentials_static", http: httpCredentialsStatic, floor: floorCredentialsStatic, writes: true},
		{name: "credentials_cached", http: httpCredentialsCached, floor: floorCredentialsCached, writes: true},
	}
}

func mixed(read, update, create func(context.Context, *env, *rand.Rand) error) func(context.Context, *env, *rand.Rand) error {
	return func(ctx context.Context, e *env, r *rand.Rand) error {
		switch n := r.IntN(100); {
		case n < 80:
			return read(ctx, e, r)
		case n < 95:
			return update(ctx, e, r)
		default:
			return create(ctx, e, r)
		}
	}
}

// ---- HTTP side ----

func (e *env) do(ctx context.Context, method, path string, org int, body []byte) error {
	status, err := e.http.do(ctx, method, path, e.fx.orgs[org].Key, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d", method, path, status)
	}
	return nil
}

func (e *env) pick(r *rand.Rand) target { return e.fx.targets[r.IntN(len(e.fx.targets))] }

func (e *env) newName() string {
	return "bench-" + e.runID + "-" + strconv.FormatInt(e.seq.Add(1), 36)
}

// smallOrg spreads creates over the organizations other than the big one.
func (e *env) smallOrg(r *rand.Rand) int { return 1 + r.IntN(len(e.fx.orgs)-1) }

func httpCreate(ctx context.Context, e *env, r *rand.Rand) error {
	return e.do(ctx, "POST", "/v1/organizations/connections", e.smallOrg(r), e.s3Body(e.newName()))
}

func httpGetByID(ctx context.Context, e *env, r *rand.Rand) error {
	t := e.pick(r)
	return e.do(ctx, "GET", "/v1/organizations/connections/"+t.id, t.org, nil)
}

func httpGetByName(ctx context.Context, e *env, r *rand.Rand) error {
	t := e.pick(r)
	return e.do(ctx, "GET", "/v1/organizations/connections/"+url.PathEscape(t.name), t.org, nil)
}

func httpListFirst(ctx context.Context, e *env, _ *rand.Rand) error {
	return e.do(ctx, "GET", "/v1/organizations/connections?limit=50", 0, nil)
}

func httpListDeep(ctx context.Context, e *env, _ *rand.Rand) error {
	return e.do(ctx, "GET", "/v1/organizations/connections?limit=50&cursor="+e.fx.deepCursor.Encode(), 0, nil)
}

func httpPatch(ctx context.Context, e *env, r *rand.Rand) error {
	t := e.pick(r)
	body := []byte(`{"description":"bench ` + strconv.Itoa(r.IntN(1_000_000)) + `"}`)
	err := e.do(ctx, "PATCH", "/v1/organizations/connections/"+t.id, t.org, body)
	if err != nil && strings.HasSuffix(err.Error(), "HTTP 409") {
		return errConflict // a concurrent PATCH of the same row won: expected under load
	}
	return err
}

var errConflict = errors.New("concurrent update")

// ---- floor: the handlers' SQL through pgx, no HTTP, JSON or auth ----

func floorCreate(ctx context.Context, e *env, r *rand.Rand) error {
	org := e.fx.orgs[e.smallOrg(r)]
	keyID := e.keys.CurrentID
	secrets := e.s3Split.secrets
	now := time.Now()
	next := now.Add(15 * time.Minute)
	// The handler's statement: the row, its encrypted secrets and its
	// audit event.
	action := string(connvault.ActionCreated)
	_, err := e.q.InsertConnection(ctx, sqlcdb.InsertConnectionParams{
		InternalID: org.ID, ConnectionID: connvault.NewConnectionID(), Name: e.newName(), ProviderType: "s3",
		ProviderConfig: e.s3Split.public, SecretKeyID: &keyID, SecretFields: e.s3Split.fields, Metadata: []byte(`{}`),
		CreatedByUserID: org.UserID, Status: "ACTIVE", StatusChangedAt: &now, NextCheckAt: &next,
		SecretsJson: &secrets, EncryptionKey: e.keys.CurrentPassphrase(),
		EventAction: &action, EventActorUserID: &org.UserID, EventDetails: []byte(`{"provider_type": "s3", "tested": false}`),
	})
	return err
}

func floorGetByID(ctx context.Context, e *env, r *rand.Rand) error {
	t := e.pick(r)
	_, err := e.q.GetConnectionByID(ctx, sqlcdb.GetConnectionByIDParams{InternalID: e.fx.orgs[t.org].ID, ConnectionID: t.id})
	return err
}

func floorGetByName(ctx context.Context, e *env, r *rand.Rand) error {
	t := e.pick(r)
	_, err := e.q.GetConnectionByName(ctx, sqlcdb.GetConnectionByNameParams{InternalID: e.fx.orgs[t.org].ID, Name: t.name})
	return err
}

func floorListFirst(ctx context.Context, e *env, _ *rand.Rand) error {
	_, err := e.q.ListConnections(ctx, sqlcdb.ListConnectionsParams{InternalID: e.fx.orgs[0].ID, RowLimit: 51})
	return err
}

func floorListDeep(ctx context.Context, e *env, _ *rand.Rand) error {
	c := e.fx.deepCursor
	_, err := e.q.ListConnections(ctx, sqlcdb.ListConnectionsParams{InternalID: e.fx.orgs[0].ID, RowLimit: 51,
		AfterCreatedAt: &c.CreatedAt, AfterConnectionID: &c.ID})
	return err
}

func floorPatch(ctx context.Context, e *env, r *rand.Rand) error {
	t := e.pick(r)
	row, err := e.q.GetConnectionByID(ctx, sqlcdb.GetConnectionByIDParams{InternalID: e.fx.orgs[t.org].ID, ConnectionID: t.id})
	if err != nil {
		return err
	}
	desc := "bench " + strconv.Itoa(r.IntN(1_000_000))
	// The handler's statement: the change and its audit event.
	userID := e.fx.orgs[t.org].UserID
	_, err = e.q.UpdateConnection(ctx, sqlcdb.UpdateConnectionParams{
		EventActions: []string{string(connvault.ActionUpdated)}, EventDetails: []string{`{"fields": ["description"]}`}, EventActorUserID: &userID,
		Name: row.Name, Description: &desc, Metadata: row.Metadata, ProviderConfig: row.ProviderConfig,
		EncryptionKey: e.keys.CurrentPassphrase(), SecretKeyID: row.SecretKeyID, SecretFields: row.SecretFields,
		Status: row.Status, StatusReason: row.StatusReason, StatusChangedAt: row.StatusChangedAt,
		ConsecutiveFailures: row.ConsecutiveFailures, LastError: row.LastError, LastCheckedAt: row.LastCheckedAt,
		LastUsedAt: row.LastUsedAt, NextCheckAt: row.NextCheckAt, InternalID: row.InternalID, ConnectionID: row.ConnectionID, Version: row.Version,
	})
	if err != nil && err.Error() == "no rows in result set" {
		return errConflict
	}
	return err
}

// ---- measurement ----

// stats summarises one measured run.
type stats struct {
	Requests       int     `json:"requests"`
	WarmupRequests int     `json:"warmup_requests"`
	Errors         int     `json:"errors"`
	Conflicts      int     `json:"conflicts"`
	Throughput     float64 `json:"throughput_per_s"`
	P50            float64 `json:"p50_ms"`
	P99            float64 `json:"p99_ms"`
	P999           float64 `json:"p999_ms"`
}

func measure(ctx context.Context, e *env, level int, warmup, duration time.Duration, fn func(context.Context, *env, *rand.Rand) error) stats {
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		mu        sync.Mutex
		all       []time.Duration
		st        stats
		firstErr  error
		wg        sync.WaitGroup
	)
	for w := range level {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			lat := make([]time.Duration, 0, 4096)
			var n, warm, errs, conflicts int
			for !stop.Load() {
				m := measuring.Load()
				t0 := time.Now()
				err := fn(ctx, e, r)
				d := time.Since(t0)
				switch {
				case !m:
					warm++
				case errors.Is(err, errConflict):
					conflicts++
					n++
					lat = append(lat, d)
				case err != nil:
					errs++
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				default:
					n++
					lat = append(lat, d)
				}
			}
			mu.Lock()
			all = append(all, lat...)
			st.Requests += n
			st.WarmupRequests += warm
			st.Errors += errs
			st.Conflicts += conflicts
			mu.Unlock()
		})
	}
	time.Sleep(warmup)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(duration)
	stop.Store(true)
	elapsed := time.Since(start)
	wg.Wait()
	if firstErr != nil {
		log.Printf("errors (%d), first: %v", st.Errors, firstErr)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	st.Throughput = float64(st.Requests) / elapsed.Seconds()
	st.P50, st.P99, st.P999 = q(0.50), q(0.99), q(0.999)
	return st
}

// ---- the server process ----

type serverProc struct {
	cmd *exec.Cmd
	url string
}

func startServer(ctx context.Context, databaseURL, bin string) (*serverProc, error) {
	if bin == "" {
		bin = filepath.Join(os.TempDir(), "connvault-bench")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/connvault")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("build server: %w", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(os.TempDir(), "connvault-bench-server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "CONNVAULT_DATABASE_URL="+databaseURL, "CONNVAULT_ADDR="+addr,
		"CONNVAULT_ENCRYPTION_KEY="+benchKey, "CONNVAULT_HEALTH_INTERVAL=0",
		// As deployed: the request log at its default level, the rate
		// limiter on (its cost measured), at a rate the load never reaches.
		"CONNVAULT_RATE_LIMIT=1000000000", "CONNVAULT_RATE_BURST=1000000000")
	if addr := os.Getenv("CONNVAULT_BENCH_PPROF_ADDR"); addr != "" {
		cmd.Env = append(cmd.Env, "CONNVAULT_PPROF_ADDR="+addr)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serverProc{cmd: cmd, url: "http://" + addr}
	for range 100 {
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, errors.New("server did not become healthy")
}

func (s *serverProc) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

// cpuMicrosPerRequest is CPU time in ticks (1/100 s) per request of a
// measurement. Warm-up requests are included in the CPU time, so they are
// counted too.
func cpuMicrosPerRequest(ticks int64, st stats) float64 {
	if st.Requests+st.WarmupRequests == 0 {
		return 0
	}
	return float64(ticks) * 1e4 / float64(st.Requests+st.WarmupRequests)
}

// cpuTicks is a process's user+system CPU time in clock ticks (1/100 s).
func cpuTicks(pid int) int64 {
	return statTicks(pid, 11, 12)
}

// reapedTicks is the CPU time of a process's children that have ended and
// been waited for, in clock ticks: a child's time moves there when it ends.
func reapedTicks(pid int) int64 {
	return statTicks(pid, 13, 14)
}

// statTicks sums two fields of /proc/pid/stat, counted from the one after
// the command name (0 when the process is gone).
func statTicks(pid, i, j int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	a, _ := strconv.ParseInt(f[i], 10, 64)
	c, _ := strconv.ParseInt(f[j], 10, 64)
	return a + c
}

// postgresProcs is the benchmark's Postgres server, when it runs on this
// machine: its postmaster and every process it started (backends, WAL
// writer, checkpointer, ...), whose CPU time is the database's share of a
// measurement. postmaster is 0 when the server is elsewhere.
type postgresProcs struct{ postmaster int }

// findPostgres finds the postmaster as the parent of one of the pool's
// backends, if that backend is a local postgres process.
func findPostgres(ctx context.Context, pool *pgxpool.Pool) postgresProcs {
	var backend int
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return postgresProcs{}
	}
	comm, ppid := procStat(backend)
	if comm != "postgres" {
		return postgresProcs{}
	}
	if comm, _ := procStat(ppid); comm != "postgres" {
		return postgresProcs{}
	}
	return postgresProcs{postmaster: ppid}
}

// ticks is the CPU time, in clock ticks, of the postmaster and every
// process it started: those alive, and those that have ended (an
// autovacuum worker, a closed connection's backend), whose time the
// postmaster's count of its reaped children holds. Without the latter a
// worker that ended during a measurement took its whole time out of it,
// and a create's floor once read -1,268 µs of Postgres CPU per request.
func (p postgresProcs) ticks() int64 {
	if p.postmaster == 0 {
		return 0
	}
	total := cpuTicks(p.postmaster) + reapedTicks(p.postmaster)
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if _, ppid := procStat(pid); ppid == p.postmaster {
			total += cpuTicks(pid)
		}
	}
	return total
}

// procStat is a process's command name and parent's pid ("", 0 if gone).
func procStat(pid int) (comm string, ppid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 > len(b) {
		return "", 0
	}
	f := strings.Fields(string(b[end+2:]))
	if len(f) < 2 {
		return "", 0
	}
	ppid, _ = strconv.Atoi(f[1])
	return string(b[open+1 : end]), ppid
}

// peakRSSKB is the server's high-water resident set size.
func (s *serverProc) peakRSSKB() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			n, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return n
		}
	}
	return 0
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d cores, %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, runtime.Version())
}

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// measureFloors measures pgbench and the plain HTTP handlers at concurrency
// 8 (the level the targets are set at; the highest measured when 8 is not)
// and relates GET by id to them.
func measureFloors(ctx context.Context, e *env, srv *serverProc, o options, rep *report) error {
	level := o.levels[len(o.levels)-1]
	for _, l := range o.levels {
		if l == 8 {
			level = 8
		}
	}
	ran := func(op string) bool {
		return slices.ContainsFunc(rep.Results, func(r result) bool { return r.Operation == op && r.Concurrency == level })
	}
	if !ran("get_by_id") {
		return nil
	}
	credentials := ran("credentials_static") && ran("credentials_cached")
	// The plain handler answers the bytes of a real GET by id.
	t := e.fx.targets[0]
	req, err := http.NewRequestWithContext(ctx, "GET", e.baseURL+"/v1/organizations/connections/"+t.id, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+e.fx.orgs[t.org].Key)
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	plain, err := startPlainServer(body, o.databaseURL)
	if err != nil {
		return err
	}
	defer plain.stop()
	plainClient := newRawClient(plain.url, 256)
	defer plainClient.close()

	// GET by id, pgbench and the plain handler (and both credentials
	// workloads, when the run has them), measured back to back three
	// times: the host moves whole runs by 15-40 %, so a ratio of two
	// measurements minutes apart carried that. Each ratio is the median
	// over the three rounds of the ratio within the round.
	f := &floors{PlainHTTPBytes: len(body)}
	// measureCPU measures fn and the CPU per request of the process that
	// served it and of Postgres.
	measureCPU := func(pid int, fn func(context.Context, *env, *rand.Rand) error) (rps, cpu, pg float64) {
		cpu0, pg0 := cpuTicks(pid), e.pg.ticks()
		st := measure(ctx, e, level, o.warmup, o.duration, fn)
		cpu, pg = cpuMicrosPerRequest(cpuTicks(pid)-cpu0, st), cpuMicrosPerRequest(e.pg.ticks()-pg0, st)
		return st.Throughput, cpu, pg
	}
	for range 3 {
		var round floorRound
		round.GetByIDRPS, round.GetByIDCPUMicros, round.GetByIDPostgresMicros = measureCPU(srv.cmd.Process.Pid, httpGetByID)
		if credentials {
			round.CredentialsStaticRPS, round.CredentialsStaticCPUMicros, round.CredentialsStaticPostgresMicros = measureCPU(srv.cmd.Process.Pid, httpCredentialsStatic)
			round.CredentialsCachedRPS, round.CredentialsCachedCPUMicros, round.CredentialsCachedPostgresMicros = measureCPU(srv.cmd.Process.Pid, httpCredentialsCached)
		}
		tps, cmd, err := pgbenchSelect(ctx, o.databaseURL, level, o.duration)
		if err != nil {
			return err
		}
		round.PgbenchSelectTPS = tps
		round.PlainHTTPRPS, round.PlainHTTPCPUMicros, _ = measureCPU(plain.cmd.Process.Pid, httpPlain(plainClient, plainPath))
		round.PlainHTTPPgxRPS, round.PlainHTTPPgxCPUMicros, round.PlainHTTPPgxPostgresMicros = measureCPU(plain.cmd.Process.Pid, httpPlain(plainClient, plainPgxQueryPath))
		f.PgbenchCommand = cmd
		f.Rounds = append(f.Rounds, round)
	}
	f.PgbenchSelectTPS = medianOf(f.Rounds, func(r floorRound) float64 { return r.PgbenchSelectTPS })
	f.PlainHTTPRPS = medianOf(f.Rounds, func(r floorRound) float64 { return r.PlainHTTPRPS })
	f.PlainHTTPPgxRPS = medianOf(f.Rounds, func(r floorRound) float64 { return r.PlainHTTPPgxRPS })
	rep.Floors = f
	rep.GetByIDVsPgbench = medianOf(f.Rounds, func(r floorRound) float64 { return r.GetByIDRPS / r.PgbenchSelectTPS })
	rep.GetByIDVsPlainHTTP = medianOf(f.Rounds, func(r floorRound) float64 { return r.GetByIDRPS / r.PlainHTTPRPS })
	rep.GetByIDVsPlainHTTPPgx = medianOf(f.Rounds, func(r floorRound) float64 { return r.GetByIDRPS / r.PlainHTTPPgxRPS })
	rep.PlainHTTPPgxVsPgbench = medianOf(f.Rounds, func(r floorRound) float64 { return r.PlainHTTPPgxRPS / r.PgbenchSelectTPS })
	fmt.Printf("floors at concurrency %d, three rounds back to back with GET by id:\n", level)
	for _, r := range f.Rounds {
		fmt.Printf("  GET by id %.0f req/s (%.0f cpu us/req, Postgres %.0f), %s %.0f tps, plain net/http answering the same %d bytes %.0f req/s (%.0f), after the query through pgx %.0f req/s (%.0f, Postgres %.0f)\n",
			r.GetByIDRPS, r.GetByIDCPUMicros, r.GetByIDPostgresMicros, f.PgbenchCommand, r.PgbenchSelectTPS, len(body), r.PlainHTTPRPS, r.PlainHTTPCPUMicros,
			r.PlainHTTPPgxRPS, r.PlainHTTPPgxCPUMicros, r.PlainHTTPPgxPostgresMicros)
		if credentials {
			fmt.Printf("    credentials: static %.0f req/s (%.0f cpu us/req, Postgres %.0f), cached %.0f req/s (%.0f, Postgres %.0f)\n",
				r.CredentialsStaticRPS, r.CredentialsStaticCPUMicros, r.CredentialsStaticPostgresMicros,
				r.CredentialsCachedRPS, r.CredentialsCachedCPUMicros, r.CredentialsCachedPostgresMicros)
		}
	}
	fmt.Printf("get_by_id (median of the rounds): %.2fx pgbench, %.2fx plain net/http, %.2fx plain net/http with pgx (which is %.2fx pgbench)\n",
		rep.GetByIDVsPgbench, rep.GetByIDVsPlainHTTP, rep.GetByIDVsPlainHTTPPgx, rep.PlainHTTPPgxVsPgbench)
	if credentials {
		rep.CredentialsStaticVsGetByID = medianOf(f.Rounds, func(r floorRound) float64 { return r.CredentialsStaticRPS / r.GetByIDRPS })
		rep.CredentialsCachedVsGetByID = medianOf(f.Rounds, func(r floorRound) float64 { return r.CredentialsCachedRPS / r.GetByIDRPS })
		fmt.Printf("credentials (median of the rounds): static %.2fx GET by id, cached %.2fx GET by id\n",
			rep.CredentialsStaticVsGetByID, rep.CredentialsCachedVsGetByID)
	}
	return nil
}

// ---- credentials: static secrets (every seeded connection) and a cached
// short-lived token (a Snowflake key-pair JWT, signed locally, so no
// provider is needed) ----

func httpCredentialsStatic(ctx context.Context, e *env, r *rand.Rand) error {
	t := e.pick(r)
	return e.do(ctx, "POST", "/v1/organizations/connections/"+t.id+"/credentials", t.org, nil)
}

func httpCredentialsCached(ctx context.Context, e *env, _ *rand.Rand) error {
	t := e.fx.keyPair
	return e.do(ctx, "POST", "/v1/organizations/connections/"+t.id+"/credentials", t.org, nil)
}

// floorCredentialsStatic is the SQL of a static issue, as the server
// issues it: the first time for a connection, the lookup (the row and its
// secrets decrypted) and the audit event; after that, the lookup that
// records the static issue of the version it saw last in the same
// statement.
func floorCredentialsStatic(ctx context.Context, e *env, r *rand.Rand) error {
	t := e.pick(r)
	if v, ok := e.versions.Load(t.id); ok {
		version := v.(int64)
		row, err := e.recordingLookup(ctx, t, &version)
		if err != nil {
			return err
		}
		if !row.Recorded || row.CachedJson != "" {
			return errors.New("static issue: not recorded by its lookup")
		}
		return nil
	}
	row, err := e.issueLookup(ctx, t)
	if err != nil {
		return err
	}
	if row.SecretsJson == "" {
		return errors.New("static issue: no secrets decrypted")
	}
	e.versions.Store(t.id, row.Connection.Version)
	return e.issueEvent(ctx, row.Connection)
}

// floorCredentialsCached is the SQL of a cache hit on a replica that
// expects one (its last issue of the connection was not static): the
// lookup, which decrypts the cached token and records the hit's audit
// event in the same statement.
func floorCredentialsCached(ctx context.Context, e *env, _ *rand.Rand) error {
	row, err := e.recordingLookup(ctx, e.fx.keyPair, nil)
	if err != nil {
		return err
	}
	if row.CachedJson == "" || !row.Recorded {
		return errors.New("cached issue: no cached token recorded")
	}
	return nil
}

// recordingLookup is the server's lookup of an issue it expects: a cache
// hit, or the static issue of staticVersion.
func (e *env) recordingLookup(ctx context.Context, t target, staticVersion *int64) (*sqlcdb.IssueLookupRecordingRow, error) {
	org := e.fx.orgs[t.org]
	return e.q.IssueLookupRecording(ctx, sqlcdb.IssueLookupRecordingParams{CurrentKeyID: e.keys.CurrentID,
		EncryptionKey: e.keys.CurrentPassphrase(), MarginSeconds: store.ReuseMargin.Seconds(), InternalID: org.ID, ConnectionID: t.id,
		Action: string(connvault.ActionCredentialsIssue), ActorUserID: &org.UserID, StaticVersion: staticVersion})
}

func (e *env) issueLookup(ctx context.Context, t target) (*sqlcdb.IssueLookupByIDRow, error) {
	return e.q.IssueLookupByID(ctx, sqlcdb.IssueLookupByIDParams{CurrentKeyID: e.keys.CurrentID, EncryptionKey: e.keys.CurrentPassphrase(),
		MarginSeconds: store.ReuseMargin.Seconds(), InternalID: e.fx.orgs[t.org].ID, ConnectionID: t.id})
}

func (e *env) issueEvent(ctx context.Context, row sqlcdb.Connection) error {
	return e.q.InsertEvent(ctx, sqlcdb.InsertEventParams{InternalID: row.InternalID, Action: string(connvault.ActionCredentialsIssue),
		ConnectionID: &row.ConnectionID, Details: []byte(`{"cached": false, "expires_at": null}`)})
}
