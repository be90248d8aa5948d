INSERT INTO events (internal_id, action, connection_id, actor_user_id, actor_key_id, request_id, details)
VALUES (:org, 'credentials.issued', :cid, NULL, 'key_abc', 'req0123456789abcdef', '{"cached": false, "expires_at": null}'::jsonb);
