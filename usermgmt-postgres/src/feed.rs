//! The change feed (migration 4): positions are transaction ids (see the migration).

use async_trait::async_trait;
use usermgmt_core::Result;
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{CountFeed, FeedChanges, MAX_FEED_IDS};
use uuid::Uuid;

use crate::PgStorage;
use crate::error::map_err;

/// The oldest transaction still running: every transaction before it has ended.
macro_rules! xmin {
    () => {
        "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    };
}

#[async_trait]
impl CountFeed for PgStorage {
    async fn feed_position(&self, _tenant: &TenantId) -> Result<Option<u64>> {
        let position: i64 = sqlx::query_scalar(concat!("SELECT ", xmin!()))
            .fetch_one(&self.pool)
            .await
            .map_err(map_err("reading the change feed"))?;
        Ok(Some(u64::try_from(position).unwrap_or(0)))
    }

    async fn feed_changes(&self, tenant: &TenantId, since: u64) -> Result<FeedChanges> {
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        let limit = i64::try_from(MAX_FEED_IDS).unwrap_or(i64::MAX) + 1;
        // One statement, one snapshot: the next position and the rows it covers agree.
        let (position, pruned, ids): (i64, i64, Vec<Uuid>) = sqlx::query_as(concat!(
            "SELECT ",
            xmin!(),
            ", (SELECT txid FROM user_changes_pruned WHERE id = 1), \
             ARRAY(SELECT DISTINCT user_id FROM user_changes \
                   WHERE tenant_id = $1 AND txid >= $2 LIMIT $3)"
        ))
        .persistent(false)
        .bind(tenant.as_str())
        .bind(since)
        .bind(limit)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err("reading the change feed"))?;
        // `position < since`: the database went back (restored from a backup).
        if since <= pruned || position < since || ids.len() > MAX_FEED_IDS {
            return Ok(FeedChanges::Gap);
        }
        Ok(FeedChanges::Changed {
            position: u64::try_from(position).unwrap_or(0),
            ids,
        })
    }

    async fn prune_feed(&self, keep: std::time::Duration) -> Result<u64> {
        let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
        let dropped: i64 = sqlx::query_scalar(concat!(
            "WITH gone AS (DELETE FROM user_changes \
                 WHERE at < now() - make_interval(secs => $1) AND txid < ",
            xmin!(),
            " RETURNING txid), \
             kept AS (UPDATE user_changes_pruned \
                 SET txid = GREATEST(txid, (SELECT max(txid) FROM gone)) \
                 WHERE id = 1 AND EXISTS (SELECT 1 FROM gone)) \
             SELECT count(*) FROM gone"
        ))
        .persistent(false)
        .bind(keep as f64)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err("pruning the change feed"))?;
        Ok(u64::try_from(dropped).unwrap_or(0))
    }
}
