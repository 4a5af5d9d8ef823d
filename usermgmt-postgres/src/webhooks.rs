//! `WebhookStore` on PostgreSQL (migration 9); deliveries are claimed with
//! `FOR UPDATE SKIP LOCKED`, so instances never claim the same one at once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use usermgmt_core::Result;
use usermgmt_core::model::{AuditEvent, Event, TenantId, WebhookDelivery, WebhookEndpoint};
use usermgmt_core::storage::{DueDelivery, FinishedAttempt, QueuedDelivery, WebhookStore};
use uuid::Uuid;

use crate::PgStorage;
use crate::audit::{decode, insert_event};
use crate::codec::parse;
use crate::error::{corrupt, map_err};
use crate::tx::commit;

const ENDPOINT: &str = "SELECT id, tenant_id, url, kinds, enabled, created_by, created_at, \
     updated_at, since_event_id FROM webhook_endpoints";

fn endpoint(row: &PgRow) -> Result<WebhookEndpoint> {
    let get = |e: sqlx::Error| map_err("decoding a webhook")(e);
    let tenant: String = row.try_get("tenant_id").map_err(get)?;
    let kinds: Vec<String> = row.try_get("kinds").map_err(get)?;
    Ok(WebhookEndpoint {
        id: row.try_get("id").map_err(get)?,
        tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a webhook", "tenant"))?,
        url: row.try_get("url").map_err(get)?,
        kinds: kinds
            .iter()
            .map(|k| parse("decoding webhook kinds", k))
            .collect::<Result<_>>()?,
        enabled: row.try_get("enabled").map_err(get)?,
        created_by: row.try_get("created_by").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
        since_event_id: u64::try_from(row.try_get::<i64, _>("since_event_id").map_err(get)?)
            .unwrap_or(0),
    })
}

fn kinds(endpoint: &WebhookEndpoint) -> Vec<&'static str> {
    endpoint.kinds.iter().map(|k| k.as_str()).collect()
}

const DELIVERY: &str = "d.id AS delivery_id, d.endpoint_id, d.event_id, d.kind, d.status, \
     d.attempts, d.next_attempt_at, d.last_attempt_at, d.response_status, d.error, \
     d.created_at AS queued_at";

fn delivery(row: &PgRow) -> Result<WebhookDelivery> {
    let get = |e: sqlx::Error| map_err("decoding a delivery")(e);
    let event_id: i64 = row.try_get("event_id").map_err(get)?;
    let kind: String = row.try_get("kind").map_err(get)?;
    let status: String = row.try_get("status").map_err(get)?;
    let attempts: i32 = row.try_get("attempts").map_err(get)?;
    let response: Option<i32> = row.try_get("response_status").map_err(get)?;
    Ok(WebhookDelivery {
        id: row.try_get("delivery_id").map_err(get)?,
        endpoint_id: row.try_get("endpoint_id").map_err(get)?,
        event_id: u64::try_from(event_id).unwrap_or(0),
        kind: parse("decoding a delivery kind", &kind)?,
        status: parse("decoding a delivery status", &status)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: row.try_get("next_attempt_at").map_err(get)?,
        last_attempt_at: row.try_get("last_attempt_at").map_err(get)?,
        response_status: response.and_then(|s| u16::try_from(s).ok()),
        error: row.try_get("error").map_err(get)?,
        created_at: row.try_get("queued_at").map_err(get)?,
    })
}

#[async_trait]
impl WebhookStore for PgStorage {
    async fn insert_webhook(
        &self,
        e: &WebhookEndpoint,
        secret: &str,
        audit: AuditEvent,
    ) -> Result<u64> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (tenant_id, id, url, kinds, enabled, secret, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(e.tenant_id.as_str())
        .bind(e.id)
        .bind(&e.url)
        .bind(kinds(e))
        .bind(e.enabled)
        .bind(secret)
        .bind(e.created_by)
        .bind(e.created_at)
        .bind(e.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err("inserting a webhook"))?;
        insert_event(&mut tx, &audit).await?;
        // Number this transaction's events now (migration 10 would at commit), so the
        // endpoint starts after its own creation event; the counter stays held to commit.
        sqlx::raw_sql("SET CONSTRAINTS outbox_number_at_commit IMMEDIATE")
            .execute(&mut *tx)
            .await
            .map_err(map_err("inserting a webhook"))?;
        let since: i64 = sqlx::query_scalar(
            "UPDATE webhook_endpoints SET since_event_id = \
             (SELECT last FROM outbox_counters WHERE tenant_id = $1) \
             WHERE tenant_id = $1 AND id = $2 RETURNING since_event_id",
        )
        .bind(e.tenant_id.as_str())
        .bind(e.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err("inserting a webhook"))?;
        commit(tx).await?;
        Ok(u64::try_from(since).unwrap_or(0))
    }

    async fn get_webhook(&self, tenant: &TenantId, id: Uuid) -> Result<Option<WebhookEndpoint>> {
        let sql = format!("{ENDPOINT} WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err("reading a webhook"))?;
        row.as_ref().map(endpoint).transpose()
    }

    async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>> {
        let sql = format!("{ENDPOINT} WHERE tenant_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err("listing webhooks"))?;
        rows.iter().map(endpoint).collect()
    }

    async fn update_webhook(&self, e: &WebhookEndpoint, audit: AuditEvent) -> Result<bool> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE webhook_endpoints SET url = $3, kinds = $4, enabled = $5, updated_at = $6 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(e.tenant_id.as_str())
        .bind(e.id)
        .bind(&e.url)
        .bind(kinds(e))
        .bind(e.enabled)
        .bind(e.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err("updating a webhook"))?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, &audit).await?;
        commit(tx).await?;
        Ok(true)
    }

    async fn delete_webhook(&self, tenant: &TenantId, id: Uuid, audit: AuditEvent) -> Result<bool> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err("deleting a webhook"))?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, &audit).await?;
        commit(tx).await?;
        Ok(true)
    }

    async fn queue_deliveries(
        &self,
        tenant: &TenantId,
        rows: &[QueuedDelivery],
        again: bool,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let ids: Vec<Uuid> = rows.iter().map(|_| Uuid::now_v7()).collect();
        let endpoints: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
        let events: Vec<i64> = rows
            .iter()
            .map(|r| i64::try_from(r.1).unwrap_or(i64::MAX))
            .collect();
        let kinds: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        let on_conflict = if again {
            "DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = $6, error = NULL, \
             response_status = NULL"
        } else {
            "DO NOTHING"
        };
        let sql = format!(
            "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id, kind, status, \
             attempts, next_attempt_at, created_at) \
             SELECT $1, x.id, x.endpoint, x.event, x.kind, 'pending', 0, $6, $6 \
             FROM unnest($2::uuid[], $3::uuid[], $4::bigint[], $5::text[]) AS x(id, endpoint, event, kind) \
             ON CONFLICT (endpoint_id, event_id) {on_conflict}"
        );
        let queued = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(ids)
            .bind(endpoints)
            .bind(events)
            .bind(kinds)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err("queueing deliveries"))?
            .rows_affected();
        Ok(queued)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery>> {
        let mut tx = self.begin().await?;
        let claimed: Vec<(String, Uuid)> = sqlx::query_as(
            "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = $2, \
             last_attempt_at = $1 FROM ( \
               SELECT d.tenant_id, d.id FROM webhook_deliveries d \
               JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled \
               JOIN outbox_events o ON o.tenant_id = d.tenant_id AND o.id = d.event_id \
               WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
               ORDER BY d.next_attempt_at LIMIT $3 FOR UPDATE OF d SKIP LOCKED) due \
             WHERE d.tenant_id = due.tenant_id AND d.id = due.id RETURNING d.tenant_id, d.id",
        )
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err("claiming deliveries"))?;
        let ids: Vec<Uuid> = claimed.iter().map(|c| c.1).collect();
        let sql = format!(
            "SELECT {DELIVERY}, w.url, w.secret, o.id AS outbox_id, a.tenant_id, a.id, \
             a.target_kind, a.target_id, a.actor_kind, a.actor_id, a.impersonator_id, a.action, \
             a.changes, a.created_at \
             FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id \
             JOIN outbox_events o ON o.tenant_id = d.tenant_id AND o.id = d.event_id \
             JOIN audit_events a ON a.tenant_id = o.tenant_id AND a.id = o.event_id \
             WHERE d.id = ANY($1) ORDER BY d.next_attempt_at"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err("claiming deliveries"))?;
        commit(tx).await?;
        rows.iter()
            .map(|row| {
                let get = |e: sqlx::Error| map_err("claiming deliveries")(e);
                let outbox_id: i64 = row.try_get("outbox_id").map_err(get)?;
                let event = Event {
                    id: u64::try_from(outbox_id).unwrap_or(0),
                    audit: decode(row)?,
                };
                Ok(DueDelivery {
                    delivery: delivery(row)?,
                    tenant_id: event.audit.tenant_id.clone(),
                    url: row.try_get("url").map_err(get)?,
                    secret: row.try_get("secret").map_err(get)?,
                    event,
                })
            })
            .collect()
    }

    async fn finish_deliveries(&self, finished: &[FinishedAttempt]) -> Result<u64> {
        let mut tenants = Vec::with_capacity(finished.len());
        let mut ids = Vec::with_capacity(finished.len());
        let mut attempts = Vec::with_capacity(finished.len());
        let mut statuses = Vec::with_capacity(finished.len());
        let mut responses: Vec<Option<i32>> = Vec::with_capacity(finished.len());
        let mut errors: Vec<Option<String>> = Vec::with_capacity(finished.len());
        let mut nexts: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(finished.len());
        for f in finished {
            let (status, response, error, next) = f.outcome.recorded();
            tenants.push(f.tenant_id.as_str().to_owned());
            ids.push(f.id);
            attempts.push(i32::try_from(f.attempts).unwrap_or(i32::MAX));
            statuses.push(status.as_str());
            responses.push(response.map(i32::from));
            errors.push(error.map(str::to_owned));
            nexts.push(next);
        }
        let recorded = sqlx::query(
            "UPDATE webhook_deliveries d SET status = x.status, response_status = x.response, \
             error = x.error, next_attempt_at = x.next \
             FROM unnest($1::text[], $2::uuid[], $3::int[], $4::text[], $5::int[], $6::text[], \
                          $7::timestamptz[]) AS x(tenant, id, attempts, status, response, error, next) \
             WHERE d.tenant_id = x.tenant AND d.id = x.id AND d.status = 'pending' \
             AND d.attempts = x.attempts",
        )
        .bind(tenants)
        .bind(ids)
        .bind(attempts)
        .bind(statuses)
        .bind(responses)
        .bind(errors)
        .bind(nexts)
        .execute(&self.pool)
        .await
        .map_err(map_err("recording deliveries"))?
        .rows_affected();
        Ok(recorded)
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: Uuid,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let sql = format!(
            "SELECT {DELIVERY} FROM webhook_deliveries d WHERE d.tenant_id = $1 \
             AND d.endpoint_id = $2 ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(endpoint)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(map_err("listing deliveries"))?;
        rows.iter().map(delivery).collect()
    }

    async fn redeliver(
        &self,
        tenant: &TenantId,
        endpoint: Uuid,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let changed = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $4, \
             error = NULL, response_status = NULL \
             WHERE tenant_id = $1 AND endpoint_id = $2 AND id = $3 \
             AND EXISTS (SELECT 1 FROM outbox_events o WHERE o.tenant_id = $1 \
                         AND o.id = webhook_deliveries.event_id)",
        )
        .bind(tenant.as_str())
        .bind(endpoint)
        .bind(delivery)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err("redelivering"))?
        .rows_affected();
        Ok(changed > 0)
    }
}
