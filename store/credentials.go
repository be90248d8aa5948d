package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/connvault/connvault"
	"github.com/connvault/connvault/store/sqlcdb"
	"github.com/jackc/pgx/v5"
)

// CachedCredentials are issued credentials as cached.
type CachedCredentials struct {
	Credentials json.RawMessage
	IssuedAt    time.Time
	ExpiresAt   time.Time
}

// ReuseMargin is how long before expiry a cached token stops being handed
// out (or half its life, for tokens that live shorter than twice that).
const ReuseMargin = 5 * time.Minute

// CachedCredentials answers the cached token of c while it is good for
// ReuseMargin more; nil when there is none.
func (s *Store) CachedCredentials(ctx context.Context, c *connvault.Connection) (*CachedCredentials, error) {
	row, err := s.batched.CachedCredentials(ctx, sqlcdb.CachedCredentialsParams{
		EncryptionKey: s.currentPassphrase(), InternalID: c.OrgID, ConnectionID: c.ID,
		SecretKeyID: s.keys.CurrentID, MarginSeconds: ReuseMargin.Seconds(),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, mapError(err, "issued credentials")
	}
	return &CachedCredentials{Credentials: json.RawMessage(row.CredentialsJson), IssuedAt: row.IssuedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC()}, nil
}

// IssueMaterial is what an issue of credentials starts from.
type IssueMaterial struct {
	Connection *connvault.Connection
	// Cached is the cached token while it is good for ReuseMargin more.
	Cached *CachedCredentials
	// Secrets, without a cached token, are the connection's secrets as
	// stored, decrypted: a JSON object in the shape of provider_config
	// holding the secret leaves only ("" for a connection without).
	Secrets connvault.Secret
	// Recorded: the issue the caller expected (IssueExpected) was recorded
	// by the lookup.
	Recorded bool
}

// IssueExpected is what the caller expects an issue to be, for IssueLookup
// to record in its own statement when it is so: a cache hit (handing out
// the cached token of an ACTIVE connection), or, with StaticVersion, the
// static issue of the stored secrets of an ACTIVE connection still at that
// version whose secrets the lookup decrypts. Details are those the server
// writes for either ({cached, expires_at}); Event's ConnectionID and
// Details are ignored.
type IssueExpected struct {
	Event         NewEvent
	StaticVersion *int64
}

// IssueLookup reads what an issue needs, for a conn_ id in one statement:
// the connection, its cached token and, without one, its secrets (a second
// statement reads secrets still under a previous key). A name is looked up
// first. Given what the caller expects, the same statement records the
// issue when it is so, and Recorded says so: such an issue takes one trip.
// The statement costs Postgres more with it, whether or not it records.
func (s *Store) IssueLookup(ctx context.Context, orgID, identifier string, expected *IssueExpected) (*IssueMaterial, error) {
	id := identifier
	if !strings.HasPrefix(identifier, "conn_") {
		c, err := s.GetConnection(ctx, orgID, identifier)
		if err != nil {
			return nil, err
		}
		id = c.ID
	}
	var row *sqlcdb.IssueLookupRecordingRow
	var err error
	if x := expected; x != nil {
		row, err = s.batchedWrites.IssueLookupRecording(ctx, sqlcdb.IssueLookupRecordingParams{
			CurrentKeyID: s.keys.CurrentID, EncryptionKey: s.currentPassphrase(), MarginSeconds: ReuseMargin.Seconds(),
			InternalID: orgID, ConnectionID: id, Action: string(x.Event.Action), StaticVersion: x.StaticVersion,
			ActorUserID: orNil(x.Event.ActorUserID), ActorKeyID: orNil(x.Event.ActorKeyID), RequestID: orNil(x.Event.RequestID),
		})
	} else {
		var plain *sqlcdb.IssueLookupByIDRow
		plain, err = s.batched.IssueLookupByID(ctx, sqlcdb.IssueLookupByIDParams{
			CurrentKeyID: s.keys.CurrentID, EncryptionKey: s.currentPassphrase(), MarginSeconds: ReuseMargin.Seconds(),
			InternalID: orgID, ConnectionID: id,
		})
		if err == nil {
			row = &sqlcdb.IssueLookupRecordingRow{Connection: plain.Connection, CachedIssuedAt: plain.CachedIssuedAt,
				CachedExpiresAt: plain.CachedExpiresAt, CachedJson: plain.CachedJson, SecretsJson: plain.SecretsJson}
		}
	}
	if err != nil {
		return nil, mapError(err, "connection")
	}
	c, err := fromRow(&row.Connection)
	if err != nil {
		return nil, err
	}
	m := &IssueMaterial{Connection: c, Secrets: connvault.Secret(row.SecretsJson), Recorded: row.Recorded}
	switch {
	case row.CachedJson != "":
		m.Cached = &CachedCredentials{Credentials: json.RawMessage(row.CachedJson), IssuedAt: row.CachedIssuedAt.UTC(), ExpiresAt: row.CachedExpiresAt.UTC()}
	case c.SecretKeyID != nil && row.SecretsJson == "": // under a previous key
		if m.Secrets, err = s.secretsJSON(ctx, c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SaveIssued caches credentials issued from c and, when the provider
// rotated a secret while issuing, stores the new secrets first, in the
// same transaction: a new refresh token is never lost. Without a rotation
// the token is cached only while the connection is still at c's version:
// one issued from credentials replaced meanwhile is handed to its caller
// but not to the next.
func (s *Store) SaveIssued(ctx context.Context, c *connvault.Connection, cached CachedCredentials, rotated *connvault.SealedConfig) (*connvault.Connection, error) {
	out := c
	err := s.inTx(ctx, func(q *sqlcdb.Queries) error {
		if rotated != nil {
			var err error
			if out, err = s.replaceSecrets(ctx, q, c, *rotated); err != nil {
				return err
			}
		}
		_, err := q.SaveIssuedCredentials(ctx, sqlcdb.SaveIssuedCredentialsParams{
			InternalID: c.OrgID, ConnectionID: c.ID, Version: out.Version, CredentialsJson: string(cached.Credentials),
			EncryptionKey: s.currentPassphrase(), SecretKeyID: s.keys.CurrentID, IssuedAt: cached.IssuedAt, ExpiresAt: cached.ExpiresAt,
		})
		return mapError(err, "issued credentials")
	})
	return out, err
}

// ErrIssueBusy reports that another request (on any replica) held the
// issuing lock of a connection for longer than the caller would wait.
var ErrIssueBusy = connvault.Errorf(connvault.EUNAVAILABLE, "credentials for this connection are being issued by another request; retry")

// WithIssueLock runs fn while holding the connection's issuing lock, a
// Postgres session advisory lock, so that one request among all replicas
// exchanges tokens with the provider while the others wait for its result.
// Waiting holds no pooled connection: it polls with pg_try_advisory_lock,
// and before each attempt calls ready, which ends the wait with its
// answer (typically: the winner's result is in the cache now). Once the
// lock is held, ready and fn get a store that runs on the connection
// holding it: the holder needs no second pooled connection, so holders
// cannot starve the pool between them.
func (s *Store) WithIssueLock(ctx context.Context, c *connvault.Connection, wait time.Duration, ready func(context.Context, *Store) (bool, error), fn func(context.Context, *Store) error) error {
	key := c.OrgID + "/" + c.ID
	deadline := time.Now().Add(wait)
	for {
		if done, err := ready(ctx, s); err != nil || done {
			return err
		}
		held, release, err := s.tryAdvisoryLock(ctx, key)
		if err != nil {
			return err
		}
		if held != nil {
			defer release()
			if done, err := ready(ctx, held); err != nil || done {
				return err
			}
			return fn(ctx, held)
		}
		if time.Now().After(deadline) {
			return ErrIssueBusy
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tryAdvisoryLock takes the lock on a pooled connection and answers a
// store bound to that connection, or nil when another session holds it.
func (s *Store) tryAdvisoryLock(ctx context.Context, key string) (*Store, func(), error) {
	lockCtx, cancel := withDeadline(ctx, s.queryTimeout)
	defer cancel()
	conn, err := s.pool.Acquire(lockCtx)
	if err != nil {
		return nil, nil, mapError(err, "issuing lock")
	}
	q := sqlcdb.New(conn)
	got, err := q.TryIssueLock(lockCtx, key)
	if err != nil {
		conn.Release()
		return nil, nil, mapError(err, "issuing lock")
	}
	if !got {
		conn.Release()
		return nil, nil, nil
	}
	heldQ := sqlcdb.New(bounded{db: conn, timeout: s.queryTimeout})
	held := &Store{pool: s.pool, db: conn, keys: s.keys, queryTimeout: s.queryTimeout, q: heldQ, batched: heldQ, batchedWrites: heldQ}
	return held, func() {
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.queryTimeout)
		defer cancel()
		if _, err := q.ReleaseIssueLock(unlockCtx, key); err != nil {
			// The session may still hold it: close it, which releases it.
			_ = conn.Conn().Close(unlockCtx)
		}
		conn.Release()
	}, nil
}

// StoreRotated stores the secrets a provider replaced during a check of c
// (a new refresh token), whatever else changed meanwhile, as the old ones
// no longer work; unless c's credentials were replaced, or c archived,
// since c was read: then ErrSecretsChangedMeanwhile, and the replacement
// stands.
func (s *Store) StoreRotated(ctx context.Context, c *connvault.Connection, rotated connvault.SealedConfig) (*connvault.Connection, error) {
	return s.replaceSecrets(ctx, s.q, c, rotated)
}

func (s *Store) replaceSecrets(ctx context.Context, q *sqlcdb.Queries, c *connvault.Connection, rotated connvault.SealedConfig) (*connvault.Connection, error) {
	previous, err := c.SecretFieldList()
	if err != nil {
		return nil, fmt.Errorf("connection %s: secret_fields: %w", c.ID, err)
	}
	secretsJSON, keyID, fields, err := s.sealSecrets(rotated, previous, time.Now().UTC().Truncate(time.Microsecond), false)
	if err != nil {
		return nil, err
	}
	if secretsJSON == nil {
		return nil, errors.New("a rotation left no secrets")
	}
	row, err := q.ReplaceSecrets(ctx, sqlcdb.ReplaceSecretsParams{
		SecretKeyID: keyID, SecretFields: fields, InternalID: c.OrgID, ConnectionID: c.ID,
		SecretsJson: *secretsJSON, EncryptionKey: s.currentPassphrase(), ReadSecretFields: orEmptyArray(c.SecretFields),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrSecretsChangedMeanwhile
	}
	if err != nil {
		return nil, mapError(err, "connection")
	}
	return fromRow((*sqlcdb.Connection)(row))
}

// ErrSecretsChangedMeanwhile reports a rotated secret not stored: the
// connection's credentials were replaced, or it was archived, while the
// provider was asked. The replacement stands.
var ErrSecretsChangedMeanwhile = connvault.Errorf(connvault.ESTATE,
	"the connection's credentials were changed (or it was archived) while the provider was asked; retry")
