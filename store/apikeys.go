package store

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/store/sqlcdb"
)

// Principal is who an API key speaks for.
type Principal struct {
	OrgID  string
	UserID string
}

func hashKey(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// CreateAPIKey creates the organization and user if missing and a new key
// for them. The raw key is returned once; only its hash is stored.
func (s *Store) CreateAPIKey(ctx context.Context, orgID, userID string) (string, error) {
	if !connvault.ValidOrgID(orgID) {
		return "", connvault.Errorf(connvault.EINVALID, "organization id must be int_ followed by 24 letters or digits")
	}
	if !connvault.ValidUserID(userID) {
		return "", connvault.Errorf(connvault.EINVALID, "user id must be usr_ followed by 15 letters or digits")
	}
	raw := connvault.NewAPIKey()
	err := s.inTx(ctx, func(q *sqlcdb.Queries) error {
		if err := q.EnsureOrganization(ctx, orgID); err != nil {
			return err
		}
		if err := q.EnsureUser(ctx, sqlcdb.EnsureUserParams{InternalID: orgID, UserID: userID}); err != nil {
			return err
		}
		return q.InsertAPIKey(ctx, sqlcdb.InsertAPIKeyParams{
			KeyHash: hashKey(raw), KeyPrefix: raw[:7], InternalID: orgID, UserID: userID,
		})
	})
	if err != nil {
		return "", fmt.Errorf("create api key: %w", mapError(err, "api key"))
	}
	return raw, nil
}

// Authenticate resolves a raw API key. Unknown and revoked keys are EUNAUTH.
func (s *Store) Authenticate(ctx context.Context, raw string) (Principal, error) {
	row, err := s.q.LookupAPIKey(ctx, hashKey(raw))
	if err != nil {
		err = mapError(err, "api key")
		if connvault.ErrorCode(err) == connvault.ENOTFOUND {
			return Principal{}, connvault.Errorf(connvault.EUNAUTH, "the API key is not valid")
		}
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return Principal{OrgID: row.InternalID, UserID: row.UserID}, nil
}

// RevokeAPIKey revokes a key; it reports ENOTFOUND for unknown or revoked keys.
func (s *Store) RevokeAPIKey(ctx context.Context, raw string) error {
	n, err := s.q.RevokeAPIKey(ctx, hashKey(raw))
	if err != nil {
		return fmt.Errorf("revoke api key: %w", mapError(err, "api key"))
	}
	if n == 0 {
		return connvault.Errorf(connvault.ENOTFOUND, "api key not found")
	}
	return nil
}
