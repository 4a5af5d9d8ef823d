-- Users, roles, grants and audit events. Times are INTEGER microseconds since the Unix epoch
-- (UTC); ids are 16-byte UUID blobs. Every table is scoped by tenant.

CREATE TABLE users (
    seq                   INTEGER PRIMARY KEY,
    id                    BLOB NOT NULL UNIQUE,
    tenant_id             TEXT NOT NULL,
    name                  TEXT NOT NULL,
    name_key              TEXT NOT NULL,
    email                 TEXT,
    phone                 TEXT,
    username              TEXT,
    unique_id             TEXT,
    status                TEXT NOT NULL,
    is_admin              INTEGER NOT NULL,
    is_instructor         INTEGER NOT NULL,
    is_learner            INTEGER NOT NULL,
    email_verified        INTEGER NOT NULL,
    phone_verified        INTEGER NOT NULL,
    auth_method           TEXT NOT NULL,
    password_hash         TEXT,
    avatar_url            TEXT,
    bio                   TEXT,
    country               TEXT,
    city                  TEXT COLLATE NOCASE,
    state                 TEXT COLLATE NOCASE,
    continent             TEXT,
    timezone              TEXT,
    locale                TEXT COLLATE NOCASE,
    gender                TEXT,
    designation           TEXT COLLATE NOCASE,
    date_of_birth         TEXT,
    profile_completeness  INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    last_login_at         INTEGER,
    deleted_at            INTEGER,
    failed_login_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until          INTEGER,
    version               INTEGER NOT NULL,
    search_text           TEXT NOT NULL
);

-- Case-insensitive uniqueness per tenant (values are stored normalised; lower() guards it).
CREATE UNIQUE INDEX users_email_key     ON users (tenant_id, lower(email))     WHERE email IS NOT NULL;
CREATE UNIQUE INDEX users_phone_key     ON users (tenant_id, phone)            WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX users_username_key  ON users (tenant_id, lower(username))  WHERE username IS NOT NULL;
CREATE UNIQUE INDEX users_unique_id_key ON users (tenant_id, lower(unique_id)) WHERE unique_id IS NOT NULL;

-- Sorts (each ends with id for stable keyset pages) and the common filters.
CREATE INDEX users_by_created    ON users (tenant_id, created_at, id);
CREATE INDEX users_by_name       ON users (tenant_id, name_key, id);
CREATE INDEX users_by_email      ON users (tenant_id, email, id);
CREATE INDEX users_by_last_login ON users (tenant_id, last_login_at, id);
CREATE INDEX users_by_status     ON users (tenant_id, status, created_at, id);
CREATE INDEX users_by_country    ON users (tenant_id, country, created_at);
CREATE INDEX users_by_city       ON users (tenant_id, city);
CREATE INDEX users_by_timezone   ON users (tenant_id, timezone);
CREATE INDEX users_by_designation ON users (tenant_id, designation);
CREATE INDEX users_by_dob        ON users (tenant_id, date_of_birth);
CREATE INDEX users_locked        ON users (tenant_id, locked_until) WHERE locked_until IS NOT NULL;

-- Substring search: trigram index over the one lower-cased search column.
CREATE VIRTUAL TABLE users_search USING fts5(
    search_text, content = 'users', content_rowid = 'seq',
    tokenize = 'trigram case_sensitive 1', detail = 'none'
);
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, search_text) VALUES (new.seq, new.search_text);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF search_text ON users BEGIN
    INSERT INTO users_search (users_search, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
    INSERT INTO users_search (rowid, search_text) VALUES (new.seq, new.search_text);
END;

CREATE TABLE user_expertise (
    user_seq INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    value    TEXT NOT NULL COLLATE NOCASE,
    position INTEGER NOT NULL,
    PRIMARY KEY (user_seq, value)
) WITHOUT ROWID;
CREATE INDEX user_expertise_by_value ON user_expertise (value, user_seq);

CREATE TABLE user_oauth (
    tenant_id        TEXT NOT NULL,
    user_seq         INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    provider         TEXT NOT NULL,
    provider_user_id TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (user_seq, provider)
) WITHOUT ROWID;
CREATE UNIQUE INDEX user_oauth_provider_key ON user_oauth (tenant_id, provider, provider_user_id);
CREATE INDEX user_oauth_by_provider ON user_oauth (provider, user_seq);

CREATE TABLE roles (
    id          BLOB PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX roles_name_key ON roles (tenant_id, lower(name));

CREATE TABLE role_permissions (
    role_id    BLOB NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role_id, permission)
) WITHOUT ROWID;

CREATE TABLE user_roles (
    user_seq INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    role_id  BLOB NOT NULL REFERENCES roles (id),
    PRIMARY KEY (user_seq, role_id)
) WITHOUT ROWID;
CREATE INDEX user_roles_by_role ON user_roles (role_id, user_seq);

CREATE TABLE user_permissions (
    user_seq   INTEGER NOT NULL REFERENCES users (seq) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (user_seq, permission)
) WITHOUT ROWID;

CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY,
    id              BLOB NOT NULL UNIQUE,
    tenant_id       TEXT NOT NULL,
    target_kind     TEXT NOT NULL,
    target_id       BLOB NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_id        BLOB,
    impersonator_id BLOB,
    action          TEXT NOT NULL,
    changes         TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX audit_events_by_target ON audit_events (tenant_id, target_id, seq);
