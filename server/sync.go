package server

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/gen"
	"github.com/connvault/connvault/providers"
	"github.com/connvault/connvault/store"
)

// issueWait bounds how long a request waits for another one (on any
// replica) that is exchanging tokens for the same connection.
func (s *Server) issueWait() time.Duration { return s.cfg.CheckTimeout + 5*time.Second }

// IssueCredentials implements POST .../connections/{id}/credentials.
func (s *Server) IssueCredentials(ctx context.Context, req gen.IssueCredentialsRequestObject) (gen.IssueCredentialsResponseObject, error) {
	var expected *store.IssueExpected
	if last, ok := s.lastIssues.get(req.ConnectionIdentifier); ok {
		expected = &store.IssueExpected{Event: *event(ctx, connvault.ActionCredentialsIssue, "", nil)}
		if last.static {
			expected.StaticVersion = &last.version
		}
	}
	m, err := s.store.IssueLookup(ctx, principal(ctx).OrgID, req.ConnectionIdentifier, expected)
	if err != nil {
		return nil, err
	}
	c := m.Connection
	if c.Status != connvault.StatusActive {
		return nil, connvault.Errorf(connvault.ESTATE, "credentials are issued for ACTIVE connections only; this one is %s", c.Status)
	}
	p, err := lookupProvider(c.ProviderType)
	if err != nil {
		return nil, err
	}
	got, err := s.credentials(ctx, p, m)
	if err != nil {
		return nil, err
	}
	s.lastIssues.set(c.ID, lastIssue{static: got.static, version: c.Version})
	var expiresAt *time.Time
	details := map[string]any{"cached": got.cached, "expires_at": nil}
	if !got.static {
		expiresAt = &got.creds.ExpiresAt
		details["expires_at"] = got.creds.ExpiresAt
	}
	if !m.Recorded || !(got.cached || got.static) {
		if m.Recorded {
			// The lookup recorded a static issue of this version, which has
			// always issued static secrets: the issue proper must have
			// failed offline. Both are kept; say so.
			s.log.ErrorContext(ctx, "a static issue was recorded, then the credentials were issued otherwise", "connection_id", c.ID)
		}
		// No credentials leave without their audit event: if it cannot be
		// written, the caller gets an error instead (a token exchanged
		// meanwhile stays cached for the retry).
		if err := s.store.RecordEvent(ctx, *event(ctx, connvault.ActionCredentialsIssue, c.ID, details)); err != nil {
			return nil, err
		}
	}
	return encodeCredentials(c.ID, c.ProviderType, got.creds.Credentials, got.creds.IssuedAt, expiresAt), nil
}

// lastIssues remembers, by conn_ id, how each connection's last issue on
// this replica went, so that the next issue's lookup can record the issue
// it will most likely be in its own statement, one trip instead of two: a
// cache hit after a token was issued or served from the cache, the static
// issue of the same stored secrets after a static issue at the same
// version. The lookup that can record costs Postgres more even when it
// records nothing, so connections without a last issue here are looked up
// without it. A wrong guess costs only that. Bounded: emptied when it
// reaches maxLastIssues.
type lastIssues struct {
	mu  sync.Mutex
	ids map[string]lastIssue
}

type lastIssue struct {
	static  bool
	version int64 // the connection's version when it was issued
}

const maxLastIssues = 100_000

func (l *lastIssues) get(id string) (lastIssue, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	last, ok := l.ids[id]
	return last, ok
}

func (l *lastIssues) set(id string, last lastIssue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil || len(l.ids) >= maxLastIssues {
		l.ids = map[string]lastIssue{}
	}
	l.ids[id] = last
}

// issuance is what IssueCredentials hands out and how it came by it.
type issuance struct {
	creds  *store.CachedCredentials
	static bool // no expiry: the stored secrets as they are
	cached bool // issued earlier, from the cache
}

// credentials finds the credentials the cheapest safe way: from the cache;
// from the stored secrets when the provider hands those out as they are
// (no provider is asked, so no lock is needed); otherwise under the issuing
// lock, so that one request among all replicas asks the provider. The
// lookup read the cache and, without a cached token, the secrets already.
func (s *Server) credentials(ctx context.Context, p *providers.Provider, m *store.IssueMaterial) (issuance, error) {
	if m.Cached != nil {
		return issuance{creds: m.Cached, cached: true}, nil
	}
	c := m.Connection
	if issued, ok := providers.IssueOffline(ctx, p, c.Config, m.Secrets, s.cfg.Env); ok {
		creds, err := marshalCredentials(issued.Credentials)
		if err != nil {
			return issuance{}, err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		return issuance{creds: &store.CachedCredentials{Credentials: creds, IssuedAt: now}, static: true}, nil
	}
	var got issuance
	ready := func(ctx context.Context, st *store.Store) (bool, error) {
		cached, err := st.CachedCredentials(ctx, c)
		if cached != nil {
			got = issuance{creds: cached, cached: true}
		}
		return cached != nil, err
	}
	err := s.store.WithIssueLock(ctx, c, s.issueWait(), ready, func(ctx context.Context, st *store.Store) error {
		var err error
		got, err = s.issueLocked(ctx, st, p, c)
		return err
	})
	return got, err
}

// issueLocked is the issuing lock holder's work: ask the provider, cache
// what expires, store what it rotated.
func (s *Server) issueLocked(ctx context.Context, st *store.Store, p *providers.Provider, c *connvault.Connection) (issuance, error) {
	sealed, err := st.Sealed(ctx, c)
	if err != nil {
		return issuance{}, err
	}
	// Not cut short by a client that leaves (see runCheck): what the
	// exchange gets is cached and kept for the next request.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CheckTimeout)
	defer cancel()
	issued, err := p.Issue(ictx, sealed.Plain(), s.cfg.Env)
	if err != nil {
		return issuance{}, issueRefusal(err)
	}
	creds, err := marshalCredentials(issued.Credentials)
	if err != nil {
		return issuance{}, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	got := issuance{creds: &store.CachedCredentials{Credentials: creds, IssuedAt: now}}
	var rotated *connvault.SealedConfig
	if issued.Rotated != nil {
		r := providers.Seal(p, issued.Rotated)
		rotated = &r
	}
	if issued.ExpiresAt == nil {
		got.static = true
		if rotated == nil {
			return got, nil // handed out as stored: nothing to cache
		}
		// A rotation without an expiry to cache: store the secrets alone.
		_, err = st.SaveIssued(context.WithoutCancel(ctx), c, store.CachedCredentials{Credentials: creds, IssuedAt: now, ExpiresAt: now}, rotated)
		return got, err
	}
	got.creds.ExpiresAt = issued.ExpiresAt.UTC()
	// Stored even if the client has gone: a rotated token must not be lost.
	_, err = st.SaveIssued(context.WithoutCancel(ctx), c, *got.creds, rotated)
	return got, err
}

// issueRefusal maps a provider's refusal to issue.
func issueRefusal(err error) error {
	var ie *providers.IssueError
	if !errors.As(err, &ie) {
		return err
	}
	if ie.TimedOut {
		return connvault.Errorf(connvault.ETIMEOUT, "the provider did not answer in time: %s", connvault.CleanText(ie.Message))
	}
	return connvault.Errorf(connvault.EPROVIDER, "the provider refused: %s", connvault.CleanText(ie.Message))
}

// ReportUsage implements POST .../connections/{id}/usage.
func (s *Server) ReportUsage(ctx context.Context, req gen.ReportUsageRequestObject) (gen.ReportUsageResponseObject, error) {
	c, err := s.store.GetConnection(ctx, principal(ctx).OrgID, req.ConnectionIdentifier)
	if err != nil {
		return nil, err
	}
	if err := c.Mutable(); err != nil {
		return nil, err
	}
	body := req.Body
	message := ""
	if !body.Success {
		message = "the worker reported a failed " + string(body.Operation)
		if body.Error != nil && *body.Error != "" {
			// Workers may quote what the provider said, tokens included:
			// scrub the connection's secrets, its cached token and whatever
			// looks like a credential before storing it.
			message, err = s.scrubbed(ctx, c, connvault.CleanText(*body.Error))
			if err != nil {
				return nil, err
			}
		}
	}
	reported := event(ctx, connvault.ActionUsageReported, c.ID, map[string]any{"success": body.Success, "operation": body.Operation})
	updated, err := s.store.RecordUsage(ctx, c.OrgID, c.ID, body.Success, message, s.cfg.Schedule,
		store.HealthAudit{Actor: actor(ctx), Events: []store.NewEvent{*reported}})
	if err != nil {
		return nil, err
	}
	return encodeConnection(updated), nil
}

// scrubbed replaces in text, by the marker, the connection's secret
// values, the values of its cached token (what a worker was most likely
// handed), and what looks like any other credential (providers.ScrubTokens:
// a token issued earlier is cached no more).
func (s *Server) scrubbed(ctx context.Context, c *connvault.Connection, text string) (string, error) {
	p, full, err := s.plainConfig(ctx, c)
	if err != nil {
		return "", err
	}
	values := providers.SecretValues(p, full)
	cached, err := s.store.CachedCredentials(ctx, c)
	if err != nil {
		return "", err
	}
	if cached != nil {
		var issued map[string]any
		if json.Unmarshal(cached.Credentials, &issued) == nil {
			values = append(values, providers.StringLeaves(issued)...)
		}
	}
	return providers.ScrubTokens(providers.Scrub(text, values)), nil
}
