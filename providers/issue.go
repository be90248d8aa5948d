package providers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/connvault/connvault"
)

// stepError is a failed step of what Check and Issue share (reading the
// credentials, a token exchange, assuming a role): Check shows it as its
// failed step, Issue as an IssueError that names the step. msg is user-
// facing and never holds a secret, like every step message. refused
// marks a refusal of the credentials by the provider (an OAuth refusal,
// a role that may not be assumed), which a browse reports as Refused.
type stepError struct {
	step, msg string
	refused   bool
	// timedOut: the provider did not answer in time. The per-call timeout
	// and the caller's deadline are often the same length and either timer
	// may fire first, so this is not left to ctx.Err() alone.
	timedOut bool
}

func (e *stepError) Error() string { return e.step + ": " + e.msg }

// failed is the stepError of step failing with msg.
func failed(step, msg string) *stepError { return &stepError{step: step, msg: msg} }

// refusedStep is the stepError of step refused by the provider with msg.
func refusedStep(step, msg string) *stepError { return &stepError{step: step, msg: msg, refused: true} }

// result is the check's failed result: e's step after the passed ones.
func (e *stepError) result(passed ...Step) Result { return failStep(e.step, e.msg, passed...) }

// errUnreadableConfig is a config that does not decode into its provider's
// typed config.
var errUnreadableConfig = failed("read configuration", "the configuration cannot be read")

// wrapIssue makes issue safe to hand to callers, as Run does for checks:
// a panic becomes an IssueError, every failure is an *IssueError (running
// out of time marked TimedOut) whose message is scrubbed of the config's
// secrets and cleaned, and Rotated, which issue returns holding only the
// secrets the provider replaced, becomes the full config with them.
func wrapIssue(p *Provider, issue func(ctx context.Context, cfg Config, env Env) (Issued, error)) func(ctx context.Context, cfg Config, env Env) (Issued, error) {
	return func(ctx context.Context, cfg Config, env Env) (iss Issued, err error) {
		defer func() {
			if r := recover(); r != nil {
				// The panic value is not shown: it may hold the config.
				err = fmt.Errorf("issuing %s credentials failed unexpectedly", p.Type)
			}
			if err != nil {
				iss, err = Issued{}, issueError(ctx, err, SecretValues(p, cfg))
			}
		}()
		iss, err = issue(ctx, cfg, env)
		if err == nil {
			iss.Rotated = withReplaced(p, cfg, iss.Rotated)
		}
		return iss, err
	}
}

// withReplaced is the full config with the secrets a provider replaced
// (nil when it replaced none).
func withReplaced(p *Provider, cfg, replaced Config) Config {
	if replaced == nil {
		return nil
	}
	full := deepCopy(cfg)
	if err := mergePatch(p, full, replaced, nil); err != nil {
		return nil
	}
	return full
}

// issueError turns a failure to issue into the *IssueError callers get.
func issueError(ctx context.Context, err error, secrets []string) *IssueError {
	var ie *IssueError
	if !errors.As(err, &ie) {
		ie = &IssueError{Message: err.Error()}
	}
	var se *stepError
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) || (errors.As(err, &se) && se.timedOut) {
		ie.TimedOut = true
		ie.Message = "the provider did not answer before the deadline"
		if errors.As(err, &se) {
			ie.Message = se.step + ": " + ie.Message
		}
	}
	ie.Message = connvault.CleanText(Scrub(ie.Message, secrets))
	return ie
}

// static hands out stored secrets as they are: nothing shorter-lived
// exists for them, so they carry no expiry.
func static(credentials map[string]any) (Issued, error) {
	return Issued{Credentials: credentials}, nil
}

// IssueOffline runs p's issue of a config as stored with every network
// path of env closed (HTTP requests, dials and name lookups fail at once)
// and answers its credentials, and true, only when they came back static
// (no expiry, nothing rotated) without trying one: the stored secrets as
// they are, which need no issuing lock and no cache. Anything else (a
// token to exchange, a key pair's JWT that expires) answers false: issue
// it with Issue.
//
// config is the public part (a marker at each secret's path) and secrets
// the secret leaves in the same shape ("" for none), both JSON objects as
// stored. They are decoded straight into the provider's typed config: this
// is the path of every static credentials request, and through the maps a
// check builds (Plain, then decodeConfig's round trip through JSON) it took
// 10.6 µs instead of 2.2 (BenchmarkIssueOfflineStatic).
func IssueOffline(ctx context.Context, p *Provider, config []byte, secrets connvault.Secret, env Env) (iss Issued, ok bool) {
	if p.issueStored == nil {
		return Issued{}, false
	}
	defer func() {
		if recover() != nil { // not static: Issue will report it
			iss, ok = Issued{}, false
		}
	}()
	o := &offline{}
	o.client.Transport = o
	env.HTTP, env.Dial, env.Lookup = &o.client, o.dial, o.lookup
	issued, err := p.issueStored(ctx, config, []byte(secrets.Reveal()), env)
	if err != nil || o.tried.Load() || issued.ExpiresAt != nil || issued.Rotated != nil {
		return Issued{}, false
	}
	return issued, true
}

var errOffline = errors.New("offline: static credentials only")

// offline is the closed network of one IssueOffline, in one allocation
// (it runs for every static credentials request): every HTTP request,
// dial and name lookup fails at once and is noted.
type offline struct {
	tried  atomic.Bool
	client http.Client
}

func (o *offline) RoundTrip(*http.Request) (*http.Response, error) { return nil, o.refuse() }

func (o *offline) dial(context.Context, string, string) (net.Conn, error) { return nil, o.refuse() }

func (o *offline) lookup(context.Context, string) ([]string, error) { return nil, o.refuse() }

func (o *offline) refuse() error {
	o.tried.Store(true)
	return errOffline
}
