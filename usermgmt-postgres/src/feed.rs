//! Change feeds whose positions are transaction ids: the users' (migration 4) and a learning
//! database's enrollments' ([`crate::PgEnrollmentSource::install_change_feed`]). A reader
//! remembers the oldest transaction still running at its last read and next reads every entry
//! from that id on (see migration 4).

use async_trait::async_trait;
use sqlx::PgPool;
use usermgmt_core::Result;
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{CountFeed, FeedChanges, MAX_FEED_IDS};

use crate::PgStorage;
use crate::error::map_err;

/// The oldest transaction still running: every transaction before it has ended.
macro_rules! xmin {
    () => {
        "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    };
}

/// A feed's tables: entries (`tenant_id`, `user_id`, `txid`, `at`) and the pruned mark.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeedTables {
    pub(crate) changes: &'static str,
    pub(crate) pruned: &'static str,
}

/// The users' feed (migration 4).
const USERS: FeedTables = FeedTables {
    changes: "user_changes",
    pruned: "user_changes_pruned",
};

/// The current position.
pub(crate) async fn position(pool: &PgPool) -> Result<Option<u64>> {
    let position: i64 = sqlx::query_scalar(concat!("SELECT ", xmin!()))
        .fetch_one(pool)
        .await
        .map_err(map_err("reading the change feed"))?;
    Ok(Some(u64::try_from(position).unwrap_or(0)))
}

/// The users changed since `since` (of `tenant`, or of every tenant when `None`).
pub(crate) async fn changes(
    pool: &PgPool,
    feed: FeedTables,
    tenant: Option<&str>,
    since: u64,
) -> Result<FeedChanges> {
    let since = i64::try_from(since).unwrap_or(i64::MAX);
    let limit = i64::try_from(MAX_FEED_IDS).unwrap_or(i64::MAX) + 1;
    let tenant_filter = if tenant.is_some() {
        "tenant_id = $3 AND "
    } else {
        "$3::text IS NULL AND "
    };
    // One statement, one snapshot: the next position and the rows it covers agree.
    let sql = format!(
        "SELECT {}, (SELECT txid FROM {} WHERE id = 1), \
         ARRAY(SELECT DISTINCT user_id::text FROM {} WHERE {tenant_filter}txid >= $1 LIMIT $2)",
        xmin!(),
        feed.pruned,
        feed.changes
    );
    let (position, pruned, texts): (i64, i64, Vec<String>) =
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .persistent(false)
            .bind(since)
            .bind(limit)
            .bind(tenant)
            .fetch_one(pool)
            .await
            .map_err(map_err("reading the change feed"))?;
    // `position < since`: the database went back (restored from a backup).
    if since <= pruned || position < since || texts.len() > MAX_FEED_IDS {
        return Ok(FeedChanges::Gap);
    }
    Ok(FeedChanges::Changed {
        position: u64::try_from(position).unwrap_or(0),
        ids: usermgmt_sql::feed_user_ids(&texts)?,
    })
}

/// Drops entries older than `keep` that every reader has passed, moving the pruned mark.
pub(crate) async fn prune(
    pool: &PgPool,
    feed: FeedTables,
    keep: std::time::Duration,
) -> Result<u64> {
    let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
    let sql = format!(
        "WITH gone AS (DELETE FROM {changes} \
             WHERE at < now() - make_interval(secs => $1) AND txid < {xmin} \
             RETURNING txid), \
         kept AS (UPDATE {pruned} \
             SET txid = GREATEST(txid, (SELECT max(txid) FROM gone)) \
             WHERE id = 1 AND EXISTS (SELECT 1 FROM gone)) \
         SELECT count(*) FROM gone",
        changes = feed.changes,
        pruned = feed.pruned,
        xmin = xmin!(),
    );
    let dropped: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .persistent(false)
        .bind(keep as f64)
        .fetch_one(pool)
        .await
        .map_err(map_err("pruning the change feed"))?;
    Ok(u64::try_from(dropped).unwrap_or(0))
}

#[async_trait]
impl CountFeed for PgStorage {
    async fn feed_position(&self, _tenant: &TenantId) -> Result<Option<u64>> {
        position(&self.pool).await
    }

    async fn feed_changes(&self, tenant: &TenantId, since: u64) -> Result<FeedChanges> {
        changes(&self.pool, USERS, Some(tenant.as_str()), since).await
    }

    async fn prune_feed(&self, keep: std::time::Duration) -> Result<u64> {
        prune(&self.pool, USERS, keep).await
    }
}
