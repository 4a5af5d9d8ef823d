-- usermgmt on PostgreSQL. Every table carries tenant_id and every primary key and unique index
-- starts with it, so tables can be distributed by tenant (Citus-style). Times are timestamptz
-- (microseconds); sort keys use the "C" collation so ordering is byte-wise like the reference
-- model.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- ASCII-only case folding, matching the reference model's `eq_ignore_ascii_case`.
CREATE FUNCTION usermgmt_ascii_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;

CREATE TABLE users (
    tenant_id             text NOT NULL,
    id                    uuid NOT NULL,
    name                  text NOT NULL,
    name_key              text COLLATE "C" NOT NULL,
    email                 text COLLATE "C",
    phone                 text,
    username              text,
    unique_id             text,
    status                text COLLATE "C" NOT NULL,
    is_admin              boolean NOT NULL,
    is_instructor         boolean NOT NULL,
    is_learner            boolean NOT NULL,
    email_verified        boolean NOT NULL,
    phone_verified        boolean NOT NULL,
    auth_method           text NOT NULL,
    password_hash         text,
    avatar_url            text,
    bio                   text,
    country               text,
    city                  text,
    state                 text,
    continent             text,
    timezone              text,
    locale                text,
    gender                text,
    designation           text,
    date_of_birth         date,
    profile_completeness  smallint NOT NULL,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    last_login_at         timestamptz,
    deleted_at            timestamptz,
    failed_login_attempts integer NOT NULL DEFAULT 0,
    locked_until          timestamptz,
    version               bigint NOT NULL,
    search_text           text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE UNIQUE INDEX users_email_key     ON users (tenant_id, lower(email))     WHERE email IS NOT NULL;
CREATE UNIQUE INDEX users_phone_key     ON users (tenant_id, phone)            WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX users_username_key  ON users (tenant_id, lower(username))  WHERE username IS NOT NULL;
CREATE UNIQUE INDEX users_unique_id_key ON users (tenant_id, lower(unique_id)) WHERE unique_id IS NOT NULL;

CREATE INDEX users_by_created    ON users (tenant_id, created_at, id);
CREATE INDEX users_by_name       ON users (tenant_id, name_key, id);
CREATE INDEX users_by_email      ON users (tenant_id, email, id);
CREATE INDEX users_by_last_login ON users (tenant_id, last_login_at, id);
CREATE INDEX users_by_status     ON users (tenant_id, status, created_at, id);
CREATE INDEX users_by_country    ON users (tenant_id, country, created_at);
CREATE INDEX users_by_city       ON users (tenant_id, usermgmt_ascii_fold(city));
CREATE INDEX users_by_timezone   ON users (tenant_id, timezone);
CREATE INDEX users_by_designation ON users (tenant_id, usermgmt_ascii_fold(designation));
CREATE INDEX users_by_dob        ON users (tenant_id, date_of_birth);
CREATE INDEX users_by_deleted    ON users (tenant_id, deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX users_locked        ON users (tenant_id, locked_until) WHERE locked_until IS NOT NULL;
CREATE INDEX users_stats ON users (
    tenant_id, status, is_admin, is_instructor, is_learner, email_verified, phone_verified, created_at
);
-- Substring search: trigram index over the one lower-cased search column.
CREATE INDEX users_search_trgm ON users USING gin (search_text gin_trgm_ops);

CREATE TABLE roles (
    tenant_id   text NOT NULL,
    id          uuid NOT NULL,
    name        text NOT NULL,
    description text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX roles_name_key ON roles (tenant_id, lower(name));

CREATE TABLE role_permissions (
    tenant_id  text NOT NULL,
    role_id    uuid NOT NULL,
    permission text NOT NULL,
    PRIMARY KEY (tenant_id, role_id, permission),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE user_roles (
    tenant_id text NOT NULL,
    user_id   uuid NOT NULL,
    role_id   uuid NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
CREATE INDEX user_roles_by_role ON user_roles (tenant_id, role_id, user_id);

CREATE TABLE user_permissions (
    tenant_id  text NOT NULL,
    user_id    uuid NOT NULL,
    permission text NOT NULL,
    PRIMARY KEY (tenant_id, user_id, permission),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE user_expertise (
    tenant_id text NOT NULL,
    user_id   uuid NOT NULL,
    position  integer NOT NULL,
    value     text NOT NULL,
    PRIMARY KEY (tenant_id, user_id, position),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_expertise_by_value ON user_expertise (tenant_id, usermgmt_ascii_fold(value), user_id);

CREATE TABLE user_oauth (
    tenant_id        text NOT NULL,
    user_id          uuid NOT NULL,
    provider         text NOT NULL,
    provider_user_id text NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id, provider),
    CONSTRAINT user_oauth_provider_key UNIQUE (tenant_id, provider, provider_user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE audit_events (
    tenant_id       text NOT NULL,
    id              uuid NOT NULL,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    target_kind     text NOT NULL,
    target_id       uuid NOT NULL,
    actor_kind      text NOT NULL,
    actor_id        uuid,
    impersonator_id uuid,
    action          text NOT NULL,
    changes         jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_by_target ON audit_events (tenant_id, target_id, seq);

CREATE TABLE sessions (
    tenant_id            text NOT NULL,
    id                   uuid NOT NULL,
    user_id              uuid NOT NULL,
    token_hash           bytea NOT NULL,
    created_at           timestamptz NOT NULL,
    last_seen_at         timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    terminated_at        timestamptz,
    user_agent           text,
    ip                   text,
    geo_country          text,
    geo_region           text,
    geo_city             text,
    impersonator_id      uuid,
    impersonation_mode   text,
    impersonation_reason text,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT sessions_token_key UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
-- Token look-ups come without a tenant (the token names it): a plain index serves them.
CREATE INDEX sessions_by_token ON sessions (token_hash);
CREATE INDEX sessions_by_user ON sessions (tenant_id, user_id, created_at);

CREATE TABLE notes (
    tenant_id  text NOT NULL,
    id         uuid NOT NULL,
    user_id    uuid NOT NULL,
    author_id  uuid,
    body       text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX notes_by_user ON notes (tenant_id, user_id, created_at);

CREATE TABLE sequences (
    tenant_id text NOT NULL,
    name      text NOT NULL,
    value     bigint NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
