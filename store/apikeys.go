package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/store/sqlcdb"
	"github.com/jackc/pgx/v5"
)

// Principal is who an API key speaks for, and what it may do.
type Principal struct {
	OrgID  string
	UserID string
	KeyID  string
	Scopes []connvault.Scope
}

// Can reports whether the principal holds scope.
func (p Principal) Can(scope connvault.Scope) bool {
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

func hashKey(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// NewAPIKey is what CreateAPIKey makes.
type NewAPIKey struct {
	OrgID, UserID, Name string
	// Scopes default to connvault.DefaultScopes.
	Scopes []connvault.Scope
	// Created, if given, is recorded in the key's transaction, with the
	// new key's id and scopes added to its details (key_id, scopes).
	Created *NewEvent
}

// CreateAPIKey creates the organization and user if missing and a new key
// for them. The raw key is returned once; only its hash is stored.
func (s *Store) CreateAPIKey(ctx context.Context, n NewAPIKey) (string, *connvault.APIKey, error) {
	if !connvault.ValidOrgID(n.OrgID) {
		return "", nil, connvault.Errorf(connvault.EINVALID, "organization id must be int_ followed by 24 letters or digits")
	}
	if !connvault.ValidUserID(n.UserID) {
		return "", nil, connvault.Errorf(connvault.EINVALID, "user id must be usr_ followed by 15 letters or digits")
	}
	scopes := n.Scopes
	if len(scopes) == 0 {
		scopes = connvault.DefaultScopes
	}
	names := make([]string, len(scopes))
	for i, sc := range scopes {
		if !connvault.ValidScope(string(sc)) {
			return "", nil, connvault.Invalid([]string{"body", "scopes"}, "unknown scope "+string(sc))
		}
		names[i] = string(sc)
	}
	raw := connvault.NewAPIKey()
	var row *sqlcdb.ApiKey
	err := s.inTx(ctx, func(q *sqlcdb.Queries) error {
		if err := q.EnsureOrganization(ctx, n.OrgID); err != nil {
			return err
		}
		if err := q.EnsureUser(ctx, sqlcdb.EnsureUserParams{InternalID: n.OrgID, UserID: n.UserID}); err != nil {
			return err
		}
		var err error
		row, err = q.InsertAPIKey(ctx, sqlcdb.InsertAPIKeyParams{
			KeyHash: hashKey(raw), KeyPrefix: raw[:7], InternalID: n.OrgID, UserID: n.UserID,
			KeyID: connvault.NewKeyID(), Name: n.Name, Scopes: names,
		})
		if err != nil || n.Created == nil {
			return err
		}
		return insertEvents(ctx, q, []NewEvent{n.Created.with(map[string]any{"key_id": row.KeyID, "scopes": names})})
	})
	if err != nil {
		return "", nil, fmt.Errorf("create api key: %w", mapError(err, "api key"))
	}
	return raw, keyFromRow(row), nil
}

// Authenticate resolves a raw API key (and marks it used). Unknown and
// revoked keys are EUNAUTH.
func (s *Store) Authenticate(ctx context.Context, raw string) (Principal, error) {
	row, err := s.q.UseAPIKey(ctx, hashKey(raw))
	if err != nil {
		err = mapError(err, "api key")
		if connvault.ErrorCode(err) == connvault.ENOTFOUND {
			return Principal{}, connvault.Errorf(connvault.EUNAUTH, "the API key is not valid")
		}
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return Principal{OrgID: row.InternalID, UserID: row.UserID, KeyID: row.KeyID, Scopes: scopesOf(row.Scopes)}, nil
}

// RevokeAPIKey revokes a key given as the raw key; it reports ENOTFOUND for
// unknown or revoked keys. revoked, if given, is recorded in the same
// transaction, with the key's organization and id (details key_id).
func (s *Store) RevokeAPIKey(ctx context.Context, raw string, revoked *NewEvent) error {
	err := s.inTx(ctx, func(q *sqlcdb.Queries) error {
		row, err := q.RevokeAPIKey(ctx, hashKey(raw))
		if err != nil || revoked == nil {
			return err
		}
		e := revoked.with(map[string]any{"key_id": row.KeyID})
		e.OrgID = row.InternalID
		return insertEvents(ctx, q, []NewEvent{e})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return connvault.Errorf(connvault.ENOTFOUND, "api key not found")
	}
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	return nil
}

// RevokeAPIKeyByID revokes one of the organization's keys by id, recording
// events in the same transaction; revoking a revoked key answers it
// unchanged and records nothing, as nothing changed.
func (s *Store) RevokeAPIKeyByID(ctx context.Context, orgID, keyID string, events ...NewEvent) (*connvault.APIKey, error) {
	var row *sqlcdb.ApiKey
	err := s.inTx(ctx, func(q *sqlcdb.Queries) error {
		revoked, err := q.RevokeAPIKeyByID(ctx, sqlcdb.RevokeAPIKeyByIDParams{InternalID: orgID, KeyID: keyID})
		if err != nil {
			return err
		}
		if row = &revoked.ApiKey; !revoked.RevokedNow {
			return nil
		}
		return insertEvents(ctx, q, events)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, connvault.Errorf(connvault.ENOTFOUND, "api key not found")
	}
	if err != nil {
		return nil, mapError(err, "api key")
	}
	return keyFromRow(row), nil
}

// ListAPIKeys lists the organization's keys, newest first.
func (s *Store) ListAPIKeys(ctx context.Context, orgID string) ([]*connvault.APIKey, error) {
	rows, err := s.q.ListAPIKeys(ctx, orgID)
	if err != nil {
		return nil, mapError(err, "api keys")
	}
	out := make([]*connvault.APIKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, keyFromRow(r))
	}
	return out, nil
}

func keyFromRow(r *sqlcdb.ApiKey) *connvault.APIKey {
	return &connvault.APIKey{ID: r.KeyID, OrgID: r.InternalID, CreatedByUserID: r.UserID, Prefix: r.KeyPrefix, Name: r.Name,
		Scopes: scopesOf(r.Scopes), CreatedAt: r.CreatedAt.UTC(), LastUsedAt: utcPtr(r.LastUsedAt), RevokedAt: utcPtr(r.RevokedAt)}
}

func scopesOf(names []string) []connvault.Scope {
	out := make([]connvault.Scope, len(names))
	for i, n := range names {
		out[i] = connvault.Scope(n)
	}
	return out
}

// KeyOrganization answers the organization of a key id (for the operator's
// revoke by id, which names no organization).
func (s *Store) KeyOrganization(ctx context.Context, keyID string) (string, error) {
	org, err := s.q.KeyOrganization(ctx, keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", connvault.Errorf(connvault.ENOTFOUND, "api key not found")
	}
	return org, mapError(err, "api key")
}
