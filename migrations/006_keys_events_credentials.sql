-- Scoped API keys, the audit trail and the cache of issued credentials.

-- A key has an id to name it by (list, revoke), a name and scopes. Keys
-- made before scopes keep what they could do: read and write.
ALTER TABLE api_keys
    ADD COLUMN key_id       text,
    ADD COLUMN name         text NOT NULL DEFAULT '',
    ADD COLUMN scopes       text[] NOT NULL DEFAULT '{read,write}',
    ADD COLUMN last_used_at timestamptz;
UPDATE api_keys SET key_id = 'key_' || substr(md5(key_hash::text), 1, 15) WHERE key_id IS NULL;
ALTER TABLE api_keys
    ALTER COLUMN key_id SET NOT NULL,
    ADD CONSTRAINT api_keys_key_id_form CHECK (key_id ~ '^key_[A-Za-z0-9]{15}$'),
    ADD CONSTRAINT api_keys_scopes_known CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'use', 'admin']);
CREATE UNIQUE INDEX api_keys_by_id ON api_keys (key_id);
CREATE INDEX api_keys_by_org ON api_keys (internal_id, created_at DESC);

-- Who did what, when. details never holds a secret's value (field names,
-- outcomes, statuses only); rows older than the retention are deleted.
CREATE TABLE events (
    internal_id   text NOT NULL,
    event_seq     bigint GENERATED ALWAYS AS IDENTITY,
    action        text NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    connection_id text,
    actor_user_id text,
    actor_key_id  text,
    request_id    text,
    details       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    PRIMARY KEY (internal_id, event_seq)
);
CREATE INDEX events_by_connection ON events (internal_id, connection_id, event_seq DESC);
CREATE INDEX events_by_time ON events (occurred_at);

-- Short-lived credentials handed to sync workers, encrypted like secrets
-- (pgp_sym_encrypt under the key named by secret_key_id), shared by every
-- replica and reused until shortly before expires_at.
CREATE TABLE issued_credentials (
    internal_id   text NOT NULL,
    connection_id text NOT NULL,
    ciphertext    bytea NOT NULL,
    secret_key_id text NOT NULL,
    issued_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (internal_id, connection_id),
    FOREIGN KEY (internal_id, connection_id) REFERENCES connections (internal_id, connection_id) ON DELETE CASCADE
);
