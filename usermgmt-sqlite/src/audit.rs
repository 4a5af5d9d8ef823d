//! `AuditStore` on SQLite.

use async_trait::async_trait;
use rusqlite::{Connection, params};
use usermgmt_core::model::{AuditActor, AuditEvent, TenantId};
use usermgmt_core::storage::AuditStore;
use usermgmt_core::{Result, StorageError};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::codec::{from_micros, micros, parse};
use crate::error::{corrupt, map_err};

/// The columns of an audit row, in the order [`event_values`] gives them.
pub(crate) const EVENT_COLUMNS: &str = "id, tenant_id, target_kind, target_id, actor_kind, \
    actor_id, impersonator_id, action, changes, created_at";

/// An audit event's row values, in [`EVENT_COLUMNS`] order.
pub(crate) fn event_values(event: &AuditEvent) -> Result<Vec<rusqlite::types::Value>> {
    let (actor_kind, actor_id) = event.actor.columns();
    let changes = serde_json::to_string(&event.changes).map_err(|e| {
        usermgmt_core::Error::Storage(StorageError::new("encoding an audit diff", e))
    })?;
    let uuid = crate::query::uuid_value;
    Ok(vec![
        uuid(event.id),
        event.tenant_id.as_str().to_owned().into(),
        event.target_kind.as_str().to_owned().into(),
        uuid(event.target_id),
        actor_kind.to_owned().into(),
        actor_id.map(uuid).into(),
        event.impersonator_id.map(uuid).into(),
        event.action.as_str().to_owned().into(),
        changes.into(),
        micros(event.created_at).into(),
    ])
}

/// Rows per multi-row audit `INSERT` (10 values each, far below SQLite's variable limit).
const EVENTS_PER_INSERT: usize = 200;

/// Appends events given as [`event_values`] rows, in multi-row `INSERT`s, and announces them
/// in the outbox (inside the caller's transaction). Every audit write of this backend goes
/// through here: the outbox rows are written set-based per tenant (a row trigger cost a
/// counter upsert and an insert per event: 0.2 s for the 10,000 events of a bulk delete).
pub(crate) fn insert_event_rows(
    conn: &Connection,
    rows: &[Vec<rusqlite::types::Value>],
) -> Result<()> {
    let mut by_tenant: std::collections::BTreeMap<&str, Vec<&Vec<rusqlite::types::Value>>> =
        std::collections::BTreeMap::new();
    for row in rows {
        let tenant = match row.get(1) {
            Some(rusqlite::types::Value::Text(tenant)) => tenant.as_str(),
            _ => return Err(corrupt("writing audit events", "a row without its tenant")),
        };
        by_tenant.entry(tenant).or_default().push(row);
    }
    for (tenant, rows) in by_tenant {
        let before: i64 = conn
            .prepare_cached("SELECT coalesce(max(seq), 0) FROM audit_events")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(map_err("writing audit events"))?;
        for chunk in rows.chunks(EVENTS_PER_INSERT) {
            let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
            let sql = format!(
                "INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES {}",
                vec![row; chunk.len()].join(", ")
            );
            conn.prepare_cached(&sql)
                .and_then(|mut s| {
                    s.execute(rusqlite::params_from_iter(chunk.iter().copied().flatten()))
                })
                .map_err(map_err("writing audit events"))?;
        }
        announce(conn, tenant, before, rows.len())?;
    }
    Ok(())
}

/// Writes the outbox rows of `tenant`'s audit events written after `seq` `before` (`count` of
/// them, in this transaction): the tenant's counter moves up by `count` and the events take
/// the ids after its old value, in the order they were written (SQLite has one writer at a
/// time, so ids count up without gaps in commit order).
fn announce(conn: &Connection, tenant: &str, before: i64, count: usize) -> Result<()> {
    let count = i64::try_from(count).map_err(|_| corrupt("announcing events", "too many"))?;
    let last: i64 = conn
        .prepare_cached(
            "INSERT INTO outbox_counters (tenant_id, last) VALUES (?1, ?2) \
             ON CONFLICT (tenant_id) DO UPDATE SET last = last + excluded.last RETURNING last",
        )
        .and_then(|mut s| s.query_row(params![tenant, count], |r| r.get(0)))
        .map_err(map_err("announcing events"))?;
    conn.prepare_cached(
        "INSERT INTO outbox_events (tenant_id, id, event_id, shard, created_at) \
         SELECT tenant_id, ?3 + row_number() OVER (ORDER BY seq), id, \
                instr('0123456789ABCDEF', substr(hex(target_id), 32, 1)) - 1, created_at \
         FROM audit_events WHERE seq > ?2 AND tenant_id = ?1 ORDER BY seq",
    )
    .and_then(|mut s| s.execute(params![tenant, before, last - count]))
    .map_err(map_err("announcing events"))?;
    Ok(())
}

/// Appends an event on `conn` and announces it (inside the caller's transaction).
pub(crate) fn insert_event(conn: &Connection, event: &AuditEvent) -> Result<()> {
    insert_event_rows(conn, &[event_values(event)?])
}

pub(crate) type RawEvent = (
    Uuid,
    String,
    String,
    Uuid,
    String,
    Option<Uuid>,
    Option<Uuid>,
    String,
    String,
    i64,
);

pub(crate) fn decode(raw: RawEvent) -> Result<AuditEvent> {
    let (id, tenant, kind, target_id, actor_kind, actor_id, impersonator_id, action, changes, at) =
        raw;
    let actor = AuditActor::from_columns(&actor_kind, actor_id)
        .ok_or_else(|| corrupt("decoding an audit actor", actor_kind))?;
    Ok(AuditEvent {
        id,
        tenant_id: TenantId::new(tenant)
            .map_err(|_| corrupt("decoding an audit event", "tenant"))?,
        target_kind: parse("decoding an audit target", &kind)?,
        target_id,
        actor,
        impersonator_id,
        action: parse("decoding an audit action", &action)?,
        changes: serde_json::from_str(&changes)
            .map_err(|e| corrupt("decoding an audit diff", e.to_string()))?,
        created_at: from_micros(at)?,
    })
}

#[async_trait]
impl AuditStore for SqliteStorage {
    async fn insert_audit(&self, tenant: &TenantId, event: AuditEvent) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &event.tenant_id)?;
        self.pool.run(move |conn| insert_event(conn, &event)).await
    }

    async fn list_audit(
        &self,
        tenant: &TenantId,
        target_id: Uuid,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<AuditEvent>, u64)> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let total: i64 = conn
                    .prepare_cached("SELECT count(*) FROM audit_events WHERE tenant_id = ?1 AND target_id = ?2")
                    .and_then(|mut s| s.query_row(params![tenant, target_id], |r| r.get(0)))
                    .map_err(map_err("counting audit events"))?;
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, tenant_id, target_kind, target_id, actor_kind, actor_id, impersonator_id, \
                         action, changes, created_at FROM audit_events WHERE tenant_id = ?1 AND target_id = ?2 \
                         ORDER BY seq DESC LIMIT ?3 OFFSET ?4",
                    )
                    .map_err(map_err("listing audit events"))?;
                let offset = i64::try_from(offset).unwrap_or(i64::MAX);
                let raws = stmt
                    .query_map(params![tenant, target_id, limit, offset], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
                    })
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<RawEvent>>>())
                    .map_err(map_err("listing audit events"))?;
                let events = raws.into_iter().map(decode).collect::<Result<Vec<_>>>()?;
                Ok((events, u64::try_from(total).unwrap_or(0)))
            })
            .await
    }
}
