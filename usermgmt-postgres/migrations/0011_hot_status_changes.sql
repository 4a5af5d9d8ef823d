-- Status changes and soft deletes as HOT updates (issue 21). PostgreSQL rewrites every index
-- of a row whose update changes any indexed column, or finds no room on the row's page: a
-- soft delete of 10,000 users maintained all 19 indexes of `users`. Three indexes held the
-- columns a status change writes; they go:
--   * `users_by_status` (status, created_at): a status-filtered page walks `users_by_created`
--     instead (totals come from the counting index, SPEC §14);
--   * `users_stats`: the one-pass statistics without the counting index scan the table;
--   * `users_by_deleted`: deletion times now live beside the users, in `user_deletions`,
--     kept by a statement-level trigger (so no write path can miss it), for the overview's
--     "deleted in this period" counts.
-- A fill factor of 90 leaves room on each page for the new row versions (pages written
-- before this migration have none until `VACUUM FULL users` or a reload rewrites them).
DROP INDEX users_by_status;
DROP INDEX users_stats;
DROP INDEX users_by_deleted;
ALTER TABLE users SET (fillfactor = 90);

CREATE TABLE user_deletions (
    tenant_id  text NOT NULL,
    user_id    uuid NOT NULL,
    deleted_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_deletions_by_time ON user_deletions (tenant_id, deleted_at);
INSERT INTO user_deletions (tenant_id, user_id, deleted_at)
    SELECT tenant_id, id, deleted_at FROM users WHERE deleted_at IS NOT NULL;

-- `user_deletions` mirrors `users.deleted_at` of the rows a statement wrote.
CREATE FUNCTION usermgmt_track_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM user_deletions d USING new_rows n
        WHERE n.deleted_at IS NULL AND d.tenant_id = n.tenant_id AND d.user_id = n.id;
    INSERT INTO user_deletions AS d (tenant_id, user_id, deleted_at)
        SELECT n.tenant_id, n.id, n.deleted_at FROM new_rows n WHERE n.deleted_at IS NOT NULL
        ON CONFLICT (tenant_id, user_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at
            WHERE d.deleted_at IS DISTINCT FROM EXCLUDED.deleted_at;
    RETURN NULL;
END $$;

CREATE TRIGGER users_track_deletions_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_track_deletions();
CREATE TRIGGER users_track_deletions_update AFTER UPDATE ON users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_track_deletions();
