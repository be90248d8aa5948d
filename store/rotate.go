package store

import (
	"context"
	"fmt"

	"github.com/connvault/connvault/store/sqlcdb"
)

// RotateKeys re-encrypts every secret stored under a previous key with the
// current key, one organization at a time (every statement stays scoped to
// a tenant), and returns how many connections it rewrote. Fingerprints are
// recomputed under the current key; their changed_at stays, the values
// being the same. Safe to run while servers serve: each row is rewritten
// with the same optimistic version check as a PATCH, and a row changed
// meanwhile is simply picked up by the next pass. With orgs given, only
// those organizations are rotated.
func (s *Store) RotateKeys(ctx context.Context, orgs ...string) (int, error) {
	everyOrg := len(orgs) == 0
	if everyOrg {
		var err error
		if orgs, err = s.q.ListOrganizations(ctx); err != nil {
			return 0, fmt.Errorf("rotate keys: %w", err)
		}
	}
	rotated := 0
	for _, org := range orgs {
		for {
			rows, err := s.q.ListConnectionsUnderOtherKeys(ctx, sqlcdb.ListConnectionsUnderOtherKeysParams{
				InternalID: org, CurrentKeyID: &s.keys.CurrentID, RowLimit: 100,
			})
			if err != nil {
				return rotated, fmt.Errorf("rotate keys of %s: %w", org, err)
			}
			if len(rows) == 0 {
				break
			}
			for _, r := range rows {
				c, err := fromRow(r)
				if err != nil {
					return rotated, err
				}
				sealed, err := s.Sealed(ctx, c)
				if err != nil {
					return rotated, err
				}
				_, err = s.UpdateConnection(ctx, c, &ConfigChange{Config: sealed, SameValues: true})
				switch {
				case err == ErrStale: // changed meanwhile: the next pass takes it
				case err != nil:
					return rotated, fmt.Errorf("rotate %s: %w", c.ID, err)
				default:
					rotated++
				}
			}
		}
	}
	// Keys no row is encrypted under any more are no longer accepted at
	// start-up (CheckKey): a server still holding only the old key must
	// not start against rows it cannot read.
	if everyOrg {
		if _, err := s.q.ForgetUnusedKeyIDs(ctx, s.keys.CurrentID); err != nil {
			return rotated, mapError(err, "encryption keys")
		}
	}
	return rotated, nil
}
