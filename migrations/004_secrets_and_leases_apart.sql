-- Secrets and health-check leases move out of connections into tables of
-- their own, one row per connection at most. Every read of connections then
-- has one shape (the sqlc model), and no read of it can select a secret:
-- the ciphertext lives where only the decrypting statement looks.

CREATE TABLE connection_secrets (
    internal_id   text NOT NULL,
    connection_id text NOT NULL,
    -- pgp_sym_encrypt of the secret fields (as JSON, in the config's nested
    -- shape) under the key named by connections.secret_key_id. The key
    -- itself is never stored: it arrives as a statement parameter.
    ciphertext    bytea NOT NULL,
    PRIMARY KEY (internal_id, connection_id),
    FOREIGN KEY (internal_id, connection_id) REFERENCES connections (internal_id, connection_id) ON DELETE CASCADE
);
INSERT INTO connection_secrets (internal_id, connection_id, ciphertext)
SELECT internal_id, connection_id, secrets FROM connections WHERE secrets IS NOT NULL;

-- Which health checker holds a connection, until when (see ClaimDueConnections).
CREATE TABLE connection_leases (
    internal_id   text NOT NULL,
    connection_id text NOT NULL,
    owner         text NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (internal_id, connection_id),
    FOREIGN KEY (internal_id, connection_id) REFERENCES connections (internal_id, connection_id) ON DELETE CASCADE
);
INSERT INTO connection_leases (internal_id, connection_id, owner, expires_at)
SELECT internal_id, connection_id, lease_owner, lease_expires_at FROM connections
WHERE lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL;

-- The checks that tied secrets to secret_key_id and to archiving go with the
-- column; the store keeps both (a key id exactly when a ciphertext row
-- exists; archiving deletes it).
ALTER TABLE connections DROP COLUMN secrets, DROP COLUMN lease_owner, DROP COLUMN lease_expires_at;
