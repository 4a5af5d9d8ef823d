-- A user's related lists (roles, direct permissions, expertise, OAuth providers) kept beside
-- the row as one JSON object of the non-empty lists (`r`, `p`, `e`, `o`; NULL when all are
-- empty), so reads of many users (an export, a page) need no look-up per user. The tables
-- stay the truth filters and grants read; every write of them rewrites this column in the
-- same transaction (usermgmt_core::storage::UserLists). Not indexed: writing it keeps an
-- update HOT.
ALTER TABLE users ADD COLUMN lists text;

-- The backfill changes no user's data: the change feed and the status mirror are left out.
ALTER TABLE users DISABLE TRIGGER users_feed_update;
ALTER TABLE users DISABLE TRIGGER users_track_deletions_update;
UPDATE users u SET lists = (
    SELECT json_object_agg(k, v)::text FROM (
        SELECT 'r' AS k, (SELECT json_agg(r.name ORDER BY r.name) FROM user_roles ur
            JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id
            WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id) AS v
        UNION ALL SELECT 'p', (SELECT json_agg(permission ORDER BY permission)
            FROM user_permissions WHERE tenant_id = u.tenant_id AND user_id = u.id)
        UNION ALL SELECT 'e', (SELECT json_agg(value ORDER BY position)
            FROM user_expertise WHERE tenant_id = u.tenant_id AND user_id = u.id)
        UNION ALL SELECT 'o', (SELECT json_agg(provider ORDER BY provider)
            FROM user_oauth WHERE tenant_id = u.tenant_id AND user_id = u.id)
    ) lists WHERE v IS NOT NULL
)
WHERE EXISTS (SELECT 1 FROM user_roles WHERE tenant_id = u.tenant_id AND user_id = u.id)
   OR EXISTS (SELECT 1 FROM user_permissions WHERE tenant_id = u.tenant_id AND user_id = u.id)
   OR EXISTS (SELECT 1 FROM user_expertise WHERE tenant_id = u.tenant_id AND user_id = u.id)
   OR EXISTS (SELECT 1 FROM user_oauth WHERE tenant_id = u.tenant_id AND user_id = u.id);
ALTER TABLE users ENABLE TRIGGER users_feed_update;
ALTER TABLE users ENABLE TRIGGER users_track_deletions_update;
