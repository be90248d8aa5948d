package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/migrations"
	"github.com/connvault/connvault/store/sqlcdb"
	"github.com/jackc/pgx/v5"
)

// ErrWrongKey is returned by CheckKey when the server key is not one the
// database's secrets were encrypted under.
var ErrWrongKey = errors.New("CONNVAULT_ENCRYPTION_KEY is not the key this database's secrets are encrypted under " +
	"(no key id of this server's keyring is registered). Start with the right key; to move to a new key, " +
	"set the old one in CONNVAULT_ENCRYPTION_KEY_PREVIOUS and run `connvault keys rotate`")

// CheckKey compares the keyring with the key ids registered in the
// database (their check values: HMACs of the keys, never the keys). The
// first server to start registers its key; a server holding a registered
// key (as current or previous) registers its current one too; a server
// holding none of them gets ErrWrongKey and must not start.
func (s *Store) CheckKey(ctx context.Context) error {
	registered, err := s.q.RegisteredKeyIDs(ctx)
	if err != nil {
		return mapError(err, "encryption keys")
	}
	if len(registered) > 0 && !slices.ContainsFunc(registered, func(id string) bool {
		_, ok := s.keys.passphrase(id)
		return ok
	}) {
		return fmt.Errorf("%w (registered: %s; this server's key: %s)", ErrWrongKey, strings.Join(registered, ", "), s.keys.CurrentID)
	}
	if err := s.q.RegisterKeyID(ctx, s.keys.CurrentID); err != nil {
		return mapError(err, "encryption keys")
	}
	return nil
}

// Ready says what keeps this server from answering requests, by check
// name ("database", "schema", "encryption_key"); nil when nothing does.
func (s *Store) Ready(ctx context.Context) map[string]string {
	applied, err := s.q.AppliedMigrations(ctx)
	if err != nil {
		if connvault.ErrorCode(mapError(err, "")) == connvault.EUNAVAILABLE {
			return map[string]string{"database": "unreachable"}
		}
		return map[string]string{"database": "failing"}
	}
	failed := map[string]string{}
	names, _ := fs.Glob(migrations.FS, "*.sql")
	for _, name := range names {
		if !slices.Contains(applied, strings.TrimSuffix(name, ".sql")) {
			failed["schema"] = "migration " + name + " is not applied"
			break
		}
	}
	if err := s.CheckKey(ctx); err != nil {
		failed["encryption_key"] = "the server key does not match the database's"
		if connvault.ErrorCode(err) == connvault.EUNAVAILABLE {
			failed["encryption_key"] = "could not be checked"
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return failed
}

// Idempotency is what a create's Idempotency-Key found.
type Idempotency struct {
	// Replay is the first request's answer, to send again.
	Replay []byte
	// Release frees the key after a failed create; Complete stores the
	// answer of a successful one. Exactly one of them must be called when
	// Replay is nil.
	Release  func()
	Complete func(answer []byte) error
}

// ClaimIdempotencyKey takes key for a create with this body, or finds the
// answer of the create that took it first with the same body. The same key
// with another body is EINVALID; with a create still running, ESTATE.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, orgID, key string, body []byte) (*Idempotency, error) {
	hash := sha256.Sum256(body)
	n, err := s.q.ClaimIdempotencyKey(ctx, sqlcdb.ClaimIdempotencyKeyParams{InternalID: orgID, IdempotencyKey: key, RequestHash: hash[:]})
	if err != nil {
		return nil, mapError(err, "idempotency key")
	}
	if n == 0 {
		held, err := s.q.GetIdempotencyKey(ctx, sqlcdb.GetIdempotencyKeyParams{InternalID: orgID, IdempotencyKey: key})
		if errors.Is(err, pgx.ErrNoRows) {
			// Released between the two statements: the caller may retry.
			return nil, connvault.Errorf(connvault.ESTATE, "a request with this Idempotency-Key just finished; retry")
		}
		if err != nil {
			return nil, mapError(err, "idempotency key")
		}
		switch {
		case string(held.RequestHash) != string(hash[:]):
			return nil, connvault.Invalid([]string{"header", "Idempotency-Key"}, "this Idempotency-Key was used with a different request body in the last 24 hours")
		case held.Response == nil:
			return nil, connvault.Errorf(connvault.ESTATE, "a request with this Idempotency-Key is still running; retry when it has finished")
		}
		return &Idempotency{Replay: held.Response}, nil
	}
	params := sqlcdb.ReleaseIdempotencyKeyParams{InternalID: orgID, IdempotencyKey: key}
	return &Idempotency{
		Release: func() {
			// Best effort: a key left behind only makes retries answer
			// "still running" until it expires.
			_ = s.q.ReleaseIdempotencyKey(context.WithoutCancel(ctx), params)
		},
		Complete: func(answer []byte) error {
			err := s.q.CompleteIdempotencyKey(context.WithoutCancel(ctx), sqlcdb.CompleteIdempotencyKeyParams{
				InternalID: orgID, IdempotencyKey: key, Response: answer})
			return mapError(err, "idempotency key")
		},
	}, nil
}
