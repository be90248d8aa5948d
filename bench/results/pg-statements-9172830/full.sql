WITH cached AS (
    SELECT i.issued_at, i.expires_at, i.ciphertext
    FROM issued_credentials i
    WHERE i.internal_id = :org::text AND i.connection_id = :cid::text AND i.secret_key_id = :kid::text
      AND i.expires_at - LEAST(make_interval(secs => 300::double precision), (i.expires_at - i.issued_at) / 2) > now()
), recorded AS (
    INSERT INTO events (internal_id, action, connection_id, actor_user_id, actor_key_id, request_id, details)
    SELECT c.internal_id, 'credentials.issued'::text, c.connection_id,
           NULL::text, 'key_abc'::text, 'req0123456789abcdef'::text,
           CASE WHEN cached.expires_at IS NULL THEN '{"cached": false, "expires_at": null}'::jsonb
                ELSE jsonb_build_object('cached', true, 'expires_at',
                    regexp_replace(to_char(cached.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24MISS.US'), '\.?0+$', '') || 'Z')
           END
    FROM connections c LEFT JOIN cached ON true
    WHERE c.internal_id = :org::text AND c.connection_id = :cid::text AND c.status = 'ACTIVE'
      AND (cached.expires_at IS NOT NULL
           OR (c.version = :ver::bigint AND (c.secret_key_id IS NULL OR c.secret_key_id = :kid::text)))
    RETURNING true
)
SELECT c.internal_id, c.connection_id, c.name, c.description, c.provider_type, c.provider_config, c.secret_key_id, c.secret_fields, c.status, c.is_active, c.status_reason, c.status_changed_at, c.last_used_at, c.last_checked_at, c.last_error, c.consecutive_failures, c.next_check_at, c.metadata, c.created_by_user_id, c.created_at, c.updated_at, c.version,
       cached.issued_at AS cached_issued_at, cached.expires_at AS cached_expires_at,
       COALESCE(pgp_sym_decrypt(cached.ciphertext, :key::text)::text, '')::text AS cached_json,
       COALESCE(pgp_sym_decrypt(s.ciphertext, :key::text)::text, '')::text AS secrets_json,
       EXISTS (SELECT FROM recorded) AS recorded
FROM connections c
LEFT JOIN cached ON true
LEFT JOIN connection_secrets s
       ON cached.issued_at IS NULL AND c.secret_key_id = :kid::text
      AND s.internal_id = c.internal_id AND s.connection_id = c.connection_id
WHERE c.internal_id = :org::text AND c.connection_id = :cid::text;
