-- name: EnsureOrganization :exec
INSERT INTO organizations (internal_id) VALUES ($1)
ON CONFLICT (internal_id) DO NOTHING;

-- name: EnsureUser :exec
INSERT INTO users (internal_id, user_id) VALUES ($1, $2)
ON CONFLICT (internal_id, user_id) DO NOTHING;

-- name: InsertAPIKey :one
INSERT INTO api_keys (key_hash, key_prefix, internal_id, user_id, key_id, name, scopes)
VALUES (@key_hash, @key_prefix, @internal_id, @user_id, @key_id, @name, @scopes)
RETURNING *;

-- name: UseAPIKey :one
-- Resolving a key marks it used (the server caches the answer for a few
-- seconds, so this write happens at most that often per key and process).
UPDATE api_keys SET last_used_at = now()
WHERE key_hash = $1 AND revoked_at IS NULL
RETURNING internal_id, user_id, key_id, scopes;

-- name: RevokeAPIKey :one
UPDATE api_keys SET revoked_at = now()
WHERE key_hash = $1 AND revoked_at IS NULL
RETURNING internal_id, key_id;

-- name: RevokeAPIKeyByID :one
-- Revoking a revoked key answers it unchanged; revoked_now says whether
-- this statement revoked it (now() is the transaction's start, which a
-- revocation committed before cannot carry).
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE internal_id = @internal_id AND key_id = @key_id
RETURNING sqlc.embed(api_keys), (revoked_at = now())::boolean AS revoked_now;

-- name: ListAPIKeys :many
SELECT * FROM api_keys WHERE internal_id = @internal_id ORDER BY created_at DESC, key_id DESC;

-- name: ListOrganizations :many
SELECT internal_id FROM organizations ORDER BY internal_id;

-- name: KeyOrganization :one
SELECT internal_id FROM api_keys WHERE key_id = @key_id;
