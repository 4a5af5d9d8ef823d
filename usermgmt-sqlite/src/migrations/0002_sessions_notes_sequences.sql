-- Sessions (tokens stored only as SHA-256), administrator notes, per-tenant sequences.

CREATE TABLE sessions (
    id                   BLOB PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    user_seq             INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    token_hash           BLOB NOT NULL UNIQUE,
    created_at           INTEGER NOT NULL,
    last_seen_at         INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    terminated_at        INTEGER,
    user_agent           TEXT,
    ip                   TEXT,
    geo_country          TEXT,
    geo_region           TEXT,
    geo_city             TEXT,
    impersonator_id      BLOB,
    impersonation_mode   TEXT,
    impersonation_reason TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_seq, created_at);

CREATE TABLE notes (
    id         BLOB PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    user_seq   INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    author_id  BLOB,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX notes_by_user ON notes (user_seq, created_at);

CREATE TABLE sequences (
    tenant_id TEXT NOT NULL,
    name      TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
) WITHOUT ROWID;
