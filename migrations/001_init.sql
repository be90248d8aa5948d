-- connvault schema, version 1.
--
-- Ready to outgrow one database: every tenant table carries internal_id (the
-- organization) first in its primary key and in every unique index, and every
-- query filters by it, so the tables can later be distributed by organization
-- (Citus: create_distributed_table('connections', 'internal_id')) without
-- change. api_keys is the one global lookup table (a Citus reference table):
-- a key has to be found before its organization is known.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE organizations (
    internal_id text PRIMARY KEY CHECK (internal_id ~ '^int_[A-Za-z0-9]{24}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    internal_id text NOT NULL REFERENCES organizations (internal_id),
    user_id     text NOT NULL CHECK (user_id ~ '^usr_[A-Za-z0-9]{15}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (internal_id, user_id)
);

-- Keys are stored as SHA-256 hashes only; the raw key is printed once.
CREATE TABLE api_keys (
    key_hash    bytea PRIMARY KEY CHECK (length(key_hash) = 32),
    key_prefix  text NOT NULL,
    internal_id text NOT NULL,
    user_id     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    FOREIGN KEY (internal_id, user_id) REFERENCES users (internal_id, user_id)
);

CREATE TABLE connections (
    internal_id          text NOT NULL REFERENCES organizations (internal_id),
    connection_id        text NOT NULL CHECK (connection_id ~ '^conn_[A-Za-z0-9]{15}$'),
    name                 text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description          text CHECK (char_length(description) <= 500),
    provider_type        text NOT NULL,
    -- The non-secret part of the configuration. Secret fields never go here.
    provider_config      jsonb NOT NULL CHECK (jsonb_typeof(provider_config) = 'object'),
    -- The secret fields, in the configuration's nested shape, encrypted with
    -- pgp_sym_encrypt under the server key named by secret_key_id. The key
    -- itself is never stored: it arrives as a query parameter.
    secrets              bytea,
    secret_key_id        text,
    -- Which secret fields are stored, each with an HMAC fingerprint and the
    -- time it last changed: shown to clients instead of the values.
    secret_fields        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(secret_fields) = 'array'),
    status               text NOT NULL DEFAULT 'ACTIVE'
                         CHECK (status IN ('ACTIVE', 'SUSPENDED', 'FAILED', 'ARCHIVED')),
    -- Derived, so it can never disagree with status.
    is_active            boolean GENERATED ALWAYS AS (status = 'ACTIVE') STORED,
    status_reason        text,
    status_changed_at    timestamptz,
    last_used_at         timestamptz,
    last_checked_at      timestamptz,
    last_error           text CHECK (char_length(last_error) <= 1000),
    consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    -- Health checker scheduling and leases (see ClaimDueConnections in
    -- queries/connections.sql; the leases moved to connection_leases in 004).
    next_check_at        timestamptz,
    lease_owner          text,
    lease_expires_at     timestamptz,
    metadata             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_by_user_id   text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    -- Bumped by every write; a read-modify-write (PATCH) succeeds only if no
    -- other write came in between.
    version              bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (internal_id, connection_id),
    -- Archiving drops the secrets.
    CHECK (status <> 'ARCHIVED' OR secrets IS NULL),
    CHECK ((secrets IS NULL) = (secret_key_id IS NULL))
);

-- Names are unique among live connections; archiving frees a name. Being an
-- index, it also settles two concurrent creates of one name: one wins, the
-- other gets a unique violation (409).
CREATE UNIQUE INDEX connections_live_name ON connections (internal_id, name)
    WHERE status <> 'ARCHIVED';

-- Listing order (newest first, ties by id) for keyset pagination.
CREATE INDEX connections_list_order ON connections (internal_id, created_at DESC, connection_id DESC);

-- The health checker's question: which active connections are due?
CREATE INDEX connections_due ON connections (next_check_at) WHERE status = 'ACTIVE';
