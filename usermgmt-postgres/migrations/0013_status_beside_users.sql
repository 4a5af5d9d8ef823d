-- Status changes as HOT updates, keeping fast pages of rare statuses (issue 21). The status
-- index moves beside the users: `user_statuses` holds each user's status and creation time,
-- kept by statement-level triggers on `users` (so no write path can miss it), and a page
-- filtered by a status few users hold reads those users by key from it
-- (`usermgmt_sql::status_holders_probe`); a common status walks `users_by_created`. With no
-- index of `users` on a column a status change writes, and fill factor 90 (migration 11), a
-- soft delete updates the row in place and touches no index of `users`.
CREATE TABLE user_statuses (
    tenant_id  text NOT NULL,
    id         uuid NOT NULL,
    status     text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_statuses_by_status ON user_statuses (tenant_id, status, created_at, id);
INSERT INTO user_statuses (tenant_id, id, status, created_at)
    SELECT tenant_id, id, status, created_at FROM users;
DROP INDEX users_by_status;

-- `user_statuses` and `user_deletions` mirror the rows a statement wrote.
CREATE OR REPLACE FUNCTION usermgmt_track_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_statuses AS s (tenant_id, id, status, created_at)
        SELECT n.tenant_id, n.id, n.status, n.created_at FROM new_rows n
        ON CONFLICT (tenant_id, id) DO UPDATE
            SET status = EXCLUDED.status, created_at = EXCLUDED.created_at
            WHERE (s.status, s.created_at) IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.created_at);
    DELETE FROM user_deletions d USING new_rows n
        WHERE n.deleted_at IS NULL AND d.tenant_id = n.tenant_id AND d.user_id = n.id;
    INSERT INTO user_deletions AS d (tenant_id, user_id, deleted_at)
        SELECT n.tenant_id, n.id, n.deleted_at FROM new_rows n WHERE n.deleted_at IS NOT NULL
        ON CONFLICT (tenant_id, user_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at
            WHERE d.deleted_at IS DISTINCT FROM EXCLUDED.deleted_at;
    RETURN NULL;
END $$;
