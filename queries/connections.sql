-- Every statement filters by internal_id: tenancy is enforced in SQL, not
-- only in Go. Reads of connections return the one model type (SELECT *):
-- the table holds no secret, so no read can select one; the ciphertext is
-- in connection_secrets, read only by DecryptSecrets.

-- name: InsertConnection :one
-- The row, its encrypted secrets and, when event_action is given, its audit
-- event in one statement (one round trip, one implicit transaction: the
-- event is recorded exactly when the connection is).
-- compress-algo=0: compressing before encrypting leaks length information.
-- s2k-mode=1: the key is 256 random bits, so iterated key stretching would
-- only cost time.
WITH inserted AS (
    INSERT INTO connections (
        internal_id, connection_id, name, description, provider_type, provider_config,
        secret_key_id, secret_fields, metadata, created_by_user_id,
        status, status_reason, status_changed_at, last_checked_at, last_used_at, next_check_at
    ) VALUES (
        @internal_id, @connection_id, @name, @description, @provider_type, @provider_config,
        sqlc.narg(secret_key_id), @secret_fields, @metadata, @created_by_user_id,
        @status, sqlc.narg(status_reason), sqlc.narg(status_changed_at), sqlc.narg(last_checked_at),
        sqlc.narg(last_used_at), sqlc.narg(next_check_at)
    )
    RETURNING *
), sealed AS (
    INSERT INTO connection_secrets (internal_id, connection_id, ciphertext)
    SELECT i.internal_id, i.connection_id,
           pgp_sym_encrypt(sqlc.narg(secrets_json)::text, @encryption_key::text, 'cipher-algo=aes256, compress-algo=0, s2k-mode=1')
    FROM inserted i
    WHERE sqlc.narg(secrets_json)::text IS NOT NULL
), audited AS (
    INSERT INTO events (internal_id, action, connection_id, actor_user_id, actor_key_id, request_id, details)
    SELECT i.internal_id, sqlc.narg(event_action)::text, i.connection_id, sqlc.narg(event_actor_user_id),
           sqlc.narg(event_actor_key_id), sqlc.narg(event_request_id), sqlc.narg(event_details)::jsonb
    FROM inserted i
    WHERE sqlc.narg(event_action)::text IS NOT NULL
)
SELECT * FROM inserted;

-- name: DeleteSecrets :exec
DELETE FROM connection_secrets WHERE internal_id = @internal_id AND connection_id = @connection_id;

-- name: DecryptSecrets :one
-- The one statement that decrypts; used only to run a check or merge a PATCH.
SELECT pgp_sym_decrypt(s.ciphertext, @encryption_key::text)::text AS secrets_json
FROM connection_secrets s
JOIN connections c ON c.internal_id = s.internal_id AND c.connection_id = s.connection_id
WHERE s.internal_id = @internal_id AND s.connection_id = @connection_id AND c.secret_key_id = @secret_key_id;

-- name: GetConnectionByID :one
SELECT * FROM connections
WHERE internal_id = @internal_id AND connection_id = @connection_id;

-- name: GetConnectionByName :one
SELECT * FROM connections
WHERE internal_id = @internal_id AND name = @name AND status <> 'ARCHIVED';

-- name: UpdateConnection :one
-- Optimistic concurrency: succeeds only if nobody wrote since version was
-- read. With replace_secrets, the encrypted secrets are replaced (or, for
-- NULL, deleted) in the same statement; with forget_issued, the tokens
-- issued from the old credentials are dropped. The change's audit events
-- (event_actions and event_details, in order, by one actor) are recorded
-- in it too: exactly when the change is, as a create's event is.
WITH updated AS (
    UPDATE connections SET
        name = @name,
        description = @description,
        metadata = @metadata,
        provider_config = @provider_config,
        secret_key_id = sqlc.narg(secret_key_id),
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
    WHERE connections.internal_id = @internal_id AND connections.connection_id = @connection_id AND version = @version
    RETURNING *
), sealed AS (
    INSERT INTO connection_secrets (internal_id, connection_id, ciphertext)
    SELECT u.internal_id, u.connection_id,
           pgp_sym_encrypt(sqlc.narg(secrets_json)::text, @encryption_key::text, 'cipher-algo=aes256, compress-algo=0, s2k-mode=1')
    FROM updated u
    WHERE @replace_secrets::boolean AND sqlc.narg(secrets_json)::text IS NOT NULL
    ON CONFLICT (internal_id, connection_id) DO UPDATE SET ciphertext = EXCLUDED.ciphertext
), dropped AS (
    DELETE FROM connection_secrets s
    USING updated u
    WHERE @replace_secrets::boolean AND sqlc.narg(secrets_json)::text IS NULL
      AND s.internal_id = u.internal_id AND s.connection_id = u.connection_id
), forgot AS (
    DELETE FROM issued_credentials i
    USING updated u
    WHERE @forget_issued::boolean AND i.internal_id = u.internal_id AND i.connection_id = u.connection_id
), audited AS (
    INSERT INTO events (internal_id, action, connection_id, actor_user_id, actor_key_id, request_id, details)
    SELECT u.internal_id, (@event_actions::text[])[i], u.connection_id, sqlc.narg(event_actor_user_id)::text,
           sqlc.narg(event_actor_key_id)::text, sqlc.narg(event_request_id)::text, ((@event_details::text[])[i])::jsonb
    FROM updated u, generate_subscripts(@event_actions::text[], 1) AS i
    ORDER BY i
)
SELECT * FROM updated;

-- name: ListConnections :many
-- Newest first, ties by id. With a cursor, keyset pagination on
-- (created_at, connection_id), served by connections_list_order at any depth;
-- without one, OFFSET paging.
--
-- Every row carries the list's total from the counters the
-- connection_counts trigger keeps (migration 007; is_active is status =
-- ACTIVE), summed once per statement, so a full page needs no second trip
-- and its total is read in the page's own snapshot. The counters know
-- nothing of a name search: a search is counted by CountConnections.
SELECT sqlc.embed(connections),
       (SELECT coalesce(sum(k.n), 0) FROM connection_counts k
        WHERE k.internal_id = @internal_id
          AND (sqlc.narg(status)::text IS NULL AND k.status <> 'ARCHIVED' OR k.status = sqlc.narg(status)::text)
          AND (sqlc.narg(provider_type)::text IS NULL OR k.provider_type = sqlc.narg(provider_type)::text)
          AND (sqlc.narg(is_active)::boolean IS NULL OR (k.status = 'ACTIVE') = sqlc.narg(is_active)::boolean)
       )::bigint AS counted_total
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
-- Serialises health changes on one connection so no increment is lost.
SELECT * FROM connections
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
    updated_at = now(),
    version = version + 1
WHERE internal_id = @internal_id AND connection_id = @connection_id
RETURNING *;

-- name: LockConnectionStatus :one
-- The connection's status, its row locked until the transaction ends: a
-- change that moved it since the caller read it is waited for and seen.
SELECT status FROM connections
WHERE internal_id = @internal_id AND connection_id = @connection_id
FOR UPDATE;

-- name: ArchiveConnection :one
-- The health (ARCHIVED) comes from the lifecycle rule; the secrets go.
UPDATE connections SET
    status = @status,
    status_reason = sqlc.narg(status_reason),
    status_changed_at = sqlc.narg(status_changed_at),
    next_check_at = NULL,
    secret_key_id = NULL,
    secret_fields = '[]',
    updated_at = now(),
    version = version + 1
WHERE internal_id = @internal_id AND connection_id = @connection_id AND status <> 'ARCHIVED'
RETURNING *;

-- name: ClaimDueConnections :many
-- The health checker's lease: take up to @batch ACTIVE connections due by
-- @due_by (the start of the checker's pass, so a pass checks a connection
-- once even when its backoff ends before the pass does) that nobody holds (or whose holder's lease ran out, e.g. a replica that died
-- mid-check). SKIP LOCKED lets replicas claim side by side without waiting
-- on each other or taking the same row; the lease's own upsert settles a
-- race the snapshot cannot see (a lease taken meanwhile is live, so its row
-- is not taken over and not returned).
WITH due AS (
    SELECT d.internal_id, d.connection_id FROM connections d
    WHERE d.status = 'ACTIVE'
      AND d.next_check_at <= @due_by::timestamptz
      AND NOT EXISTS (SELECT 1 FROM connection_leases l
                      WHERE l.internal_id = d.internal_id AND l.connection_id = d.connection_id
                        AND l.expires_at >= now())
    ORDER BY d.next_check_at
    LIMIT @batch
    FOR UPDATE SKIP LOCKED
), leased AS (
    INSERT INTO connection_leases (internal_id, connection_id, owner, expires_at)
    SELECT due.internal_id, due.connection_id, @lease_owner::text,
           now() + make_interval(secs => @lease_seconds::double precision)
    FROM due
    ON CONFLICT (internal_id, connection_id) DO UPDATE
        SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
        WHERE connection_leases.expires_at < now()
    RETURNING internal_id, connection_id
)
SELECT sqlc.embed(c) FROM connections c
JOIN leased ON c.internal_id = leased.internal_id AND c.connection_id = leased.connection_id;

-- name: LeaseOwner :one
-- Who holds the health-check lease (no row once a manual test, an archive
-- or the holder's own outcome released it).
SELECT owner FROM connection_leases
WHERE internal_id = @internal_id AND connection_id = @connection_id;

-- name: ReleaseLease :exec
DELETE FROM connection_leases WHERE internal_id = @internal_id AND connection_id = @connection_id;

-- name: ListConnectionsUnderOtherKeys :many
-- Key rotation: rows of one organization still encrypted under another key.
SELECT * FROM connections
WHERE internal_id = @internal_id AND secret_key_id IS NOT NULL AND secret_key_id <> @current_key_id
LIMIT @row_limit;
