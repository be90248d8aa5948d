// Package providers holds what is special about each storage provider: which
// provider_config fields are secret and how to prove the credentials work.
// Everything else about a config (shape, required fields, ranges) lives in
// openapi.yaml and is enforced by the request validator.
//
// Each provider is one file that registers itself from init(); adding a
// provider means one new file here plus its schema in the spec.
package providers

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/connvault/connvault"
)

// Config is a provider_config decoded from JSON, secrets in plaintext. It only
// lives in memory for the length of a request or a check.
type Config = map[string]any

// Env is everything a check may use to reach the outside world. The server
// builds it once from configuration; tests point Endpoints at local doubles.
type Env struct {
	// HTTP is the client for every HTTP call: SSRF-guarded dialer, no
	// redirects to other hosts, bounded response sizes.
	HTTP *http.Client
	// Dial opens raw connections (databases) through the same SSRF guard.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Lookup resolves host names (nil: LookupHost).
	Lookup func(ctx context.Context, host string) ([]string, error)
	// Endpoints overrides provider base and token URLs by name, e.g.
	// "google_drive.token_url". See Endpoint.
	Endpoints map[string]string
	// AWS is the server's own AWS identity, used to assume the IAM roles
	// that S3 connections name (credentials type iam_role). Empty when the
	// server has none.
	AWS AWSCredentials
}

// AWSCredentials is an AWS access key. Its String never shows the secret.
type AWSCredentials struct {
	AccessKeyID     string
	SecretAccessKey connvault.Secret
	SessionToken    connvault.Secret
}

// LookupHost resolves host with the Env's resolver.
func (e Env) LookupHost(ctx context.Context, host string) ([]string, error) {
	if e.Lookup != nil {
		return e.Lookup(ctx, host)
	}
	return LookupHost(ctx, host)
}

// Endpoint returns the configured override for name, or def.
func (e Env) Endpoint(name, def string) string {
	if v, ok := e.Endpoints[name]; ok && v != "" {
		return v
	}
	return def
}

// Provider declares one provider type.
type Provider struct {
	// Type is the provider_type value, e.g. "s3".
	Type string
	// Secrets lists the secret fields as paths into provider_config, segments
	// separated by "."; a "*" segment matches every key of a map (header
	// values). Only string values are treated as secrets.
	Secrets []string
	// SecretsBoundTo lists the config fields that decide where the secrets
	// are sent (an endpoint, a host): a PATCH that changes one must send
	// the secrets again (see SecretsSentElsewhere), so that a caller who
	// may change a connection but never saw its secrets cannot have them
	// sent to a server of theirs by the test, the checker or a worker.
	SecretsBoundTo []string
	// Check proves the credentials work with the cheapest read-only call the
	// provider offers. The caller sets the deadline on ctx. register builds
	// it around the provider's check of its typed config.
	Check func(ctx context.Context, cfg Config, env Env) Result
	// Issue hands a sync worker credentials for the connection, as short-
	// lived as the provider allows (an access token, a signed JWT, STS
	// credentials), or the stored static secrets where there is nothing
	// shorter. The caller sets the deadline on ctx, caches the result until
	// shortly before ExpiresAt and stores Rotated when set. Each call makes
	// at most one token exchange with the provider (none for static
	// secrets and Snowflake's key-pair JWT). Every failure is an
	// *IssueError. register builds it around the provider's issue of its
	// typed config.
	Issue func(ctx context.Context, cfg Config, env Env) (Issued, error)
	// Browse lists one page of a folder's folders or files (see browse.go
	// for what each provider calls), nil for providers without folders.
	// The caller sets the deadline on ctx and stores page.Rotated when
	// set, on failure too. Every failure is a *BrowseError: Refused (an
	// auth or permission failure, as a failed check is), NotFound (the
	// path), TimedOut or Invalid (the request). register builds it around
	// the provider's browse of its typed config, declared with browsing.
	Browse func(ctx context.Context, cfg Config, env Env, req BrowseRequest) (BrowsePage, error)

	// browse is Browse before its errors are made safe to show: tests
	// prove it never produces a secret in the first place.
	browse func(ctx context.Context, cfg Config, env Env, req BrowseRequest) (BrowsePage, error)
	// issueStored is the provider's issue of a config as stored, its
	// secrets apart (see IssueOffline, its only caller).
	issueStored func(ctx context.Context, config, secrets []byte, env Env) (Issued, error)
}

// Issued is what a sync worker receives for a connection.
type Issued struct {
	// Credentials are named as the provider names them (access_token,
	// token_type, access_key_id, secret_access_key, session_token, jwt,
	// username, password, headers, ...): everything a worker needs to call
	// the provider, nothing it does not.
	Credentials map[string]any
	// ExpiresAt is when the credentials stop working; nil for static
	// secrets handed out as stored.
	ExpiresAt *time.Time
	// Rotated is the full config with the secrets the provider replaced
	// while issuing (Box, and any OAuth server that rotates refresh
	// tokens, answer a new refresh token and revoke the old one). The
	// caller must store it before handing anything out, or the connection
	// is lost.
	Rotated Config
}

// IssueError is a refusal by the provider (or by the configuration) to
// issue credentials.
type IssueError struct {
	// Message is safe to show (no secret, no token, scrubbed of the
	// config's secrets like a check's result) and names the step that was
	// refused, as a check's failed step does: "authenticate: authentication
	// refused by the provider (HTTP 400 Bad Request (invalid_grant))",
	// "assume role: ...", "read credentials: ...".
	Message string
	// TimedOut is set when ctx's deadline ended the exchange.
	TimedOut bool
}

func (e *IssueError) Error() string { return e.Message }

var (
	registryMu sync.RWMutex
	registry   = map[string]*Provider{}
)

// register adds a provider from init() in its file and panics on a
// duplicate, a programming error. Its file declares both of its
// operations here, each starting from the typed config (the config map is
// decoded into C once, here, so neither opens with the decode or handles
// its failure its own way): check proves the credentials work, issue
// hands a sync worker credentials (see Provider.Issue and wrapIssue).
// Optional operations follow as options: browsing(browse) for a provider
// with folders (see Provider.Browse).
func register[C any](providerType string, secrets []string,
	check func(ctx context.Context, c C, env Env) Result,
	issue func(ctx context.Context, c C, env Env) (Issued, error),
	opts ...option[C],
) {
	if check == nil || issue == nil {
		panic("providers: " + providerType + " must declare its check and its issue")
	}
	p := &Provider{Type: providerType, Secrets: secrets}
	p.Check = func(ctx context.Context, cfg Config, env Env) Result {
		var c C
		if err := decodeConfig(cfg, &c); err != nil {
			return errUnreadableConfig.result()
		}
		res := check(ctx, c, env)
		res.Rotated = withReplaced(p, cfg, res.Rotated)
		return res
	}
	p.Issue = wrapIssue(p, func(ctx context.Context, cfg Config, env Env) (Issued, error) {
		var c C
		if err := decodeConfig(cfg, &c); err != nil {
			return Issued{}, errUnreadableConfig
		}
		return issue(ctx, c, env)
	})
	p.issueStored = func(ctx context.Context, config, secrets []byte, env Env) (Issued, error) {
		var c C
		if err := decodeStored(config, secrets, &c); err != nil {
			return Issued{}, errUnreadableConfig
		}
		return issue(ctx, c, env)
	}
	decode := func(cfg Config) (C, error) {
		var c C
		err := decodeConfig(cfg, &c)
		return c, err
	}
	for _, opt := range opts {
		opt(p, decode)
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[p.Type]; dup {
		panic("providers: duplicate registration of " + p.Type)
	}
	registry[p.Type] = p
}

// decodeConfig decodes a config map into a provider's typed config with a
// JSON round trip: the struct's JSON tags are the spec's field names.
func decodeConfig(cfg Config, out any) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// decodeStored decodes a config as stored into a provider's typed config:
// its public part, then its secrets over it. Both are JSON objects of the
// same shape (the secrets hold only the secret leaves, the public part a
// marker at each), and decoding into a struct keeps the fields the second
// document leaves out, so out ends as decodeConfig(Plain()) would, without
// the maps in between.
func decodeStored(config, secrets []byte, out any) error {
	if err := json.Unmarshal(config, out); err != nil {
		return err
	}
	if len(secrets) == 0 {
		return nil
	}
	return json.Unmarshal(secrets, out)
}

// Lookup returns the provider for a provider_type.
func Lookup(providerType string) (*Provider, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	p, ok := registry[providerType]
	return p, ok
}
