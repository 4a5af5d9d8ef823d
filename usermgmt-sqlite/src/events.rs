//! `EventStore` on SQLite: the outbox (migration 10; rows are written by the
//! `audit_events_announce` trigger) and consumer cursors.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use usermgmt_core::model::{Event, TenantId};
use usermgmt_core::storage::{ConsumerSpec, EventBatch, EventStore, LeasedCursor};
use usermgmt_core::{Error, Result};

use crate::SqliteStorage;
use crate::audit::{RawEvent, decode};
use crate::codec::micros;
use crate::error::map_err;

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The last outbox id of a tenant, 0 before its first event.
fn last_id(conn: &rusqlite::Connection, tenant: &str) -> Result<i64> {
    conn.prepare_cached("SELECT last FROM outbox_counters WHERE tenant_id = ?1")
        .and_then(|mut s| s.query_row(params![tenant], |r| r.get(0)).optional())
        .map(Option::unwrap_or_default)
        .map_err(map_err("reading the outbox"))
}

/// Cursors at 0 for the tenants with events that `consumer` (`None`: every consumer) reads
/// and has none for yet.
fn new_cursors(conn: &rusqlite::Connection, consumer: Option<&str>) -> Result<()> {
    conn.prepare_cached(
        "WITH RECURSIVE parts(part) AS (SELECT 0 UNION ALL SELECT part + 1 FROM parts WHERE part < 15) \
         INSERT INTO event_cursors (consumer, tenant_id, part, position) \
         SELECT c.name, o.tenant_id, p.part, 0 \
         FROM event_consumers c JOIN outbox_counters o ON c.tenant_id IS NULL OR c.tenant_id = o.tenant_id \
         JOIN parts p ON p.part < c.partitions WHERE (?1 IS NULL OR c.name = ?1) \
         AND NOT EXISTS (SELECT 1 FROM event_cursors e WHERE e.consumer = c.name AND e.tenant_id = o.tenant_id)",
    )
    .and_then(|mut s| s.execute(params![consumer]))
    .map_err(map_err("creating cursors"))?;
    Ok(())
}

#[async_trait]
impl EventStore for SqliteStorage {
    async fn register_consumer(&self, spec: &ConsumerSpec, now: DateTime<Utc>) -> Result<()> {
        let spec = spec.clone();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let tenant = spec.tenant.as_ref().map(|t| t.as_str().to_owned());
                let existing: Option<(Option<String>, i64)> = tx
                    .query_row(
                        "SELECT tenant_id, partitions FROM event_consumers WHERE name = ?1",
                        params![spec.name],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(map_err("reading a consumer"))?;
                match existing {
                    Some((t, p)) if t == tenant && p == i64::from(spec.partitions) => return Ok(()),
                    Some(_) => return Err(Error::Conflict { fields: vec!["name".into()] }),
                    None => {}
                }
                tx.execute(
                    "INSERT INTO event_consumers (name, tenant_id, partitions, from_latest, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![spec.name, tenant, spec.partitions, spec.from_latest, micros(now)],
                )
                .map_err(map_err("registering a consumer"))?;
                tx.execute(
                    "WITH RECURSIVE parts(part) AS (SELECT 0 UNION ALL SELECT part + 1 FROM parts WHERE part < 15) \
                     INSERT INTO event_cursors (consumer, tenant_id, part, position) \
                     SELECT c.name, o.tenant_id, p.part, CASE WHEN c.from_latest THEN o.last ELSE 0 END \
                     FROM event_consumers c JOIN outbox_counters o ON c.tenant_id IS NULL OR c.tenant_id = o.tenant_id \
                     JOIN parts p ON p.part < c.partitions WHERE c.name = ?1",
                    params![spec.name],
                )
                .map_err(map_err("registering a consumer"))?;
                crate::pool::commit(tx)
            })
            .await
    }

    async fn remove_consumer(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                tx.execute(
                    "DELETE FROM event_cursors WHERE consumer = ?1",
                    params![name],
                )
                .map_err(map_err("removing a consumer"))?;
                let removed = tx
                    .execute("DELETE FROM event_consumers WHERE name = ?1", params![name])
                    .map_err(map_err("removing a consumer"))?;
                crate::pool::commit(tx)?;
                Ok(removed > 0)
            })
            .await
    }

    async fn lease_cursor(
        &self,
        consumer: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<LeasedCursor>> {
        let (consumer, owner) = (consumer.to_owned(), owner.to_owned());
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                // Tenants whose first events came after the consumer's last look start at 0.
                new_cursors(&tx, Some(&consumer))?;
                let leased: Option<(String, u8, i64, u8)> = tx
                    .prepare_cached(
                        "UPDATE event_cursors SET lease_owner = ?2, lease_until = ?4, claimed_at = ?3 \
                         WHERE (consumer, tenant_id, part) = ( \
                           SELECT e.consumer, e.tenant_id, e.part FROM event_cursors e \
                           JOIN outbox_counters o ON o.tenant_id = e.tenant_id \
                           WHERE e.consumer = ?1 AND (e.lease_until IS NULL OR e.lease_until <= ?3) \
                           AND e.position < o.last \
                           ORDER BY e.claimed_at IS NOT NULL, e.claimed_at LIMIT 1) \
                         RETURNING tenant_id, part, position, \
                           (SELECT partitions FROM event_consumers WHERE name = ?1)",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![consumer, owner, micros(now), micros(lease_until)], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                        })
                        .optional()
                    })
                    .map_err(map_err("leasing a cursor"))?;
                crate::pool::commit(tx)?;
                leased
                    .map(|(tenant, part, position, partitions)| {
                        Ok(LeasedCursor {
                            tenant_id: TenantId::new(tenant)
                                .map_err(|_| crate::error::corrupt("reading a cursor", "tenant"))?,
                            part,
                            partitions,
                            position: to_u64(position),
                        })
                    })
                    .transpose()
            })
            .await
    }

    async fn release_cursor(
        &self,
        consumer: &str,
        cursor: &LeasedCursor,
        owner: &str,
        position: u64,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let (consumer, owner) = (consumer.to_owned(), owner.to_owned());
        let (tenant, part) = (cursor.tenant_id.as_str().to_owned(), cursor.part);
        self.pool
            .run(move |conn| {
                conn.prepare_cached(
                    "UPDATE event_cursors SET position = max(position, ?5), lease_owner = NULL, \
                     lease_until = ?6 WHERE consumer = ?1 AND tenant_id = ?2 AND part = ?3 \
                     AND lease_owner = ?4",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        consumer,
                        tenant,
                        part,
                        owner,
                        to_i64(position),
                        retry_at.map(micros)
                    ])
                })
                .map(|n| n > 0)
                .map_err(map_err("moving a cursor"))
            })
            .await
    }

    async fn read_events(
        &self,
        tenant: &TenantId,
        after: u64,
        part: u8,
        partitions: u8,
        limit: u32,
    ) -> Result<EventBatch> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = conn.transaction().map_err(map_err("reading the outbox"))?;
                // Ids up to the last one are all committed and visible: read it first.
                let top = last_id(&tx, &tenant)?;
                let raws = tx
                    .prepare_cached(
                        "SELECT o.id, a.id, a.tenant_id, a.target_kind, a.target_id, a.actor_kind, \
                         a.actor_id, a.impersonator_id, a.action, a.changes, a.created_at \
                         FROM outbox_events o JOIN audit_events a ON a.id = o.event_id \
                         WHERE o.tenant_id = ?1 AND o.id > ?2 AND o.id <= ?3 AND o.shard % ?4 = ?5 \
                         ORDER BY o.id LIMIT ?6",
                    )
                    .and_then(|mut s| {
                        s.query_map(
                            params![tenant, to_i64(after), top, partitions.max(1), part, limit],
                            |r| {
                                let raw: RawEvent = (
                                    r.get(1)?,
                                    r.get(2)?,
                                    r.get(3)?,
                                    r.get(4)?,
                                    r.get(5)?,
                                    r.get(6)?,
                                    r.get(7)?,
                                    r.get(8)?,
                                    r.get(9)?,
                                    r.get(10)?,
                                );
                                Ok((r.get::<_, i64>(0)?, raw))
                            },
                        )?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err("reading the outbox"))?;
                let events = raws
                    .into_iter()
                    .map(|(id, raw)| {
                        Ok(Event {
                            id: to_u64(id),
                            audit: decode(raw)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(EventBatch::read(events, after, to_u64(top), limit))
            })
            .await
    }

    async fn last_event_id(&self, tenant: &TenantId) -> Result<u64> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| last_id(conn, &tenant).map(to_u64))
            .await
    }

    async fn prune_events(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                // Every consumer's cursors first (a tenant a consumer has not looked at yet
                // holds its events at 0), so the minimum in PRUNE covers every consumer.
                new_cursors(&tx, None)?;
                let mut pruned = 0;
                for sql in [
                    crate::events_prune::PRUNE_DELIVERIES,
                    crate::events_prune::PRUNE,
                ] {
                    pruned += tx
                        .prepare_cached(sql)
                        .and_then(|mut s| s.execute(params![micros(before), limit]))
                        .map_err(map_err("pruning the outbox"))?;
                }
                crate::pool::commit(tx)?;
                Ok(u64::try_from(pruned).unwrap_or(0))
            })
            .await
    }
}
