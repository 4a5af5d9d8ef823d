//! `WebhookStore` on SQLite (migration 11).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use usermgmt_core::Result;
use usermgmt_core::model::{AuditEvent, Event, TenantId, WebhookDelivery, WebhookEndpoint};
use usermgmt_core::storage::{DueDelivery, FinishedAttempt, QueuedDelivery, WebhookStore};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::audit::{RawEvent, decode, insert_event};
use crate::codec::{from_micros, micros, opt_from_micros, parse};
use crate::error::{corrupt, map_err};

const ENDPOINT: &str = "SELECT id, tenant_id, url, kinds, enabled, created_by, created_at, \
     updated_at, since_event_id FROM webhook_endpoints";

/// An endpoint row in [`ENDPOINT`]'s column order (read with rusqlite's tuple `TryFrom`).
type RawEndpoint = (Uuid, String, String, String, bool, Uuid, i64, i64, i64);

fn endpoint(raw: RawEndpoint) -> Result<WebhookEndpoint> {
    let (id, tenant, url, kinds, enabled, created_by, created_at, updated_at, since) = raw;
    Ok(WebhookEndpoint {
        id,
        tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a webhook", "tenant"))?,
        url,
        kinds: serde_json::from_str(&kinds)
            .map_err(|e| corrupt("decoding webhook kinds", e.to_string()))?,
        enabled,
        created_by,
        created_at: from_micros(created_at)?,
        updated_at: from_micros(updated_at)?,
        since_event_id: u64::try_from(since).unwrap_or(0),
    })
}

fn kinds_json(endpoint: &WebhookEndpoint) -> Result<String> {
    serde_json::to_string(&endpoint.kinds)
        .map_err(|e| corrupt("encoding webhook kinds", e.to_string()))
}

const DELIVERY: &str = "d.id, d.endpoint_id, d.event_id, d.kind, d.status, d.attempts, \
     d.next_attempt_at, d.last_attempt_at, d.response_status, d.error, d.created_at";

/// A delivery row in [`DELIVERY`]'s column order (read with rusqlite's tuple `TryFrom`, which
/// takes the leading columns).
type RawDelivery = (
    Uuid,
    Uuid,
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
);

fn delivery(raw: RawDelivery) -> Result<WebhookDelivery> {
    let (id, endpoint_id, event_id, kind, status, attempts, next, last, response, error, at) = raw;
    Ok(WebhookDelivery {
        id,
        endpoint_id,
        event_id: u64::try_from(event_id).unwrap_or(0),
        kind: parse("decoding a delivery kind", &kind)?,
        status: parse("decoding a delivery status", &status)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: opt_from_micros(next)?,
        last_attempt_at: opt_from_micros(last)?,
        response_status: response.and_then(|s| u16::try_from(s).ok()),
        error,
        created_at: from_micros(at)?,
    })
}

#[async_trait]
impl WebhookStore for SqliteStorage {
    async fn insert_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        secret: &str,
        audit: AuditEvent,
    ) -> Result<u64> {
        let (e, secret, kinds) = (endpoint.clone(), secret.to_owned(), kinds_json(endpoint)?);
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                tx.execute(
                    "INSERT INTO webhook_endpoints (id, tenant_id, url, kinds, enabled, secret, \
                     created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        e.id,
                        e.tenant_id.as_str(),
                        e.url,
                        kinds,
                        e.enabled,
                        secret,
                        e.created_by,
                        micros(e.created_at),
                        micros(e.updated_at)
                    ],
                )
                .map_err(map_err("inserting a webhook"))?;
                insert_event(&tx, &audit)?;
                let since: i64 = tx
                    .query_row(
                        "UPDATE webhook_endpoints SET since_event_id = \
                         (SELECT last FROM outbox_counters WHERE tenant_id = ?1) \
                         WHERE id = ?2 RETURNING since_event_id",
                        params![e.tenant_id.as_str(), e.id],
                        |r| r.get(0),
                    )
                    .map_err(map_err("inserting a webhook"))?;
                crate::pool::commit(tx)?;
                Ok(u64::try_from(since).unwrap_or(0))
            })
            .await
    }

    async fn get_webhook(&self, tenant: &TenantId, id: Uuid) -> Result<Option<WebhookEndpoint>> {
        let tenant = tenant.as_str().to_owned();
        let raw = self
            .pool
            .run(move |conn| {
                conn.prepare_cached(&format!("{ENDPOINT} WHERE tenant_id = ?1 AND id = ?2"))
                    .and_then(|mut s| {
                        s.query_row(params![tenant, id], |r| RawEndpoint::try_from(r))
                            .optional()
                    })
                    .map_err(map_err("reading a webhook"))
            })
            .await?;
        raw.map(endpoint).transpose()
    }

    async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>> {
        let tenant = tenant.as_str().to_owned();
        let raws = self
            .pool
            .run(move |conn| {
                conn.prepare_cached(&format!(
                    "{ENDPOINT} WHERE tenant_id = ?1 ORDER BY created_at, id"
                ))
                .and_then(|mut s| {
                    s.query_map(params![tenant], |r| RawEndpoint::try_from(r))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(map_err("listing webhooks"))
            })
            .await?;
        raws.into_iter().map(endpoint).collect()
    }

    async fn update_webhook(&self, endpoint: &WebhookEndpoint, audit: AuditEvent) -> Result<bool> {
        let (e, kinds) = (endpoint.clone(), kinds_json(endpoint)?);
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let changed = tx
                    .execute(
                        "UPDATE webhook_endpoints SET url = ?3, kinds = ?4, enabled = ?5, \
                         updated_at = ?6 WHERE tenant_id = ?1 AND id = ?2",
                        params![
                            e.tenant_id.as_str(),
                            e.id,
                            e.url,
                            kinds,
                            e.enabled,
                            micros(e.updated_at)
                        ],
                    )
                    .map_err(map_err("updating a webhook"))?;
                if changed == 0 {
                    return Ok(false);
                }
                insert_event(&tx, &audit)?;
                crate::pool::commit(tx)?;
                Ok(true)
            })
            .await
    }

    async fn delete_webhook(&self, tenant: &TenantId, id: Uuid, audit: AuditEvent) -> Result<bool> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                tx.execute(
                    "DELETE FROM webhook_deliveries WHERE tenant_id = ?1 AND endpoint_id = ?2",
                    params![tenant, id],
                )
                .map_err(map_err("deleting a webhook"))?;
                let deleted = tx
                    .execute(
                        "DELETE FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2",
                        params![tenant, id],
                    )
                    .map_err(map_err("deleting a webhook"))?;
                if deleted == 0 {
                    return Ok(false);
                }
                insert_event(&tx, &audit)?;
                crate::pool::commit(tx)?;
                Ok(true)
            })
            .await
    }

    async fn queue_deliveries(
        &self,
        tenant: &TenantId,
        rows: &[QueuedDelivery],
        again: bool,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let (tenant, rows) = (tenant.as_str().to_owned(), rows.to_vec());
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let sql = if again {
                    "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, kind, \
                     status, attempts, next_attempt_at, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6) \
                     ON CONFLICT (endpoint_id, event_id) DO UPDATE SET status = 'pending', \
                     attempts = 0, next_attempt_at = ?6, error = NULL, response_status = NULL"
                } else {
                    "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, kind, \
                     status, attempts, next_attempt_at, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6) \
                     ON CONFLICT (endpoint_id, event_id) DO NOTHING"
                };
                let mut queued = 0;
                {
                    let mut statement = tx
                        .prepare_cached(sql)
                        .map_err(map_err("queueing deliveries"))?;
                    for (endpoint, event, kind) in &rows {
                        queued += statement
                            .execute(params![
                                Uuid::now_v7(),
                                tenant,
                                endpoint,
                                i64::try_from(*event).unwrap_or(i64::MAX),
                                kind.as_str(),
                                micros(now)
                            ])
                            .map_err(map_err("queueing deliveries"))?;
                    }
                }
                crate::pool::commit(tx)?;
                Ok(u64::try_from(queued).unwrap_or(0))
            })
            .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery>> {
        let rows = self
            .pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let rows = tx
                    .prepare_cached(&format!(
                        "SELECT {DELIVERY}, w.tenant_id, w.url, w.secret, o.id, a.id, a.tenant_id, \
                         a.target_kind, a.target_id, a.actor_kind, a.actor_id, a.impersonator_id, \
                         a.action, a.changes, a.created_at \
                         FROM webhook_deliveries d \
                         JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled \
                         JOIN outbox_events o ON o.tenant_id = d.tenant_id AND o.id = d.event_id \
                         JOIN audit_events a ON a.id = o.event_id \
                         WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 \
                         ORDER BY d.next_attempt_at LIMIT ?2"
                    ))
                    .and_then(|mut s| {
                        s.query_map(params![micros(now), limit], |r| {
                            let raw: RawEvent = (
                                r.get(15)?,
                                r.get(16)?,
                                r.get(17)?,
                                r.get(18)?,
                                r.get(19)?,
                                r.get(20)?,
                                r.get(21)?,
                                r.get(22)?,
                                r.get(23)?,
                                r.get(24)?,
                            );
                            Ok((
                                RawDelivery::try_from(r)?,
                                r.get::<_, String>(11)?,
                                r.get::<_, String>(12)?,
                                r.get::<_, String>(13)?,
                                r.get::<_, i64>(14)?,
                                raw,
                            ))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err("claiming deliveries"))?;
                {
                    let mut claim = tx
                        .prepare_cached(
                            "UPDATE webhook_deliveries SET attempts = attempts + 1, \
                             next_attempt_at = ?2, last_attempt_at = ?1 WHERE id = ?3",
                        )
                        .map_err(map_err("claiming deliveries"))?;
                    for row in &rows {
                        claim
                            .execute(params![micros(now), micros(lease_until), row.0.0])
                            .map_err(map_err("claiming deliveries"))?;
                    }
                }
                crate::pool::commit(tx)?;
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(|(raw, tenant, url, secret, outbox_id, event)| {
                let mut delivery = delivery(raw)?;
                delivery.attempts = delivery.attempts.saturating_add(1);
                delivery.last_attempt_at = Some(now);
                delivery.next_attempt_at = Some(lease_until);
                Ok(DueDelivery {
                    delivery,
                    tenant_id: TenantId::new(tenant)
                        .map_err(|_| corrupt("decoding a delivery", "tenant"))?,
                    url,
                    secret,
                    event: Event {
                        id: u64::try_from(outbox_id).unwrap_or(0),
                        audit: decode(event)?,
                    },
                })
            })
            .collect()
    }

    async fn finish_deliveries(&self, finished: &[FinishedAttempt]) -> Result<u64> {
        let finished = finished.to_vec();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let mut recorded = 0;
                {
                    let mut statement = tx
                        .prepare_cached(
                            "UPDATE webhook_deliveries SET status = ?3, response_status = ?4, \
                             error = ?5, next_attempt_at = ?6 WHERE tenant_id = ?1 AND id = ?2 \
                             AND status = 'pending' AND attempts = ?7",
                        )
                        .map_err(map_err("recording deliveries"))?;
                    for f in &finished {
                        let (status, response, error, next) = f.outcome.recorded();
                        recorded += statement
                            .execute(params![
                                f.tenant_id.as_str(),
                                f.id,
                                status.as_str(),
                                response,
                                error,
                                next.map(micros),
                                f.attempts
                            ])
                            .map_err(map_err("recording deliveries"))?;
                    }
                }
                crate::pool::commit(tx)?;
                Ok(u64::try_from(recorded).unwrap_or(0))
            })
            .await
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: Uuid,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let tenant = tenant.as_str().to_owned();
        let raws = self
            .pool
            .run(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {DELIVERY} FROM webhook_deliveries d WHERE d.tenant_id = ?1 \
                     AND d.endpoint_id = ?2 ORDER BY d.created_at DESC, d.id DESC LIMIT ?3"
                ))
                .and_then(|mut s| {
                    s.query_map(params![tenant, endpoint, limit], |r| {
                        RawDelivery::try_from(r)
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(map_err("listing deliveries"))
            })
            .await?;
        raws.into_iter().map(delivery).collect()
    }

    async fn redeliver(
        &self,
        tenant: &TenantId,
        endpoint: Uuid,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                conn.prepare_cached(
                    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
                     next_attempt_at = ?4, error = NULL, response_status = NULL \
                     WHERE tenant_id = ?1 AND endpoint_id = ?2 AND id = ?3 \
                     AND EXISTS (SELECT 1 FROM outbox_events o WHERE o.tenant_id = ?1 \
                                 AND o.id = webhook_deliveries.event_id)",
                )
                .and_then(|mut s| s.execute(params![tenant, endpoint, delivery, micros(now)]))
                .map(|n| n > 0)
                .map_err(map_err("redelivering"))
            })
            .await
    }
}
