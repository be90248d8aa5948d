-- Every statement filters by internal_id: tenancy is enforced in SQL, not
-- only in Go. Reads never select or decrypt the secrets column.

-- name: InsertConnection :one
INSERT INTO connections (
    internal_id, connection_id, name, description, provider_type, provider_config,
    secrets, secret_key_id, secret_fields, metadata, created_by_user_id,
    status_changed_at, next_check_at
) VALUES (
    @internal_id, @connection_id, @name, @description, @provider_type, @provider_config,
    -- compress-algo=0: compressing before encrypting leaks length information.
    -- s2k-mode=1: the key is 256 random bits, so iterated key stretching would
    -- only cost time.
    CASE WHEN sqlc.narg(secrets_json)::text IS NULL THEN NULL
         ELSE pgp_sym_encrypt(sqlc.narg(secrets_json)::text, @encryption_key::text,
                              'cipher-algo=aes256, compress-algo=0, s2k-mode=1') END,
    sqlc.narg(secret_key_id), @secret_fields, @metadata, @created_by_user_id,
    now(), @next_check_at
)
RETURNING internal_id, connection_id, name, description, provider_type, provider_config,
    secret_key_id, secret_fields, status, is_active, status_reason, status_changed_at,
    last_used_at, last_checked_at, last_error, consecutive_failures, metadata,
    created_by_user_id, created_at, updated_at, version, next_check_at;

-- name: GetConnectionByID :one
SELECT internal_id, connection_id, name, description, provider_type, provider_config,
    secret_key_id, secret_fields, status, is_active, status_reason, status_changed_at,
    last_used_at, last_checked_at, last_error, consecutive_failures, metadata,
    created_by_user_id, created_at, updated_at, version, next_check_at
FROM connections
WHERE internal_id = @internal_id AND connection_id = @connection_id;

-- name: GetConnectionByName :one
SELECT internal_id, connection_id, name, description, provider_type, provider_config,
    secret_key_id, secret_fields, status, is_active, status_reason, status_changed_at,
    last_used_at, last_checked_at, last_error, consecutive_failures, metadata,
    created_by_user_id, created_at, updated_at, version, next_check_at
FROM connections
WHERE internal_id = @internal_id AND name = @name AND status <> 'ARCHIVED';

-- name: DecryptSecrets :one
-- The one statement that decrypts; used only to run a check or merge a PATCH.
SELECT pgp_sym_decrypt(secrets, @encryption_key::text)::text AS secrets_json
FROM connections
WHERE internal_id = @internal_id AND connection_id = @connection_id
  AND secrets IS NOT NULL AND secret_key_id = @secret_key_id;

-- name: UpdateConnection :one
-- Optimistic concurrency: succeeds only if nobody wrote since version was read.
UPDATE connections SET
    name = @name,
    description = @description,
    metadata = @metadata,
    provider_config = @provider_config,
    secrets = CASE WHEN NOT @replace_secrets::boolean THEN secrets
                   WHEN sqlc.narg(secrets_json)::text IS NULL THEN NULL
                   ELSE pgp_sym_encrypt(sqlc.narg(secrets_json)::text, @encryption_key::text,
                                        'cipher-algo=aes256, compress-algo=0, s2k-mode=1') END,
    secret_key_id = CASE WHEN @replace_secrets::boolean THEN sqlc.narg(secret_key_id) ELSE secret_key_id END,
    secret_fields = @secret_fields,
    status = @status,
    status_reason = sqlc.narg(status_reason),
    status_changed_at = sqlc.narg(status_changed_at),
    consecutive_failures = @consecutive_failures,
    last_error = sqlc.narg(last_error),
    last_checked_at = sqlc.narg(last_checked_at),
    last_used_at = sqlc.narg(last_used_at),
    next_check_at = sqlc.narg(next_check_at),
    updated_at = now(),
    version = version + 1
WHERE internal_id = @internal_id AND connection_id = @connection_id AND version = @version
RETURNING internal_id, connection_id, name, description, provider_type, provider_config,
    secret_key_id, secret_fields, status, is_active, status_reason, status_changed_at,
    last_used_at, last_checked_at, last_error, consecutive_failures, metadata,
    created_by_user_id, created_at, updated_at, version, next_check_at;

-- name: ArchiveConnection :one
UPDATE connections SET
    status = 'ARCHIVED',
    status_reason = 'archived by user',
    status_changed_at = now(),
    secrets = NULL,
    secret_key_id = NULL,
    secret_fields = '[]',
    next_check_at = NULL,
    lease_owner = NULL,
    lease_expires_at = NULL,
    updated_at = now(),
    version = version + 1
WHERE internal_id = @internal_id AND connection_id = @connection_id AND status <> 'ARCHIVED'
RETURNING internal_id, connection_id, name, description, provider_type, provider_config,
    secret_key_id, secret_fields, status, is_active, status_reason, status_changed_at,
    last_used_at, last_checked_at, last_error, consecutive_failures, metadata,
    created_by_user_id, created_at, updated_at, version, next_check_at;

-- name: ListConnections :many
-- Newest first, ties by id. With a cursor, keyset pagination on
-- (created_at, connection_id), served by connections_list_order at any depth;
-- without one, OFFSET paging.
SELECT internal_id, connection_id, name, description, provider_type, provider_config,
    secret_key_id, secret_fields, status, is_active, status_reason, status_changed_at,
    last_used_at, last_checked_at, last_error, consecutive_failures, metadata,
    created_by_user_id, created_at, updated_at, version, next_check_at
FROM connections
WHERE internal_id = @internal_id
  AND (sqlc.narg(status)::text IS NULL AND status <> 'ARCHIVED' OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(provider_type)::text IS NULL OR provider_type = sqlc.narg(provider_type)::text)
  AND (sqlc.narg(is_active)::boolean IS NULL OR is_active = sqlc.narg(is_active)::boolean)
  AND (sqlc.narg(search)::text IS NULL OR name ILIKE '%' || sqlc.narg(search)::text || '%' ESCAPE '\')
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR (created_at, connection_id) < (sqlc.narg(after_created_at)::timestamptz, sqlc.narg(after_connection_id)::text))
ORDER BY created_at DESC, connection_id DESC
LIMIT @row_limit OFFSET @row_offset;

-- name: CountConnections :one
SELECT count(*) FROM connections
WHERE internal_id = @internal_id
  AND (sqlc.narg(status)::text IS NULL AND status <> 'ARCHIVED' OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(provider_type)::text IS NULL OR provider_type = sqlc.narg(provider_type)::text)
  AND (sqlc.narg(is_active)::boolean IS NULL OR is_active = sqlc.narg(is_active)::boolean)
  AND (sqlc.narg(search)::text IS NULL OR name ILIKE '%' || sqlc.narg(search)::text || '%' ESCAPE '\');

-- name: LockConnection :one
-- Serialises check outcomes on one connection so no increment is lost.
SELECT internal_id, connection_id, name, description, provider_type, provider_config,
    secret_key_id, secret_fields, status, is_active, status_reason, status_changed_at,
    last_used_at, last_checked_at, last_error, consecutive_failures, metadata,
    created_by_user_id, created_at, updated_at, version, next_check_at
FROM connections
WHERE internal_id = @internal_id AND connection_id = @connection_id
FOR UPDATE;

-- name: SaveConnectionHealth :one
UPDATE connections SET
    status = @status,
    status_reason = sqlc.narg(status_reason),
    status_changed_at = sqlc.narg(status_changed_at),
    consecutive_failures = @consecutive_failures,
    last_error = sqlc.narg(last_error),
    last_checked_at = sqlc.narg(last_checked_at),
    last_used_at = sqlc.narg(last_used_at),
    next_check_at = sqlc.narg(next_check_at),
    lease_owner = NULL,
    lease_expires_at = NULL,
    updated_at = now(),
    version = version + 1
WHERE internal_id = @internal_id AND connection_id = @connection_id
RETURNING internal_id, connection_id, name, description, provider_type, provider_config,
    secret_key_id, secret_fields, status, is_active, status_reason, status_changed_at,
    last_used_at, last_checked_at, last_error, consecutive_failures, metadata,
    created_by_user_id, created_at, updated_at, version, next_check_at;

-- name: ClaimDueConnections :many
-- The health checker's lease: take up to @batch due ACTIVE connections that
-- nobody holds (or whose holder's lease ran out, e.g. a replica that died
-- mid-check). SKIP LOCKED lets replicas claim side by side without waiting
-- on each other or taking the same row.
UPDATE connections c SET
    lease_owner = @lease_owner,
    lease_expires_at = now() + make_interval(secs => @lease_seconds::double precision)
FROM (
    SELECT d.internal_id, d.connection_id FROM connections d
    WHERE d.status = 'ACTIVE'
      AND d.next_check_at <= now()
      AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
    ORDER BY d.next_check_at
    LIMIT @batch
    FOR UPDATE SKIP LOCKED
) due
WHERE c.internal_id = due.internal_id AND c.connection_id = due.connection_id
RETURNING c.internal_id, c.connection_id, c.name, c.description, c.provider_type, c.provider_config,
    c.secret_key_id, c.secret_fields, c.status, c.is_active, c.status_reason, c.status_changed_at,
    c.last_used_at, c.last_checked_at, c.last_error, c.consecutive_failures, c.metadata,
    c.created_by_user_id, c.created_at, c.updated_at, c.version, c.next_check_at;

-- name: LeaseOwner :one
-- Who holds the health-check lease (NULL once a manual test or an archive
-- released it).
SELECT lease_owner FROM connections
WHERE internal_id = @internal_id AND connection_id = @connection_id;

-- name: ListConnectionsUnderOtherKeys :many
-- Key rotation: rows of one organization still encrypted under another key.
SELECT internal_id, connection_id, name, description, provider_type, provider_config,
    secret_key_id, secret_fields, status, is_active, status_reason, status_changed_at,
    last_used_at, last_checked_at, last_error, consecutive_failures, metadata,
    created_by_user_id, created_at, updated_at, version, next_check_at
FROM connections
WHERE internal_id = @internal_id AND secret_key_id IS NOT NULL AND secret_key_id <> @current_key_id
LIMIT @row_limit;
