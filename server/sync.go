package server

import (
	"context"
	"encoding/json"
	"errors"
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
	c, err := s.store.GetConnection(ctx, principal(ctx).OrgID, req.ConnectionIdentifier)
	if err != nil {
		return nil, err
	}
	if c.Status != connvault.StatusActive {
		return nil, connvault.Errorf(connvault.ESTATE, "credentials are issued for ACTIVE connections only; this one is %s", c.Status)
	}
	p, err := lookupProvider(c.ProviderType)
	if err != nil {
		return nil, err
	}
	var (
		out    *store.CachedCredentials
		static bool
		cached = true
	)
	ready := func(ctx context.Context, st *store.Store) (bool, error) {
		got, err := st.CachedCredentials(ctx, c)
		if got != nil {
			out = got
		}
		return got != nil, err
	}
	err = s.store.WithIssueLock(ctx, c, s.issueWait(), ready, func(ctx context.Context, st *store.Store) error {
		cached = false
		sealed, err := st.Sealed(ctx, c)
		if err != nil {
			return err
		}
		ictx, cancel := context.WithTimeout(ctx, s.cfg.CheckTimeout)
		defer cancel()
		issued, err := p.Issue(ictx, sealed.Plain(), s.cfg.Env)
		if err != nil {
			return issueRefusal(err)
		}
		creds, err := json.Marshal(issued.Credentials)
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		out = &store.CachedCredentials{Credentials: creds, IssuedAt: now}
		var rotated *connvault.SealedConfig
		if issued.Rotated != nil {
			r := providers.Seal(p, issued.Rotated)
			rotated = &r
		}
		if issued.ExpiresAt == nil {
			static = true
			if rotated == nil {
				return nil // handed out as stored: nothing to cache
			}
		} else {
			out.ExpiresAt = issued.ExpiresAt.UTC()
		}
		if static {
			// A rotation without an expiry to cache: store the secrets alone.
			_, err = st.SaveIssued(context.WithoutCancel(ctx), c, store.CachedCredentials{Credentials: creds, IssuedAt: now, ExpiresAt: now}, rotated)
			return err
		}
		// Stored even if the client has gone: a rotated token must not be lost.
		_, err = st.SaveIssued(context.WithoutCancel(ctx), c, *out, rotated)
		return err
	})
	if err != nil {
		return nil, err
	}
	var creds map[string]any
	if err := json.Unmarshal(out.Credentials, &creds); err != nil {
		return nil, err
	}
	answer := gen.IssuedCredentials{ConnectionId: c.ID, ProviderType: gen.ProviderType(c.ProviderType), Credentials: creds, IssuedAt: out.IssuedAt}
	details := map[string]any{"cached": cached, "expires_at": nil}
	if !static {
		answer.ExpiresAt = &out.ExpiresAt
		details["expires_at"] = out.ExpiresAt
	}
	s.record(ctx, connvault.ActionCredentialsIssue, c.ID, details)
	noStore := "no-store"
	return gen.IssueCredentials200JSONResponse{Body: answer, Headers: gen.IssueCredentials200ResponseHeaders{CacheControl: &noStore}}, nil
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
			// scrub the connection's own secrets before storing it.
			message, err = s.scrubbed(ctx, c, connvault.CleanText(*body.Error))
			if err != nil {
				return nil, err
			}
		}
	}
	updated, err := s.store.RecordUsage(ctx, c.OrgID, c.ID, body.Success, message, s.cfg.Schedule)
	if err != nil {
		return nil, err
	}
	s.record(ctx, connvault.ActionUsageReported, c.ID, map[string]any{"success": body.Success, "operation": body.Operation})
	s.recordStatus(ctx, c, updated)
	return encodeConnection(updated), nil
}

// scrubbed replaces the connection's secret values in text by the marker.
func (s *Server) scrubbed(ctx context.Context, c *connvault.Connection, text string) (string, error) {
	p, full, err := s.plainConfig(ctx, c)
	if err != nil {
		return "", err
	}
	return providers.Scrub(text, providers.SecretValues(p, full)), nil
}
