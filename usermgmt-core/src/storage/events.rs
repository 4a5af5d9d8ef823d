//! What the outbox stores: announced events and the positions of named consumers.
//!
//! Backends write an outbox row for every audit event in the statement that writes the audit
//! event (a trigger), so in its transaction. Per tenant, outbox ids count up from 1 without
//! gaps in commit order: a reader that sees id `n` sees every id below it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::model::{Event, TenantId};

/// A named consumer of the outbox, as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// Unique name; its positions are stored under it.
    pub name: String,
    /// The one tenant it reads, or every tenant.
    pub tenant: Option<TenantId>,
    /// Partitions per tenant (1-16): each holds the events of the shards `shard % partitions
    /// == part` and is leased to one instance at a time.
    pub partitions: u8,
    /// Whether the cursors of tenants that have events when the consumer is first registered
    /// start after those events (`true`) or before them; tenants seen later start at 0.
    pub from_latest: bool,
}

/// A cursor leased to one instance: a tenant's partition and the position read up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedCursor {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The partition (below `partitions`).
    pub part: u8,
    /// The consumer's partitions per tenant.
    pub partitions: u8,
    /// The last outbox id handled.
    pub position: u64,
}

/// Events read after a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBatch {
    /// The events, by id.
    pub events: Vec<Event>,
    /// The position once these are handled: the last event's id, or the tenant's last id
    /// when fewer than the limit were found (no event of the partition lies in between).
    pub next_position: u64,
}

impl EventBatch {
    /// The batch of `events` a read of at most `limit` after `after` found, the tenant's last
    /// id being `top` when the read began: a full batch ends at its last event; a short one
    /// saw every event of the partition up to `top`.
    pub fn read(events: Vec<Event>, after: u64, top: u64, limit: u32) -> Self {
        let full = events.len() >= usize::try_from(limit).unwrap_or(usize::MAX);
        let next_position = match events.last() {
            Some(last) if full => last.id,
            _ => top.max(after),
        };
        Self {
            events,
            next_position,
        }
    }
}

/// The outbox and its consumers.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Registers a consumer (again: nothing changes), creating a cursor for every tenant
    /// it reads that has events. A name registered with other partitions or another tenant
    /// is a conflict on `name`.
    async fn register_consumer(&self, spec: &ConsumerSpec, now: DateTime<Utc>) -> Result<()>;

    /// Removes a consumer and its positions; `false` when there was none.
    async fn remove_consumer(&self, name: &str) -> Result<bool>;

    /// Creates the cursors of tenants the consumer has not seen yet (at 0), then leases to
    /// `owner` until `lease_until` the least recently leased cursor that has unread events
    /// and is neither leased nor waiting for a retry at `now`. `None` when no cursor is
    /// free and behind.
    async fn lease_cursor(
        &self,
        consumer: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<LeasedCursor>>;

    /// Moves a leased cursor to `position` and ends the lease; with `retry_at`, nobody
    /// leases it before then. `false` (nothing written) when `owner` no longer holds it.
    async fn release_cursor(
        &self,
        consumer: &str,
        cursor: &LeasedCursor,
        owner: &str,
        position: u64,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool>;

    /// Up to `limit` events of `tenant` after id `after` whose shard falls in partition
    /// `part` of `partitions` (1 partition: every event), by id.
    async fn read_events(
        &self,
        tenant: &TenantId,
        after: u64,
        part: u8,
        partitions: u8,
        limit: u32,
    ) -> Result<EventBatch>;

    /// The last outbox id of `tenant` (0 before its first event).
    async fn last_event_id(&self, tenant: &TenantId) -> Result<u64>;

    /// Deletes up to `limit` delivered or dead webhook deliveries queued before `before`,
    /// then up to `limit` outbox rows created before `before` that every consumer of their
    /// tenant has passed and no pending delivery needs; how many rows in all.
    async fn prune_events(&self, before: DateTime<Utc>, limit: u32) -> Result<u64>;
}
