-- name: EnsureOrganization :exec
INSERT INTO organizations (internal_id) VALUES ($1)
ON CONFLICT (internal_id) DO NOTHING;

-- name: EnsureUser :exec
INSERT INTO users (internal_id, user_id) VALUES ($1, $2)
ON CONFLICT (internal_id, user_id) DO NOTHING;

-- name: InsertAPIKey :exec
INSERT INTO api_keys (key_hash, key_prefix, internal_id, user_id)
VALUES ($1, $2, $3, $4);

-- name: LookupAPIKey :one
SELECT internal_id, user_id FROM api_keys
WHERE key_hash = $1 AND revoked_at IS NULL;

-- name: RevokeAPIKey :execrows
UPDATE api_keys SET revoked_at = now()
WHERE key_hash = $1 AND revoked_at IS NULL;

-- name: ListOrganizations :many
SELECT internal_id FROM organizations ORDER BY internal_id;
