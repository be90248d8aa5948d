-- name: InsertEvent :exec
INSERT INTO events (internal_id, action, connection_id, actor_user_id, actor_key_id, request_id, details)
VALUES (@internal_id, @action, sqlc.narg(connection_id), sqlc.narg(actor_user_id), sqlc.narg(actor_key_id),
        sqlc.narg(request_id), @details);

-- name: ListEvents :many
-- Newest first; a cursor is the last event_seq seen.
SELECT * FROM events
WHERE internal_id = @internal_id
  AND (sqlc.narg(connection_id)::text IS NULL OR connection_id = sqlc.narg(connection_id)::text)
  AND (sqlc.narg(action)::text IS NULL OR action = sqlc.narg(action)::text)
  AND (sqlc.narg(since)::timestamptz IS NULL OR occurred_at >= sqlc.narg(since)::timestamptz)
  AND (sqlc.narg(before_seq)::bigint IS NULL OR event_seq < sqlc.narg(before_seq)::bigint)
ORDER BY event_seq DESC
LIMIT @row_limit;

-- name: ExpireEvents :execrows
DELETE FROM events WHERE occurred_at < now() - make_interval(days => @retention_days::int);
