-- name: RegisteredKeyIDs :many
SELECT key_id FROM encryption_keys ORDER BY registered_at;

-- name: RegisterKeyID :exec
INSERT INTO encryption_keys (key_id) VALUES ($1)
ON CONFLICT (key_id) DO NOTHING;

-- name: ForgetUnusedKeyIDs :execrows
-- After a rotation: keys no row is encrypted under any more.
DELETE FROM encryption_keys k
WHERE k.key_id <> @current_key_id
  AND NOT EXISTS (SELECT 1 FROM connections c WHERE c.secret_key_id = k.key_id);

-- name: AppliedMigrations :many
SELECT version FROM schema_migrations;

-- name: ClaimIdempotencyKey :execrows
-- Takes the key for this request (1 row) unless another request holds it
-- (0 rows). A row from before 24 hours counts as free and is taken over, and
-- so does one whose create has been running for 5 minutes (its server died).
INSERT INTO idempotency_keys (internal_id, idempotency_key, request_hash)
VALUES (@internal_id, @idempotency_key, @request_hash)
ON CONFLICT (internal_id, idempotency_key) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, response = NULL, created_at = now()
    WHERE idempotency_keys.created_at < now() - interval '24 hours'
       OR (idempotency_keys.response IS NULL AND idempotency_keys.created_at < now() - interval '5 minutes');

-- name: GetIdempotencyKey :one
SELECT request_hash, response FROM idempotency_keys
WHERE internal_id = @internal_id AND idempotency_key = @idempotency_key;

-- name: CompleteIdempotencyKey :exec
UPDATE idempotency_keys SET response = @response
WHERE internal_id = @internal_id AND idempotency_key = @idempotency_key;

-- name: ReleaseIdempotencyKey :exec
-- The create failed: the key is free again for a retry.
DELETE FROM idempotency_keys
WHERE internal_id = @internal_id AND idempotency_key = @idempotency_key AND response IS NULL;

-- name: ExpireIdempotencyKeys :execrows
DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours';
