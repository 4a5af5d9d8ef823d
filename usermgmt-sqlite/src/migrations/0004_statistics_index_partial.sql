-- The statistics index must not attract the list queries (whose `status = ?` matched its
-- prefix and made SQLite pick it over the filter indexes): make it partial on a condition only
-- the statistics query states (`version > 0` always holds; the column is included so the index
-- still covers the query).
DROP INDEX users_stats;
CREATE INDEX users_stats ON users (
    tenant_id, status, is_admin, is_instructor, is_learner, email_verified, phone_verified, created_at, version
) WHERE version > 0;
