-- A user's related lists (roles, direct permissions, expertise, OAuth providers) kept beside
-- the row as one JSON object of the non-empty lists (`r`, `p`, `e`, `o`; NULL when all are
-- empty), so reads of many users (an export, a page) need no look-up per user. The tables
-- stay the truth filters and grants read; every write of them rewrites this column in the
-- same transaction (usermgmt_core::storage::UserLists).
ALTER TABLE users ADD COLUMN lists TEXT;

-- The backfill changes no user's data: the change feed is left out of it.
DROP TRIGGER users_feed_update;
UPDATE users SET lists = (
    SELECT json_group_object(k, json(v)) FROM (
        SELECT 'r' AS k, (SELECT json_group_array(r.name ORDER BY r.name) FROM user_roles ur
            JOIN roles r ON r.id = ur.role_id WHERE ur.user_seq = users.seq) AS v
        UNION ALL SELECT 'p', (SELECT json_group_array(permission ORDER BY permission)
            FROM user_permissions WHERE user_seq = users.seq)
        UNION ALL SELECT 'e', (SELECT json_group_array(value ORDER BY position)
            FROM user_expertise WHERE user_seq = users.seq)
        UNION ALL SELECT 'o', (SELECT json_group_array(provider ORDER BY provider)
            FROM user_oauth WHERE user_seq = users.seq)
    ) WHERE v <> '[]'
)
WHERE EXISTS (SELECT 1 FROM user_roles WHERE user_seq = users.seq)
   OR EXISTS (SELECT 1 FROM user_permissions WHERE user_seq = users.seq)
   OR EXISTS (SELECT 1 FROM user_expertise WHERE user_seq = users.seq)
   OR EXISTS (SELECT 1 FROM user_oauth WHERE user_seq = users.seq);
CREATE TRIGGER users_feed_update AFTER UPDATE ON users BEGIN
    INSERT INTO user_changes (tenant_id, user_id) VALUES (NEW.tenant_id, NEW.id);
END;
