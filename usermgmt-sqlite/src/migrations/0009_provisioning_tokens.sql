-- Provisioning (SCIM) tokens, by the SHA-256 of their secret.
CREATE TABLE provisioning_tokens (
    id         BLOB PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_by BLOB NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX provisioning_tokens_by_tenant ON provisioning_tokens (tenant_id, created_at);
