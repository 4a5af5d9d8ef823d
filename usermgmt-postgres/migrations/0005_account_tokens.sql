-- One-time account tokens (invitation, password reset, verification), by the SHA-256 of
-- their secret. A newer token of the same kind for the same user supersedes older ones.
CREATE TABLE account_tokens (
    tenant_id     text NOT NULL,
    id            uuid NOT NULL,
    user_id       uuid NOT NULL,
    kind          text NOT NULL,
    token_hash    bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    superseded_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX account_tokens_by_user ON account_tokens (tenant_id, user_id, kind);
CREATE INDEX account_tokens_by_expiry ON account_tokens (expires_at);
