-- name: CachedCredentials :one
-- An issued token still good for at least @margin_seconds (or half its
-- life, for tokens that live shorter than twice that), decrypted.
SELECT pgp_sym_decrypt(ciphertext, @encryption_key::text)::text AS credentials_json, issued_at, expires_at
FROM issued_credentials
WHERE internal_id = @internal_id AND connection_id = @connection_id AND secret_key_id = @secret_key_id
  AND expires_at - LEAST(make_interval(secs => @margin_seconds::double precision), (expires_at - issued_at) / 2) > now();

-- name: SaveIssuedCredentials :exec
INSERT INTO issued_credentials (internal_id, connection_id, ciphertext, secret_key_id, issued_at, expires_at)
VALUES (@internal_id, @connection_id,
        pgp_sym_encrypt(@credentials_json::text, @encryption_key::text, 'cipher-algo=aes256, compress-algo=0, s2k-mode=1'),
        @secret_key_id, @issued_at, @expires_at)
ON CONFLICT (internal_id, connection_id) DO UPDATE
    SET ciphertext = EXCLUDED.ciphertext, secret_key_id = EXCLUDED.secret_key_id,
        issued_at = EXCLUDED.issued_at, expires_at = EXCLUDED.expires_at;

-- name: ForgetIssuedCredentials :exec
DELETE FROM issued_credentials WHERE internal_id = @internal_id AND connection_id = @connection_id;

-- name: ReplaceSecrets :one
-- A provider rotated a secret while issuing (a new refresh token): store it
-- whatever else changed meanwhile, the old one no longer works.
WITH updated AS (
    UPDATE connections SET
        secret_key_id = @secret_key_id,
        secret_fields = @secret_fields,
        updated_at = now(),
        version = version + 1
    WHERE connections.internal_id = @internal_id AND connections.connection_id = @connection_id
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
