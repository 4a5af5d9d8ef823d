//! The change feed the counting index (`crate::count`) follows.

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::Result;
use crate::model::TenantId;

/// Most user ids one read of the feed returns; past it the index rebuilds instead.
pub const MAX_FEED_IDS: usize = 50_000;

/// What the feed says changed since a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedChanges {
    /// The users changed (created, edited, deleted, granted or stripped of a role, linked
    /// to a provider, …) by transactions the feed had not yet reported at `since`, and the
    /// position to ask from next time. Ids may repeat ones already reported.
    Changed {
        /// The next position.
        position: u64,
        /// The changed users (at most [`MAX_FEED_IDS`]).
        ids: Vec<Uuid>,
    },
    /// The feed no longer reaches back to `since` (it was pruned, or more than
    /// [`MAX_FEED_IDS`] users changed): rebuild from a full read.
    Gap,
}

/// A per-tenant feed of changed users, written by the database itself (triggers on every
/// table a count reads) so that no write path can skip it, and read by every application
/// instance sharing the database.
///
/// The contract, on which exact totals rest: a position returned at time `t` and every
/// later read of changes from it together report every user changed by a transaction that
/// committed after `t`; the changes read at time `t` include every user changed by a
/// transaction that committed before `t`.
#[async_trait]
pub trait CountFeed: Send + Sync {
    /// The feed's current position for the tenant, taken before a full read; `None` when
    /// this store keeps no feed (its totals are then counted in SQL).
    async fn feed_position(&self, _tenant: &TenantId) -> Result<Option<u64>> {
        Ok(None)
    }

    /// The users changed since `since` (see [`FeedChanges`]).
    async fn feed_changes(&self, _tenant: &TenantId, _since: u64) -> Result<FeedChanges> {
        Ok(FeedChanges::Gap)
    }

    /// Drops feed entries older than `keep` (all tenants); a reader that has not read for
    /// longer than that rebuilds. Returns how many were dropped.
    async fn prune_feed(&self, _keep: std::time::Duration) -> Result<u64> {
        Ok(0)
    }
}
