//! The change feed (migration 6): positions are `user_changes.seq`.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use usermgmt_core::Result;
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{CountFeed, FeedChanges, MAX_FEED_IDS};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::error::map_err;

/// The highest seq written or pruned.
const POSITION: &str = "SELECT max(COALESCE((SELECT max(seq) FROM user_changes), 0), \
     (SELECT seq FROM user_changes_pruned WHERE id = 1))";

#[async_trait]
impl CountFeed for SqliteStorage {
    async fn feed_position(&self, _tenant: &TenantId) -> Result<Option<u64>> {
        self.pool
            .run(|conn| {
                let position: i64 = conn
                    .query_row(POSITION, [], |row| row.get(0))
                    .map_err(map_err("reading the change feed"))?;
                Ok(Some(u64::try_from(position).unwrap_or(0)))
            })
            .await
    }

    async fn feed_changes(&self, tenant: &TenantId, since: u64) -> Result<FeedChanges> {
        let tenant = tenant.as_str().to_owned();
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        self.pool
            .run(move |conn| {
                // One read transaction: the position and the ids come from one snapshot.
                let tx = conn
                    .transaction()
                    .map_err(map_err("reading the change feed"))?;
                let pruned: i64 = tx
                    .query_row(
                        "SELECT seq FROM user_changes_pruned WHERE id = 1",
                        [],
                        |row| row.get(0),
                    )
                    .optional()
                    .map_err(map_err("reading the change feed"))?
                    .unwrap_or(0);
                if since < pruned {
                    return Ok(FeedChanges::Gap);
                }
                let position: i64 = tx
                    .query_row(POSITION, [], |row| row.get(0))
                    .map_err(map_err("reading the change feed"))?;
                if position < since {
                    // The database went back (restored from a backup): start over.
                    return Ok(FeedChanges::Gap);
                }
                let mut statement = tx
                    .prepare_cached(
                        "SELECT DISTINCT user_id FROM user_changes \
                         WHERE tenant_id = ?1 AND seq > ?2 AND seq <= ?3 LIMIT ?4",
                    )
                    .map_err(map_err("reading the change feed"))?;
                let limit = i64::try_from(MAX_FEED_IDS).unwrap_or(i64::MAX) + 1;
                let ids = statement
                    .query_map(params![tenant, since, position, limit], |row| {
                        row.get::<_, Uuid>(0)
                    })
                    .map_err(map_err("reading the change feed"))?
                    .collect::<rusqlite::Result<Vec<Uuid>>>()
                    .map_err(map_err("reading the change feed"))?;
                if ids.len() > MAX_FEED_IDS {
                    return Ok(FeedChanges::Gap);
                }
                Ok(FeedChanges::Changed {
                    position: u64::try_from(position).unwrap_or(0),
                    ids,
                })
            })
            .await
    }

    async fn prune_feed(&self, keep: std::time::Duration) -> Result<u64> {
        let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let cutoff: Option<i64> = tx
                    .query_row(
                        "SELECT max(seq) FROM user_changes \
                         WHERE at < CAST(strftime('%s', 'now') AS INTEGER) - ?1",
                        [keep],
                        |row| row.get(0),
                    )
                    .map_err(map_err("pruning the change feed"))?;
                let Some(cutoff) = cutoff else {
                    return Ok(0);
                };
                let dropped = tx
                    .execute("DELETE FROM user_changes WHERE seq <= ?1", [cutoff])
                    .map_err(map_err("pruning the change feed"))?;
                tx.execute(
                    "UPDATE user_changes_pruned SET seq = max(seq, ?1) WHERE id = 1",
                    [cutoff],
                )
                .map_err(map_err("pruning the change feed"))?;
                crate::pool::commit(tx)?;
                Ok(dropped as u64)
            })
            .await
    }
}
