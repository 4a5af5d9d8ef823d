-- Provisioning (SCIM) tokens, by the SHA-256 of their secret.
CREATE TABLE provisioning_tokens (
    tenant_id  text NOT NULL,
    id         uuid NOT NULL,
    name       text NOT NULL,
    created_by uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX provisioning_tokens_by_tenant ON provisioning_tokens (tenant_id, created_at);
