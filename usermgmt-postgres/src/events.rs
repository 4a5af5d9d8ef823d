//! `EventStore` on PostgreSQL: the outbox (migration 8; rows are written by the
//! `audit_events_announce` statement trigger) and consumer cursors, leased with
//! `FOR UPDATE SKIP LOCKED`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use usermgmt_core::model::{Event, TenantId};
use usermgmt_core::storage::{ConsumerSpec, EventBatch, EventStore, LeasedCursor};
use usermgmt_core::{Error, Result};

use crate::PgStorage;
use crate::audit::decode;
use crate::error::{corrupt, map_err};
use crate::tx::commit;

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Cursors for the tenants with events the consumer `$1` (NULL: every consumer) reads and
/// has none for yet, at
/// position `$2` (NULL: 0, or the tenant's last id when the consumer starts from the latest).
const NEW_CURSORS: &str = "INSERT INTO event_cursors (consumer, tenant_id, part, position) \
     SELECT c.name, o.tenant_id, p.part, CASE WHEN $2 AND c.from_latest THEN o.last ELSE 0 END \
     FROM event_consumers c JOIN outbox_counters o ON c.tenant_id IS NULL OR c.tenant_id = o.tenant_id \
     CROSS JOIN LATERAL generate_series(0, c.partitions - 1) AS p(part) \
     WHERE ($1::text IS NULL OR c.name = $1) \
     AND NOT EXISTS (SELECT 1 FROM event_cursors e WHERE e.consumer = c.name AND e.tenant_id = o.tenant_id) \
     ON CONFLICT DO NOTHING";

#[async_trait]
impl EventStore for PgStorage {
    async fn register_consumer(&self, spec: &ConsumerSpec, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        let tenant = spec.tenant.as_ref().map(|t| t.as_str());
        let inserted = sqlx::query(
            "INSERT INTO event_consumers (name, tenant_id, partitions, from_latest, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&spec.name)
        .bind(tenant)
        .bind(i16::from(spec.partitions))
        .bind(spec.from_latest)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_err("registering a consumer"))?
        .rows_affected();
        if inserted == 0 {
            let row =
                sqlx::query("SELECT tenant_id, partitions FROM event_consumers WHERE name = $1")
                    .bind(&spec.name)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(map_err("reading a consumer"))?;
            let stored: (Option<String>, i16) = (
                row.try_get(0).map_err(map_err("reading a consumer"))?,
                row.try_get(1).map_err(map_err("reading a consumer"))?,
            );
            if stored != (tenant.map(str::to_owned), i16::from(spec.partitions)) {
                return Err(Error::Conflict {
                    fields: vec!["name".into()],
                });
            }
            return Ok(());
        }
        sqlx::query(NEW_CURSORS)
            .bind(&spec.name)
            .bind(true)
            .execute(&mut *tx)
            .await
            .map_err(map_err("registering a consumer"))?;
        commit(tx).await
    }

    async fn remove_consumer(&self, name: &str) -> Result<bool> {
        let removed = sqlx::query("DELETE FROM event_consumers WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(map_err("removing a consumer"))?
            .rows_affected();
        Ok(removed > 0)
    }

    async fn lease_cursor(
        &self,
        consumer: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<LeasedCursor>> {
        sqlx::query(NEW_CURSORS)
            .bind(consumer)
            .bind(false)
            .execute(&self.pool)
            .await
            .map_err(map_err("leasing a cursor"))?;
        let row = sqlx::query(
            "UPDATE event_cursors c SET lease_owner = $2, lease_until = $4, claimed_at = $3 \
             FROM (SELECT e.consumer, e.tenant_id, e.part FROM event_cursors e \
                   JOIN outbox_counters o ON o.tenant_id = e.tenant_id \
                   WHERE e.consumer = $1 AND (e.lease_until IS NULL OR e.lease_until <= $3) \
                   AND e.position < o.last \
                   ORDER BY e.claimed_at NULLS FIRST LIMIT 1 FOR UPDATE OF e SKIP LOCKED) pick, \
                  event_consumers k \
             WHERE c.consumer = pick.consumer AND c.tenant_id = pick.tenant_id AND c.part = pick.part \
             AND k.name = c.consumer \
             RETURNING c.tenant_id, c.part, c.position, k.partitions",
        )
        .bind(consumer)
        .bind(owner)
        .bind(now)
        .bind(lease_until)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("leasing a cursor"))?;
        let Some(row) = row else { return Ok(None) };
        let get = |e: sqlx::Error| map_err("leasing a cursor")(e);
        let tenant: String = row.try_get(0).map_err(get)?;
        let part: i16 = row.try_get(1).map_err(get)?;
        let position: i64 = row.try_get(2).map_err(get)?;
        let partitions: i16 = row.try_get(3).map_err(get)?;
        Ok(Some(LeasedCursor {
            tenant_id: TenantId::new(tenant).map_err(|_| corrupt("reading a cursor", "tenant"))?,
            part: u8::try_from(part).map_err(|_| corrupt("reading a cursor", "part"))?,
            partitions: u8::try_from(partitions)
                .map_err(|_| corrupt("reading a cursor", "partitions"))?,
            position: to_u64(position),
        }))
    }

    async fn release_cursor(
        &self,
        consumer: &str,
        cursor: &LeasedCursor,
        owner: &str,
        position: u64,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let moved = sqlx::query(
            "UPDATE event_cursors SET position = greatest(position, $5), lease_owner = NULL, \
             lease_until = $6 WHERE consumer = $1 AND tenant_id = $2 AND part = $3 AND lease_owner = $4",
        )
        .bind(consumer)
        .bind(cursor.tenant_id.as_str())
        .bind(i16::from(cursor.part))
        .bind(owner)
        .bind(to_i64(position))
        .bind(retry_at)
        .execute(&self.pool)
        .await
        .map_err(map_err("moving a cursor"))?
        .rows_affected();
        Ok(moved > 0)
    }

    async fn read_events(
        &self,
        tenant: &TenantId,
        after: u64,
        part: u8,
        partitions: u8,
        limit: u32,
    ) -> Result<EventBatch> {
        // Ids up to the last one are all committed and visible: read it first.
        let top = self.last_event_id(tenant).await?;
        let rows = sqlx::query(
            "SELECT o.id AS outbox_id, a.tenant_id, a.id, a.target_kind, a.target_id, a.actor_kind, \
             a.actor_id, a.impersonator_id, a.action, a.changes, a.created_at \
             FROM outbox_events o JOIN audit_events a ON a.tenant_id = o.tenant_id AND a.id = o.event_id \
             WHERE o.tenant_id = $1 AND o.id > $2 AND o.id <= $3 AND o.shard % $4 = $5 \
             ORDER BY o.id LIMIT $6",
        )
        .bind(tenant.as_str())
        .bind(to_i64(after))
        .bind(to_i64(top))
        .bind(i16::from(partitions.max(1)))
        .bind(i16::from(part))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("reading the outbox"))?;
        let events = rows
            .iter()
            .map(|row| {
                let id: i64 = row
                    .try_get("outbox_id")
                    .map_err(map_err("reading the outbox"))?;
                Ok(Event {
                    id: to_u64(id),
                    audit: decode(row)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(EventBatch::read(events, after, top, limit))
    }

    async fn last_event_id(&self, tenant: &TenantId) -> Result<u64> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT last FROM outbox_counters WHERE tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err("reading the outbox"))?;
        Ok(last.map(to_u64).unwrap_or(0))
    }

    async fn prune_events(&self, before: DateTime<Utc>, limit: u32) -> Result<u64> {
        // Every consumer's cursors first (a tenant a consumer has not looked at yet holds its
        // events at 0), so the minimum below covers every consumer.
        sqlx::query(NEW_CURSORS)
            .bind(None::<&str>)
            .bind(false)
            .execute(&self.pool)
            .await
            .map_err(map_err("pruning the outbox"))?;
        let deliveries = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE (tenant_id, id) IN ( \
             SELECT tenant_id, id FROM webhook_deliveries WHERE status <> 'pending' \
             AND created_at < $1 LIMIT $2)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(map_err("pruning deliveries"))?
        .rows_affected();
        let events = sqlx::query(
            "DELETE FROM outbox_events WHERE (tenant_id, id) IN ( \
             SELECT o.tenant_id, o.id FROM outbox_events o WHERE o.created_at < $1 \
             AND o.id <= COALESCE((SELECT min(e.position) FROM event_cursors e WHERE e.tenant_id = o.tenant_id), o.id) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.tenant_id = o.tenant_id \
                             AND d.event_id = o.id AND d.status = 'pending') \
             LIMIT $2)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(map_err("pruning the outbox"))?
        .rows_affected();
        Ok(deliveries + events)
    }
}
