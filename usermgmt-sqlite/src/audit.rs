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

/// Appends events given as [`event_values`] rows, in multi-row `INSERT`s (inside the caller's
/// transaction).
pub(crate) fn insert_event_rows(
    conn: &Connection,
    rows: &[Vec<rusqlite::types::Value>],
) -> Result<()> {
    for chunk in rows.chunks(EVENTS_PER_INSERT) {
        let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let sql = format!(
            "INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES {}",
            vec![row; chunk.len()].join(", ")
        );
        conn.prepare_cached(&sql)
            .and_then(|mut s| s.execute(rusqlite::params_from_iter(chunk.iter().flatten())))
            .map_err(map_err("writing audit events"))?;
    }
    Ok(())
}

/// Appends an event on `conn` (inside the caller's transaction).
pub(crate) fn insert_event(conn: &Connection, event: &AuditEvent) -> Result<()> {
    let values = event_values(event)?;
    conn.prepare_cached(&format!(
        "INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .and_then(|mut s| s.execute(rusqlite::params_from_iter(values.iter())))
    .map_err(map_err("writing an audit event"))?;
    Ok(())
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
