WITH cached AS (
    SELECT i.issued_at, i.expires_at, i.ciphertext
    FROM issued_credentials i
    WHERE i.internal_id = :org AND i.connection_id = :cid AND i.secret_key_id = :kid::text
      AND i.expires_at - LEAST(make_interval(secs => 300::double precision), (i.expires_at - i.issued_at) / 2) > now()
)
SELECT c.internal_id, c.connection_id, c.name, c.description, c.provider_type, c.provider_config, c.secret_key_id, c.secret_fields, c.status, c.is_active, c.status_reason, c.status_changed_at, c.last_used_at, c.last_checked_at, c.last_error, c.consecutive_failures, c.next_check_at, c.metadata, c.created_by_user_id, c.created_at, c.updated_at, c.version,
       cached.issued_at AS cached_issued_at, cached.expires_at AS cached_expires_at,
       COALESCE(pgp_sym_decrypt(cached.ciphertext, :key::text)::text, '')::text AS cached_json,
       COALESCE(s.ciphertext::text,'') AS secrets_json,
       false AS recorded
FROM connections c
LEFT JOIN cached ON true
LEFT JOIN connection_secrets s
       ON cached.issued_at IS NULL AND c.secret_key_id = :kid::text
      AND s.internal_id = c.internal_id AND s.connection_id = c.connection_id
WHERE c.internal_id = :org AND c.connection_id = :cid;
