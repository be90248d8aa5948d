// Package server is connvault's HTTP edge: one Echo instance built by New,
// used by both main and the tests, serving the strict handlers generated
// from openapi.yaml behind the spec's request validator.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/store"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
	oapimw "github.com/oapi-codegen/echo-middleware"
)

// Config is what the HTTP edge needs besides the store.
type Config struct {
	// Env is how provider checks reach the outside world.
	Env providers.Env
	// CheckTimeout bounds every connectivity check (default
	// connvault.DefaultCheckTimeout).
	CheckTimeout time.Duration
	// Schedule decides when connections are checked next (default
	// connvault.DefaultSchedule). Whether this process runs the background
	// checker is decided elsewhere; every replica keeps the schedule.
	Schedule connvault.Schedule
	// Logger receives structured logs; secrets cannot reach it.
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// AuthCacheTTL is how long a resolved API key is trusted without asking
	// the database again, and so how long a revoked key may still work
	// (default 5s; negative turns the cache off).
	AuthCacheTTL time.Duration
	// RateLimit is the sustained requests per second each API key may
	// make (0: unlimited); RateBurst how many it may make at once
	// (default twice the rate).
	RateLimit float64
	RateBurst int
	// UnauthenticatedRateLimit is the sustained rate of requests without a
	// valid API key each client address may make (0: unlimited), with a
	// burst of UnauthenticatedBurst (default twice the rate). It bounds
	// key guessing. A key is looked up before the address's bucket is
	// consulted, so that a valid key is not held back by its address's
	// failures: each refused guess still costs one indexed lookup.
	UnauthenticatedRateLimit float64
	UnauthenticatedBurst     int
	// OnResponseViolation, when set, receives every answer that does not
	// match the spec (response validation is on only then).
	OnResponseViolation ResponseViolation
}

// Server implements the generated strict server interface.
type Server struct {
	store   *store.Store
	cfg     Config
	log     *slog.Logger
	schemas *configSchemas
	auth    *authCache
	limiter *rateLimiter
	// anonymous limits requests without a valid key, per client address.
	anonymous *rateLimiter
	// lastIssues guesses what each connection's next issue will be.
	lastIssues lastIssues
}

var _ gen.StrictServerInterface = (*Server)(nil)

// New builds the whole Echo instance: routes, middleware, validator and the
// error handler.
func New(st *store.Store, cfg Config) (*echo.Echo, error) {
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = connvault.DefaultCheckTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Schedule.Interval <= 0 || cfg.Schedule.Backoff <= 0 {
		cfg.Schedule = connvault.DefaultSchedule
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	spec, err := loadSpec()
	if err != nil {
		return nil, err
	}
	schemas, err := newConfigSchemas(spec)
	if err != nil {
		return nil, err
	}
	if cfg.AuthCacheTTL == 0 {
		cfg.AuthCacheTTL = 5 * time.Second
	}
	s := &Server{store: st, cfg: cfg, log: cfg.Logger, schemas: schemas, auth: newAuthCache(cfg.AuthCacheTTL),
		limiter: newRateLimiter(cfg.RateLimit, cfg.RateBurst), anonymous: newRateLimiter(cfg.UnauthenticatedRateLimit, cfg.UnauthenticatedBurst)}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// The peer's address, never X-Forwarded-For, which any client can write.
	e.IPExtractor = echo.ExtractIPDirect()
	chain := []echo.MiddlewareFunc{assignRequestID}
	chain = append(chain, echomw.RecoverWithConfig(echomw.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "panic", "path", c.Path(), "error", err.Error(), "stack", string(stack))
			return internalError()
		},
	}))
	if cfg.OnResponseViolation != nil {
		// Outside logRequests, which writes error answers: the validator
		// must see every answer as sent.
		mw, err := validateResponses(spec, cfg.OnResponseViolation)
		if err != nil {
			return nil, err
		}
		chain = append(chain, mw)
	}
	chain = append(chain, s.logRequests)

	api := isAPI
	// Authentication before the body limit and before anything reads the
	// body: an unauthenticated caller is answered without its body read.
	chain = append(chain, s.authenticate(api))
	scopes, err := requiredScopes(spec)
	if err != nil {
		return nil, err
	}
	chain = append(chain, s.requireScope(scopes))
	chain = append(chain, echomw.BodyLimit(fmt.Sprintf("%dB", cfg.MaxBodyBytes)))
	chain = append(chain, func(next echo.HandlerFunc) echo.HandlerFunc {
		guarded := storableInput(next)
		return func(c echo.Context) error {
			if !api(c) {
				return next(c)
			}
			return guarded(c)
		}
	})
	identifiers, err := newIdentifierOnly(spec)
	if err != nil {
		return nil, err
	}
	chain = append(chain, identifiers.middleware)
	chain = append(chain, oapimw.OapiRequestValidatorWithOptions(spec, &oapimw.Options{
		Skipper:              func(c echo.Context) bool { return !api(c) || identifiers.covers(c) },
		DoNotValidateServers: true,
		Options: openapi3filter.Options{
			MultiError:         true,
			KeepValidatedValue: true,
			// Without this, schema errors quote the submitted value (secrets
			// included) and dump the schema.
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
			// Authentication already happened (s.authenticate); the
			// validator only checks the request's shape.
			AuthenticationFunc: func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
		},
		MultiErrorHandler: func(me openapi3.MultiError) *echo.HTTPError {
			return &echo.HTTPError{Code: http.StatusUnprocessableEntity, Internal: me}
		},
		ErrorHandler: func(c echo.Context, he *echo.HTTPError) error { return validationError(he) },
	}))

	e.Use(composedOnce(chain...))

	if err := registerDocs(e); err != nil {
		return nil, err
	}
	gen.RegisterHandlers(e, gen.NewStrictHandler(s, nil))
	return e, nil
}

// composedOnce composes middleware once, around the handler the router
// found for the request. Echo applies what is given to Use anew for every
// request: each middleware's constructor ran per request and allocated
// its closure (ten allocations of a GET's 85, in-process). This
// returns the one composed handler every time. It ignores next, which is
// always the found handler: so it must be the last middleware given to
// Use, and it is the only one.
func composedOnce(chain ...echo.MiddlewareFunc) echo.MiddlewareFunc {
	h := func(c echo.Context) error { return c.Handler()(c) }
	for i := len(chain) - 1; i >= 0; i-- {
		h = chain[i](h)
	}
	return func(echo.HandlerFunc) echo.HandlerFunc { return h }
}

func isAPI(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, "/v1/") }

// loadSpec parses the embedded spec for one server. Each server gets its
// own copy: the request validator writes into the spec it is given (its
// Servers list), so a shared one is a data race between servers.
func loadSpec() (*openapi3.T, error) {
	defineFormats()
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	return spec, nil
}

// defineFormats registers the string formats the validator must enforce,
// once per process: they are a global of kin-openapi.
var defineFormats = sync.OnceFunc(func() {
	openapi3.DefineStringFormatValidator("uri", openapi3.NewCallbackValidator(validateURI))
	openapi3.DefineStringFormatValidator("email", openapi3.NewCallbackValidator(validateEmail))
})

func validateURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http or https URL")
	}
	return nil
}

func validateEmail(s string) error {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n") {
		return errors.New("must be an email address")
	}
	return nil
}

// Healthz implements GET /healthz: liveness, the process answers.
func (s *Server) Healthz(context.Context, gen.HealthzRequestObject) (gen.HealthzResponseObject, error) {
	return gen.Healthz200JSONResponse{Status: gen.HealthStatusStatusOk}, nil
}

// Readyz implements GET /readyz: the database answers within a second, the
// schema is current and the key matches.
func (s *Server) Readyz(ctx context.Context, _ gen.ReadyzRequestObject) (gen.ReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if failed := s.store.Ready(ctx); failed != nil {
		retry := 1
		return gen.Readyz503JSONResponse{Body: gen.HealthStatus{Status: gen.HealthStatusStatusUnavailable, Checks: &failed},
			Headers: gen.Readyz503ResponseHeaders{RetryAfter: &retry}}, nil
	}
	return gen.Readyz200JSONResponse{Status: gen.HealthStatusStatusOk}, nil
}

// logRequests logs one line per request: never bodies, headers or query
// strings, which may carry credentials.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.log.InfoContext(c.Request().Context(), "request",
			"method", c.Request().Method,
			"route", c.Path(),
			"status", c.Response().Status,
			"duration_ms", time.Since(start).Milliseconds())
		return nil
	}
}
