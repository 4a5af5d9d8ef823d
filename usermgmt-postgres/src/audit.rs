//! `AuditStore` on PostgreSQL.

use async_trait::async_trait;
use sqlx::{PgConnection, Row};
use usermgmt_core::model::{AuditActor, AuditEvent, TenantId};
use usermgmt_core::storage::AuditStore;
use usermgmt_core::{Result, StorageError};
use uuid::Uuid;

use crate::PgStorage;
use crate::codec::parse;
use crate::error::{corrupt, map_err};

/// The actor as stored: `actor_kind` and `actor_id`.
pub(crate) fn actor_columns(actor: AuditActor) -> (&'static str, Option<Uuid>) {
    actor.columns()
}

/// The diff as stored in `changes` (JSON).
pub(crate) fn changes_json(event: &AuditEvent) -> Result<serde_json::Value> {
    serde_json::to_value(&event.changes)
        .map_err(|e| usermgmt_core::Error::Storage(StorageError::new("encoding an audit diff", e)))
}

/// Appends an event (inside the caller's transaction).
pub(crate) async fn insert_event(conn: &mut PgConnection, event: &AuditEvent) -> Result<()> {
    insert_events(conn, event, &[event.id], &[event.target_id]).await
}

/// Writes `template` once per target (each with a fresh id) in one statement.
pub(crate) async fn insert_events_for(
    conn: &mut PgConnection,
    template: &AuditEvent,
    targets: &[Uuid],
) -> Result<()> {
    let ids: Vec<Uuid> = targets.iter().map(|_| Uuid::now_v7()).collect();
    insert_events(conn, template, &ids, targets).await
}

/// Writes `template` with each id and target in turn (in order), in one statement.
async fn insert_events(
    conn: &mut PgConnection,
    template: &AuditEvent,
    ids: &[Uuid],
    targets: &[Uuid],
) -> Result<()> {
    let (actor_kind, actor_id) = actor_columns(template.actor);
    sqlx::query(
        "INSERT INTO audit_events (tenant_id, id, target_kind, target_id, actor_kind, actor_id, impersonator_id, \
         action, changes, created_at) SELECT $1, x.id, $3, x.target, $4, $5, $6, $7, $8, $9 \
         FROM unnest($2::uuid[], $10::uuid[]) WITH ORDINALITY AS x(id, target, n) ORDER BY x.n",
    )
    .bind(template.tenant_id.as_str())
    .bind(ids)
    .bind(template.target_kind.as_str())
    .bind(actor_kind)
    .bind(actor_id)
    .bind(template.impersonator_id)
    .bind(template.action.as_str())
    .bind(changes_json(template)?)
    .bind(template.created_at)
    .bind(targets)
    .execute(conn)
    .await
    .map_err(map_err("writing audit events"))?;
    Ok(())
}

pub(crate) fn decode(row: &sqlx::postgres::PgRow) -> Result<AuditEvent> {
    let get = |e: sqlx::Error| map_err("decoding an audit event")(e);
    let actor_kind: String = row.try_get("actor_kind").map_err(get)?;
    let actor_id: Option<Uuid> = row.try_get("actor_id").map_err(get)?;
    let actor = AuditActor::from_columns(&actor_kind, actor_id)
        .ok_or_else(|| corrupt("decoding an audit actor", actor_kind))?;
    let tenant: String = row.try_get("tenant_id").map_err(get)?;
    let kind: String = row.try_get("target_kind").map_err(get)?;
    let action: String = row.try_get("action").map_err(get)?;
    let changes: serde_json::Value = row.try_get("changes").map_err(get)?;
    Ok(AuditEvent {
        id: row.try_get("id").map_err(get)?,
        tenant_id: TenantId::new(tenant)
            .map_err(|_| corrupt("decoding an audit event", "tenant"))?,
        target_kind: parse("decoding an audit target", &kind)?,
        target_id: row.try_get("target_id").map_err(get)?,
        actor,
        impersonator_id: row.try_get("impersonator_id").map_err(get)?,
        action: parse("decoding an audit action", &action)?,
        changes: serde_json::from_value(changes)
            .map_err(|e| corrupt("decoding an audit diff", e.to_string()))?,
        created_at: row.try_get("created_at").map_err(get)?,
    })
}

#[async_trait]
impl AuditStore for PgStorage {
    async fn insert_audit(&self, tenant: &TenantId, event: AuditEvent) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &event.tenant_id)?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(map_err("taking a connection"))?;
        insert_event(&mut conn, &event).await
    }

    async fn list_audit(
        &self,
        tenant: &TenantId,
        target_id: Uuid,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<AuditEvent>, u64)> {
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND target_id = $2",
        )
        .bind(tenant.as_str())
        .bind(target_id)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err("counting audit events"))?;
        let rows = sqlx::query(
            "SELECT tenant_id, id, target_kind, target_id, actor_kind, actor_id, impersonator_id, action, changes, \
             created_at FROM audit_events WHERE tenant_id = $1 AND target_id = $2 ORDER BY seq DESC LIMIT $3 OFFSET $4",
        )
        .bind(tenant.as_str())
        .bind(target_id)
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("listing audit events"))?;
        let events = rows.iter().map(decode).collect::<Result<Vec<_>>>()?;
        Ok((events, u64::try_from(total).unwrap_or(0)))
    }
}
