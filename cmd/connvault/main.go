// Command connvault serves the connections API and runs its operator tasks:
//
//	connvault serve                                   serve the API
//	connvault migrate                                 apply database migrations
//	connvault apikey create --org int_... --user usr_...   print a new API key
//	connvault apikey revoke                           revoke the key read from stdin
//	connvault health run-once                         run one health-check pass
//	connvault keys rotate                             re-encrypt secrets under the current key
//
// Configuration comes from flags and CONNVAULT_* environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/health"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/server"
	"github.com/connvault/connvault/store"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config is everything main reads from flags and the environment, once.
type Config struct {
	DatabaseURL          string
	Addr                 string
	EncryptionKey        string
	PreviousKeys         []string
	AllowPrivateNetworks bool
	CheckTimeout         time.Duration
	HealthInterval       time.Duration
	HealthBackoff        time.Duration
	HealthConcurrency    int
	ValidateResponses    bool
	RateLimit            float64
	RateBurst            int
	UnauthRateLimit      float64
	QueryTimeout         time.Duration
	AllowLoggedParams    bool
	EventRetention       time.Duration
	PprofAddr            string
	ProviderEndpoints    map[string]string
	AWS                  providers.AWSCredentials
	LogLevel             string
}

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return // usage was printed on request
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "connvault:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  connvault serve [flags]
  connvault migrate [flags]
  connvault apikey create --org int_... --user usr_... [--name N] [--scopes read,write,use,admin]
  connvault apikey list --org int_...
  connvault apikey revoke --id key_...   (or the key itself on stdin)
  connvault health run-once [flags]
  connvault keys rotate [flags]`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	if isHelp(args[0]) || args[0] == "help" {
		fmt.Fprintln(stdout, usage+"\n\nEach command's flags: connvault COMMAND --help")
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	if (cmd == "apikey" || cmd == "keys" || cmd == "health") && len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, usage)
		return flag.ErrHelp
	}
	if cmd == "apikey" {
		if len(args) == 0 || (args[0] != "create" && args[0] != "revoke" && args[0] != "list") {
			return errors.New(usage)
		}
		cmd, args = "apikey "+args[0], args[1:]
	}
	if cmd == "keys" {
		if len(args) == 0 || args[0] != "rotate" {
			return errors.New(usage)
		}
		cmd, args = "keys rotate", args[1:]
	}
	if cmd == "health" {
		if len(args) == 0 || args[0] != "run-once" {
			return errors.New(usage)
		}
		cmd, args = "health run-once", args[1:]
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stdout) // --help is asked for: usage on stdout, exit 0
	var e envReader      // collects every bad setting, to report them all
	cfg := Config{
		DatabaseURL:   env("CONNVAULT_DATABASE_URL", ""),
		Addr:          env("CONNVAULT_ADDR", ":8000"),
		EncryptionKey: env("CONNVAULT_ENCRYPTION_KEY", ""),
		// Keys rows may still be encrypted under, until `keys rotate` ran.
		PreviousKeys:         splitList(env("CONNVAULT_ENCRYPTION_KEY_PREVIOUS", "")),
		AllowPrivateNetworks: e.bool("CONNVAULT_ALLOW_PRIVATE_NETWORKS", false),
		CheckTimeout:         e.duration("CONNVAULT_CHECK_TIMEOUT", connvault.DefaultCheckTimeout),
		HealthInterval:       e.duration("CONNVAULT_HEALTH_INTERVAL", 15*time.Minute),
		HealthBackoff:        e.duration("CONNVAULT_HEALTH_BACKOFF", 5*time.Minute),
		HealthConcurrency:    e.int("CONNVAULT_HEALTH_CONCURRENCY", 4),
		ValidateResponses:    e.bool("CONNVAULT_VALIDATE_RESPONSES", false),
		RateLimit:            e.float("CONNVAULT_RATE_LIMIT", 100),
		RateBurst:            e.int("CONNVAULT_RATE_BURST", 200),
		UnauthRateLimit:      e.float("CONNVAULT_UNAUTHENTICATED_RATE_LIMIT", 10),
		QueryTimeout:         e.duration("CONNVAULT_QUERY_TIMEOUT", store.DefaultQueryTimeout),
		AllowLoggedParams:    e.bool("CONNVAULT_ALLOW_LOGGED_PARAMETERS", false),
		EventRetention:       e.duration("CONNVAULT_EVENT_RETENTION", connvault.DefaultEventRetention),
		PprofAddr:            env("CONNVAULT_PPROF_ADDR", ""),
		// The server's own AWS identity, to assume the roles of iam_role
		// connections. Environment only: no flag puts a secret in argv.
		AWS: providers.AWSCredentials{
			AccessKeyID:     env("CONNVAULT_AWS_ACCESS_KEY_ID", ""),
			SecretAccessKey: connvault.Secret(env("CONNVAULT_AWS_SECRET_ACCESS_KEY", "")),
			SessionToken:    connvault.Secret(env("CONNVAULT_AWS_SESSION_TOKEN", "")),
		},
		LogLevel: env("CONNVAULT_LOG_LEVEL", "info"),
	}
	fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "Postgres URL (CONNVAULT_DATABASE_URL)")
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (CONNVAULT_ADDR)")
	fs.BoolVar(&cfg.AllowPrivateNetworks, "allow-private-networks", cfg.AllowPrivateNetworks, "let checks dial loopback/private addresses (CONNVAULT_ALLOW_PRIVATE_NETWORKS)")
	fs.DurationVar(&cfg.CheckTimeout, "check-timeout", cfg.CheckTimeout, "deadline of one connectivity check (CONNVAULT_CHECK_TIMEOUT)")
	fs.DurationVar(&cfg.HealthInterval, "health-interval", cfg.HealthInterval, "background check interval, 0 turns it off (CONNVAULT_HEALTH_INTERVAL)")
	fs.DurationVar(&cfg.HealthBackoff, "health-backoff", cfg.HealthBackoff, "wait after a first failure, doubling per failure (CONNVAULT_HEALTH_BACKOFF)")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", cfg.RateLimit, "requests per second per API key, 0 for none (CONNVAULT_RATE_LIMIT)")
	fs.IntVar(&cfg.HealthConcurrency, "health-concurrency", cfg.HealthConcurrency, "checks in flight per process (CONNVAULT_HEALTH_CONCURRENCY)")
	fs.IntVar(&cfg.RateBurst, "rate-burst", cfg.RateBurst, "requests an API key may make at once (CONNVAULT_RATE_BURST)")
	fs.Float64Var(&cfg.UnauthRateLimit, "unauthenticated-rate-limit", cfg.UnauthRateLimit, "requests per second without a valid API key per client address, 0 for none (CONNVAULT_UNAUTHENTICATED_RATE_LIMIT)")
	fs.DurationVar(&cfg.QueryTimeout, "query-timeout", cfg.QueryTimeout, "deadline of one database statement; past it the request answers 503 (CONNVAULT_QUERY_TIMEOUT)")
	fs.BoolVar(&cfg.AllowLoggedParams, "allow-logged-parameters", cfg.AllowLoggedParams, "start even if the database role cannot keep statement parameters (secrets) out of the database's log (CONNVAULT_ALLOW_LOGGED_PARAMETERS)")
	fs.BoolVar(&cfg.ValidateResponses, "validate-responses", cfg.ValidateResponses, "log every answer that does not match openapi.yaml (CONNVAULT_VALIDATE_RESPONSES)")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", cfg.PprofAddr, "serve Go profiles on this address, keep it on loopback (CONNVAULT_PPROF_ADDR)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error (CONNVAULT_LOG_LEVEL)")
	fs.DurationVar(&cfg.EventRetention, "event-retention", cfg.EventRetention, "how long audit events are kept (CONNVAULT_EVENT_RETENTION)")
	var org, user, keyName, scopeList, keyID string
	switch cmd {
	case "apikey create":
		fs.StringVar(&org, "org", "", "organization id, int_ + 24 characters")
		fs.StringVar(&user, "user", "", "user id, usr_ + 15 characters")
		fs.StringVar(&keyName, "name", "", "what the key is for")
		fs.StringVar(&scopeList, "scopes", "read,write", "comma-separated: read, write, use, admin")
	case "apikey list":
		fs.StringVar(&org, "org", "", "organization id, int_ + 24 characters")
	case "apikey revoke":
		fs.StringVar(&keyID, "id", "", "the key's id (key_...); without it the key itself is read from stdin")
	}
	endpoints := env("CONNVAULT_PROVIDER_ENDPOINTS", "")
	fs.StringVar(&endpoints, "provider-endpoints", endpoints, "provider URL overrides, name=url pairs separated by commas, e.g. box.api_base=https://... (CONNVAULT_PROVIDER_ENDPOINTS)")
	if err := fs.Parse(args); err != nil {
		return err // flag.ErrHelp for --help, after printing the usage
	}
	for name, rate := range map[string]float64{"rate limit": cfg.RateLimit, "unauthenticated rate limit": cfg.UnauthRateLimit} {
		if !(rate >= 0) || math.IsInf(rate, 0) { // from a flag, which takes NaN and Inf too
			e.errs = append(e.errs, fmt.Errorf("%s %v: want a number of 0 or more", name, rate))
		}
	}
	if cfg.EventRetention < store.MinEventRetention {
		// Kept in whole days: under one, the sweep deleted every event.
		e.errs = append(e.errs, fmt.Errorf("CONNVAULT_EVENT_RETENTION=%s: want at least %s", cfg.EventRetention, store.MinEventRetention))
	}
	if err := errors.Join(e.errs...); err != nil {
		return fmt.Errorf("bad settings:\n%w", err)
	}
	var err error
	if cfg.ProviderEndpoints, err = parseEndpoints(endpoints); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return errors.New("CONNVAULT_DATABASE_URL (or --database-url) is required")
	}
	logs := server.NewLogBuffer(stderr, 100*time.Millisecond)
	defer logs.Close()
	logger, err := server.NewLogger(logs, cfg.LogLevel)
	if err != nil {
		return fmt.Errorf("CONNVAULT_LOG_LEVEL: %w", err)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool, err := store.Open(ctx, cfg.DatabaseURL, store.OpenOptions{AllowLoggedParameters: cfg.AllowLoggedParams})
	if err != nil {
		return err
	}
	defer pool.Close()

	switch cmd {
	case "migrate":
		if err := store.Migrate(ctx, pool); err != nil {
			return err
		}
		logger.Info("migrations applied")
		return nil
	case "apikey create":
		// The key is not needed to create API keys, but a store needs one.
		st := store.New(pool, store.Keyring{})
		scopes, err := parseScopes(scopeList)
		if err != nil {
			return err
		}
		key, k, err := st.CreateAPIKey(ctx, store.NewAPIKey{OrgID: org, UserID: user, Name: keyName, Scopes: scopes,
			Created: &store.NewEvent{OrgID: org, Action: connvault.ActionKeyCreated, ActorUserID: user, Details: map[string]any{"name": keyName, "via": "cli"}}})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "API key %s for %s / %s, scopes %s (shown once, only its hash is stored):\n%s\n", k.ID, org, user, joinScopes(k.Scopes), key)
		return nil
	case "apikey list":
		if !connvault.ValidOrgID(org) {
			return errors.New("apikey list: --org int_... is required")
		}
		keys, err := store.New(pool, store.Keyring{}).ListAPIKeys(ctx, org)
		if err != nil {
			return err
		}
		for _, k := range keys {
			state := "active"
			if k.RevokedAt != nil {
				state = "revoked " + k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%s  %s...  %-20q %-24s %s\n", k.ID, k.Prefix, k.Name, joinScopes(k.Scopes), state)
		}
		return nil
	case "apikey revoke":
		st := store.New(pool, store.Keyring{})
		if keyID != "" {
			orgs, err := st.KeyOrganization(ctx, keyID)
			if err != nil {
				return err
			}
			if _, err := st.RevokeAPIKeyByID(ctx, orgs, keyID,
				store.NewEvent{OrgID: orgs, Action: connvault.ActionKeyRevoked, Details: map[string]any{"key_id": keyID, "via": "cli"}}); err != nil {
				return err
			}
		} else {
			// The key comes on stdin, not as an argument, so it stays out
			// of shell history and process listings.
			raw, err := io.ReadAll(io.LimitReader(stdin, 1024))
			if err != nil {
				return err
			}
			if err := st.RevokeAPIKey(ctx, strings.TrimSpace(string(raw)), &store.NewEvent{Action: connvault.ActionKeyRevoked, Details: map[string]any{"via": "cli"}}); err != nil {
				return err
			}
		}
		fmt.Fprintln(stdout, "revoked; servers stop accepting it within their auth cache TTL (5s)")
		return nil
	case "serve":
		return serve(ctx, cfg, pool, logger)
	case "keys rotate":
		st, err := openStore(ctx, cfg, pool)
		if err != nil {
			return err
		}
		n, err := st.RotateKeys(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "re-encrypted the secrets of %d connections under key %s\n", n, st.Keys().CurrentID)
		return nil
	case "health run-once":
		st, err := openStore(ctx, cfg, pool)
		if err != nil {
			return err
		}
		stats, err := newChecker(cfg, st, logger).RunOnce(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "checked %d: %d passed, %d failed, %d disabled\n", stats.Checked, stats.Passed, stats.Failed, stats.Disabled)
		return nil
	}
	return errors.New(usage)
}

// openStore checks the key and the schema and returns the store.
func openStore(ctx context.Context, cfg Config, pool *pgxpool.Pool) (*store.Store, error) {
	if cfg.EncryptionKey == "" {
		return nil, errors.New("CONNVAULT_ENCRYPTION_KEY is required: refusing to start without the key that encrypts secrets")
	}
	keys, err := store.NewKeyring(cfg.EncryptionKey, cfg.PreviousKeys...)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx, pool); err != nil {
		return nil, err
	}
	st := store.New(pool, keys).WithQueryTimeout(cfg.QueryTimeout)
	if err := st.CheckKey(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

func checkEnv(cfg Config) providers.Env {
	return providers.NewEnv(providers.EnvOptions{AllowPrivateNetworks: cfg.AllowPrivateNetworks, Timeout: cfg.CheckTimeout, Endpoints: cfg.ProviderEndpoints, AWS: cfg.AWS})
}

func schedule(cfg Config) connvault.Schedule {
	s := connvault.DefaultSchedule
	if cfg.HealthInterval > 0 {
		s.Interval = cfg.HealthInterval
	}
	if cfg.HealthBackoff > 0 {
		s.Backoff = cfg.HealthBackoff
	}
	s.Jitter = rand.Float64
	return s
}

func newChecker(cfg Config, st *store.Store, logger *slog.Logger) *health.Checker {
	return health.New(st, health.Config{
		Schedule:     schedule(cfg),
		Concurrency:  cfg.HealthConcurrency,
		CheckTimeout: cfg.CheckTimeout,
		Env:          checkEnv(cfg),
		Log:          logger,
	})
}

func serve(ctx context.Context, cfg Config, pool *pgxpool.Pool, logger *slog.Logger) error {
	if os.Getenv("GOGC") == "" {
		// The live heap is a few MB, so at Go's default (100) the collector
		// runs every few MB of garbage: ~10% of the CPU under load in the
		// profile. 400 does a quarter of that work for a heap of tens of
		// MB. GOGC in the environment still decides.
		debug.SetGCPercent(400)
	}
	st, err := openStore(ctx, cfg, pool)
	if err != nil {
		return err
	}
	scfg := server.Config{
		Env:                      checkEnv(cfg),
		CheckTimeout:             cfg.CheckTimeout,
		Schedule:                 schedule(cfg),
		Logger:                   logger,
		RateLimit:                cfg.RateLimit,
		RateBurst:                cfg.RateBurst,
		UnauthenticatedRateLimit: cfg.UnauthRateLimit,
	}
	if cfg.ValidateResponses {
		scfg.OnResponseViolation = func(method, path string, status int, err error) {
			logger.Error("answer does not match openapi.yaml", "method", method, "path", path, "status", status, "error", err.Error())
		}
	}
	e, err := server.New(st, scfg)
	if err != nil {
		return err
	}
	if cfg.PprofAddr != "" {
		// Profiles on their own listener (keep it on loopback): never on
		// the API port, where they would be reachable by API clients.
		go func() {
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			logger.Info("pprof listening", "addr", cfg.PprofAddr)
			_ = http.ListenAndServe(cfg.PprofAddr, mux) //nolint:gosec // operator-chosen debug listener
		}()
	}
	checkerDone := make(chan struct{})
	if cfg.HealthInterval > 0 {
		go func() {
			defer close(checkerDone)
			newChecker(cfg, st, logger).Run(ctx)
		}()
	} else {
		close(checkerDone)
		logger.Info("background health checker is off (CONNVAULT_HEALTH_INTERVAL=0)")
	}
	go sweep(ctx, st, cfg.EventRetention, logger)
	srv := newHTTPServer(e, cfg.CheckTimeout)
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(server.AnswerProtocolErrorsInEnvelope(l)) }()
	// Bound: a client can connect from here on.
	logger.Info("serving", "addr", l.Addr().String(), "allow_private_networks", cfg.AllowPrivateNetworks)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	<-checkerDone
	return err
}

// newHTTPServer bounds what a slow or idle client can hold: headers within
// 10 s, the whole request within 30 s, the answer within the check timeout
// plus 30 s (a create or a test waits for its provider check), and an idle
// keep-alive connection for 2 minutes.
func newHTTPServer(h http.Handler, checkTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      checkTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parseEndpoints reads "name=url,name=url" provider endpoint overrides.
func parseEndpoints(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		name, u, ok := strings.Cut(pair, "=")
		if !ok || !strings.Contains(name, ".") || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
			return nil, fmt.Errorf("provider endpoint %q: want provider.name=http(s)://host", name)
		}
		out[strings.TrimSpace(name)] = strings.TrimSpace(u)
	}
	return out, nil
}

// envReader reads typed settings from the environment and keeps every
// malformed one: a bad setting stops start-up with a message, it never
// falls back to the default silently.
type envReader struct{ errs []error }

func (r *envReader) bad(name, value, want string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: want %s", name, value, want))
}

func (r *envReader) bool(name string, def bool) bool {
	v := env(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.bad(name, v, "true or false")
		return def
	}
	return b
}

func (r *envReader) float(name string, def float64) float64 {
	v := env(name, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0) || math.IsInf(f, 0) { // NaN and Inf parse, and would mean no limit
		r.bad(name, v, "a number of 0 or more")
		return def
	}
	return f
}

func (r *envReader) int(name string, def int) int {
	v := env(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		r.bad(name, v, "a whole number of 0 or more")
		return def
	}
	return n
}

// duration accepts Go durations (90s, 15m) and plain seconds.
func (r *envReader) duration(name string, def time.Duration) time.Duration {
	v := env(name, "")
	if v == "" {
		return def
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	r.bad(name, v, "a duration such as 30s or 15m, or whole seconds")
	return def
}

// parseScopes reads "read,write,..." into scopes.
func parseScopes(list string) ([]connvault.Scope, error) {
	var out []connvault.Scope
	for _, name := range splitList(list) {
		if !connvault.ValidScope(name) {
			return nil, fmt.Errorf("unknown scope %q: want read, write, use or admin", name)
		}
		out = append(out, connvault.Scope(name))
	}
	return out, nil
}

func joinScopes(scopes []connvault.Scope) string {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	return strings.Join(names, ",")
}

// sweep deletes expired audit events and idempotency keys, at start and
// hourly, until ctx ends.
func sweep(ctx context.Context, st *store.Store, retention time.Duration, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if events, keys, err := st.Sweep(ctx, retention); err != nil {
			logger.Warn("sweep failed", "error", err.Error())
		} else if events+keys > 0 {
			logger.Info("swept", "events", events, "idempotency_keys", keys)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
