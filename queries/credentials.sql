-- name: CachedCredentials :one
-- An issued token still good for at least @margin_seconds (or half its
-- life, for tokens that live shorter than twice that), decrypted.
SELECT pgp_sym_decrypt(ciphertext, @encryption_key::text)::text AS credentials_json, issued_at, expires_at
FROM issued_credentials
WHERE internal_id = @internal_id AND connection_id = @connection_id AND secret_key_id = @secret_key_id
  AND expires_at - LEAST(make_interval(secs => @margin_seconds::double precision), (expires_at - issued_at) / 2) > now();

-- name: SaveIssuedCredentials :execrows
-- Caches a token issued from the connection's config at @version, while
-- the connection is still at it: new credentials that committed while the
-- provider was issuing (their statement drops the cached token, of which
-- there was none yet) leave no token issued from the old ones behind.
-- FOR SHARE waits for a change being written and then sees its version.
-- Left open: a change whose statement starts while this one holds the
-- lock does not see the token it caches (its snapshot is older), so a
-- token can outlive a change that lands within this statement's
-- milliseconds, until it expires.
INSERT INTO issued_credentials (internal_id, connection_id, ciphertext, secret_key_id, issued_at, expires_at)
SELECT c.internal_id, c.connection_id,
       pgp_sym_encrypt(@credentials_json::text, @encryption_key::text, 'cipher-algo=aes256, compress-algo=0, s2k-mode=1'),
       @secret_key_id, @issued_at, @expires_at
FROM connections c
WHERE c.internal_id = @internal_id AND c.connection_id = @connection_id AND c.version = @version
FOR SHARE
ON CONFLICT (internal_id, connection_id) DO UPDATE
    SET ciphertext = EXCLUDED.ciphertext, secret_key_id = EXCLUDED.secret_key_id,
        issued_at = EXCLUDED.issued_at, expires_at = EXCLUDED.expires_at;

-- name: ReplaceSecrets :one
-- A provider rotated a secret while issuing or checking (a new refresh
-- token): store it, whatever else changed meanwhile, while the secrets
-- stored are still those it was issued from (@read_secret_fields, their
-- fingerprints as read before asking the provider) and the connection is
-- not archived. New credentials saved meanwhile win: the token belongs to
-- the ones they replaced. No row: nothing was stored.
WITH updated AS (
    UPDATE connections SET
        secret_key_id = @secret_key_id,
        secret_fields = @secret_fields,
        updated_at = now(),
        version = version + 1
    WHERE connections.internal_id = @internal_id AND connections.connection_id = @connection_id
      AND connections.status <> 'ARCHIVED' AND connections.secret_fields = @read_secret_fields::jsonb
    RETURNING *
), sealed AS (
    INSERT INTO connection_secrets (internal_id, connection_id, ciphertext)
    SELECT u.internal_id, u.connection_id,
           pgp_sym_encrypt(@secrets_json::text, @encryption_key::text, 'cipher-algo=aes256, compress-algo=0, s2k-mode=1')
    FROM updated u
    ON CONFLICT (internal_id, connection_id) DO UPDATE SET ciphertext = EXCLUDED.ciphertext
)
SELECT * FROM updated;

-- name: TryIssueLock :one
-- The issuing lock of one connection (a session advisory lock: held by the
-- pooled connection that took it until ReleaseIssueLock).
SELECT pg_try_advisory_lock(hashtextextended(@lock_key::text, 0));

-- name: ReleaseIssueLock :one
SELECT pg_advisory_unlock(hashtextextended(@lock_key::text, 0));

-- name: IssueLookupByID :one
-- What an issue needs in one trip: the connection; its cached token while
-- good for @margin_seconds more (as CachedCredentials), decrypted; and,
-- without one, its secrets decrypted when they are under the current key
-- (@current_key_id; @encryption_key is that key's passphrase). '' stands
-- for none (neither is ever empty: both are JSON objects).
SELECT sqlc.embed(c),
       i.issued_at AS cached_issued_at, i.expires_at AS cached_expires_at,
       COALESCE(pgp_sym_decrypt(i.ciphertext, @encryption_key::text)::text, '')::text AS cached_json,
       COALESCE(pgp_sym_decrypt(s.ciphertext, @encryption_key::text)::text, '')::text AS secrets_json
FROM connections c
LEFT JOIN issued_credentials i
       ON i.internal_id = c.internal_id AND i.connection_id = c.connection_id AND i.secret_key_id = @current_key_id::text
      AND i.expires_at - LEAST(make_interval(secs => @margin_seconds::double precision), (i.expires_at - i.issued_at) / 2) > now()
LEFT JOIN connection_secrets s
       ON i.connection_id IS NULL AND c.secret_key_id = @current_key_id::text
      AND s.internal_id = c.internal_id AND s.connection_id = c.connection_id
WHERE c.internal_id = @internal_id AND c.connection_id = @connection_id;

-- name: IssueLookupRecording :one
-- IssueLookupByID that also records the issue the caller expects, in the
-- same statement (recorded is true then), for an ACTIVE connection: a
-- cache hit, when it hands out the cached token (details {cached: true,
-- expires_at} as the server writes them, expires_at in Go's RFC 3339: UTC,
-- no trailing zeros); or, given @static_version, the static issue of the
-- stored secrets when the connection is still at that version and they
-- are decrypted here (details {cached: false, expires_at: null}). A
-- static issue is a function of the stored config, which changes only
-- with the version. A writing WITH costs Postgres more even when it writes
-- nothing, so the server uses this only for what it expects (issueHints).
WITH cached AS (
    SELECT i.issued_at, i.expires_at, i.ciphertext
    FROM issued_credentials i
    WHERE i.internal_id = @internal_id AND i.connection_id = @connection_id AND i.secret_key_id = @current_key_id::text
      AND i.expires_at - LEAST(make_interval(secs => @margin_seconds::double precision), (i.expires_at - i.issued_at) / 2) > now()
), recorded AS (
    INSERT INTO events (internal_id, action, connection_id, actor_user_id, actor_key_id, request_id, details)
    SELECT c.internal_id, @action::text, c.connection_id,
           sqlc.narg(actor_user_id)::text, sqlc.narg(actor_key_id)::text, sqlc.narg(request_id)::text,
           CASE WHEN cached.expires_at IS NULL THEN '{"cached": false, "expires_at": null}'::jsonb
                ELSE jsonb_build_object('cached', true, 'expires_at',
                    regexp_replace(to_char(cached.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '\.?0+$', '') || 'Z')
           END
    FROM connections c LEFT JOIN cached ON true
    WHERE c.internal_id = @internal_id AND c.connection_id = @connection_id AND c.status = 'ACTIVE'
      AND (cached.expires_at IS NOT NULL
           OR (c.version = sqlc.narg(static_version)::bigint AND (c.secret_key_id IS NULL OR c.secret_key_id = @current_key_id::text)))
    RETURNING true
)
SELECT sqlc.embed(c),
       cached.issued_at AS cached_issued_at, cached.expires_at AS cached_expires_at,
       COALESCE(pgp_sym_decrypt(cached.ciphertext, @encryption_key::text)::text, '')::text AS cached_json,
       COALESCE(pgp_sym_decrypt(s.ciphertext, @encryption_key::text)::text, '')::text AS secrets_json,
       EXISTS (SELECT FROM recorded) AS recorded
FROM connections c
LEFT JOIN cached ON true
LEFT JOIN connection_secrets s
       ON cached.issued_at IS NULL AND c.secret_key_id = @current_key_id::text
      AND s.internal_id = c.internal_id AND s.connection_id = c.connection_id
WHERE c.internal_id = @internal_id AND c.connection_id = @connection_id;
