-- Start-up key check and idempotent creates.

-- store.Migrate creates this before applying any file; stated here so sqlc
-- knows the table the readiness check reads.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());

-- Which server keys secrets have been encrypted under, by key id: an HMAC of
-- the key (store.NewKeyring), never the key. A server whose keyring holds
-- none of these ids has the wrong key and refuses to start, instead of
-- failing later on the first decrypt. Global, like api_keys.
CREATE TABLE encryption_keys (
    key_id        text PRIMARY KEY CHECK (key_id ~ '^k_[0-9a-f]{12}$'),
    registered_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO encryption_keys (key_id)
SELECT DISTINCT secret_key_id FROM connections WHERE secret_key_id IS NOT NULL;

-- Idempotency-Key of a create, per organization: the hash of the request
-- body it came with and, once the create succeeded, its answer (which never
-- holds a secret: stored configs carry the redaction marker). A row without
-- an answer is a create still running. Kept 24 hours.
CREATE TABLE idempotency_keys (
    internal_id     text NOT NULL REFERENCES organizations (internal_id),
    idempotency_key text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    request_hash    bytea NOT NULL CHECK (length(request_hash) = 32),
    -- The answer's bytes exactly as first sent (not jsonb, which would
    -- reformat them): a retry gets the same bytes.
    response        bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (internal_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
