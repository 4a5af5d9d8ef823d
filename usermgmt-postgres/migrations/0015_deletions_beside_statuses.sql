-- Deletion times join the statuses beside the users (issue 21). A soft delete of 10,000
-- users spent 1.1 s in the mirror trigger: an upsert into `user_statuses`, then a delete and
-- an insert into `user_deletions`, whose foreign key was checked row by row. One row per
-- user now holds both: a soft delete is one upsert that updates rows already there (no
-- foreign-key check: the key does not change), 0.35–0.45 s for the 10,000.
ALTER TABLE user_statuses ADD COLUMN deleted_at timestamptz;
UPDATE user_statuses s SET deleted_at = d.deleted_at
    FROM user_deletions d WHERE d.tenant_id = s.tenant_id AND d.user_id = s.id;
CREATE INDEX user_statuses_by_deletion ON user_statuses (tenant_id, deleted_at)
    WHERE deleted_at IS NOT NULL;
DROP TABLE user_deletions;

-- `user_statuses` mirrors the status, creation and deletion times of the rows a statement
-- wrote; rows whose three values did not change are left alone.
CREATE OR REPLACE FUNCTION usermgmt_track_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_statuses AS s (tenant_id, id, status, created_at, deleted_at)
        SELECT n.tenant_id, n.id, n.status, n.created_at, n.deleted_at FROM new_rows n
        ON CONFLICT (tenant_id, id) DO UPDATE
            SET status = EXCLUDED.status, created_at = EXCLUDED.created_at,
                deleted_at = EXCLUDED.deleted_at
            WHERE (s.status, s.created_at, s.deleted_at)
                IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.created_at, EXCLUDED.deleted_at);
    RETURN NULL;
END $$;
ALTER FUNCTION usermgmt_track_deletions() RENAME TO usermgmt_track_statuses;
ALTER TRIGGER users_track_deletions_insert ON users RENAME TO users_track_statuses_insert;
ALTER TRIGGER users_track_deletions_update ON users RENAME TO users_track_statuses_update;
