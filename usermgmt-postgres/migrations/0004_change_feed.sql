-- The change feed the counting index follows (usermgmt_core::count): a row per user a
-- statement touched, written by statement-level triggers on every table a count reads, so no
-- write path can skip it. `txid` is the writing transaction's id; a reader remembers the
-- oldest transaction still running at its last read (the snapshot's xmin) and next reads
-- every row from that id on, so a transaction committing late is never missed (no per-tenant
-- lock or counter: writers never wait for each other here).
CREATE TABLE user_changes (
    tenant_id text NOT NULL,
    user_id   uuid NOT NULL,
    txid      bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX user_changes_by_tenant ON user_changes (tenant_id, txid);
CREATE INDEX user_changes_by_time ON user_changes (at);

-- The highest txid pruned: a reader whose position is not past it rebuilds.
CREATE TABLE user_changes_pruned (
    id   integer PRIMARY KEY CHECK (id = 1),
    txid bigint NOT NULL
);
INSERT INTO user_changes_pruned (id, txid) VALUES (1, 0);

CREATE FUNCTION usermgmt_feed_users_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_changes (tenant_id, user_id) SELECT DISTINCT tenant_id, id FROM new_rows;
    RETURN NULL;
END $$;
CREATE FUNCTION usermgmt_feed_users_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_changes (tenant_id, user_id) SELECT DISTINCT tenant_id, id FROM old_rows;
    RETURN NULL;
END $$;
CREATE FUNCTION usermgmt_feed_child_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT DISTINCT tenant_id, user_id FROM new_rows;
    RETURN NULL;
END $$;
CREATE FUNCTION usermgmt_feed_child_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT DISTINCT tenant_id, user_id FROM old_rows;
    RETURN NULL;
END $$;

CREATE TRIGGER users_feed_insert AFTER INSERT ON users REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_users_new();
CREATE TRIGGER users_feed_update AFTER UPDATE ON users REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_users_new();
CREATE TRIGGER users_feed_delete AFTER DELETE ON users REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_users_old();

CREATE TRIGGER user_roles_feed_insert AFTER INSERT ON user_roles
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_child_new();
CREATE TRIGGER user_roles_feed_update AFTER UPDATE ON user_roles
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_child_new();
CREATE TRIGGER user_roles_feed_delete AFTER DELETE ON user_roles
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_child_old();
CREATE TRIGGER user_oauth_feed_insert AFTER INSERT ON user_oauth
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_child_new();
CREATE TRIGGER user_oauth_feed_update AFTER UPDATE ON user_oauth
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_child_new();
CREATE TRIGGER user_oauth_feed_delete AFTER DELETE ON user_oauth
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_child_old();
CREATE TRIGGER user_expertise_feed_insert AFTER INSERT ON user_expertise
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_child_new();
CREATE TRIGGER user_expertise_feed_update AFTER UPDATE ON user_expertise
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_child_new();
CREATE TRIGGER user_expertise_feed_delete AFTER DELETE ON user_expertise
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_child_old();

-- A role's holders match a role filter by its name.
CREATE FUNCTION usermgmt_feed_role_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT tenant_id, user_id FROM user_roles
        WHERE tenant_id = NEW.tenant_id AND role_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER roles_feed_rename AFTER UPDATE OF name ON roles
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION usermgmt_feed_role_renamed();

-- TRUNCATE writes no rows to the feed: it moves the pruned mark past every reader instead,
-- so each rebuilds.
CREATE FUNCTION usermgmt_feed_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_changes_pruned SET txid = pg_current_xact_id()::text::bigint WHERE id = 1;
    RETURN NULL;
END $$;
CREATE TRIGGER users_feed_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_feed_truncated();
