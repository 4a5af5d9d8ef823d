-- One-time account tokens (invitation, password reset, verification), by the SHA-256 of
-- their secret. A newer token of the same kind for the same user supersedes older ones.
CREATE TABLE account_tokens (
    id            BLOB PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    user_seq      INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    token_hash    BLOB NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER,
    superseded_at INTEGER
);
CREATE INDEX account_tokens_by_user ON account_tokens (user_seq, kind);
CREATE INDEX account_tokens_by_expiry ON account_tokens (expires_at);
