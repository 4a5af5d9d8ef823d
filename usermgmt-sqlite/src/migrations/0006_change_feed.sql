-- The change feed the counting index follows (usermgmt_core::count): a row per user a write
-- touched, written by triggers on every table a count reads, so no write path can skip it.
-- `seq` only grows (AUTOINCREMENT), and SQLite has one writer at a time, so seq order is
-- commit order. Old rows are pruned; `user_changes_pruned` keeps the highest pruned seq so a
-- reader that fell behind it rebuilds.
CREATE TABLE user_changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    user_id   BLOB NOT NULL,
    at        INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE INDEX user_changes_by_tenant ON user_changes (tenant_id, seq);
CREATE INDEX user_changes_by_time ON user_changes (at);

CREATE TABLE user_changes_pruned (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO user_changes_pruned (id, seq) VALUES (1, 0);

CREATE TRIGGER users_feed_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_changes (tenant_id, user_id) VALUES (NEW.tenant_id, NEW.id);
END;
CREATE TRIGGER users_feed_update AFTER UPDATE ON users BEGIN
    INSERT INTO user_changes (tenant_id, user_id) VALUES (NEW.tenant_id, NEW.id);
END;
CREATE TRIGGER users_feed_delete AFTER DELETE ON users BEGIN
    INSERT INTO user_changes (tenant_id, user_id) VALUES (OLD.tenant_id, OLD.id);
END;

CREATE TRIGGER user_roles_feed_insert AFTER INSERT ON user_roles BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT tenant_id, id FROM users WHERE seq = NEW.user_seq;
END;
CREATE TRIGGER user_roles_feed_delete AFTER DELETE ON user_roles BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT tenant_id, id FROM users WHERE seq = OLD.user_seq;
END;
CREATE TRIGGER user_oauth_feed_insert AFTER INSERT ON user_oauth BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT tenant_id, id FROM users WHERE seq = NEW.user_seq;
END;
CREATE TRIGGER user_oauth_feed_update AFTER UPDATE ON user_oauth BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT tenant_id, id FROM users WHERE seq IN (OLD.user_seq, NEW.user_seq);
END;
CREATE TRIGGER user_oauth_feed_delete AFTER DELETE ON user_oauth BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT tenant_id, id FROM users WHERE seq = OLD.user_seq;
END;
CREATE TRIGGER user_expertise_feed_insert AFTER INSERT ON user_expertise BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT tenant_id, id FROM users WHERE seq = NEW.user_seq;
END;
CREATE TRIGGER user_expertise_feed_update AFTER UPDATE ON user_expertise BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT tenant_id, id FROM users WHERE seq IN (OLD.user_seq, NEW.user_seq);
END;
CREATE TRIGGER user_expertise_feed_delete AFTER DELETE ON user_expertise BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT tenant_id, id FROM users WHERE seq = OLD.user_seq;
END;
-- A role's holders match a role filter by its name.
CREATE TRIGGER roles_feed_rename AFTER UPDATE OF name ON roles
WHEN OLD.name IS NOT NEW.name BEGIN
    INSERT INTO user_changes (tenant_id, user_id)
        SELECT u.tenant_id, u.id FROM user_roles ur JOIN users u ON u.seq = ur.user_seq
        WHERE ur.role_id = NEW.id;
END;
