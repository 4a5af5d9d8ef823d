//! `SessionStore` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use usermgmt_core::model::{AuditEvent, GeoLocation, Session, TenantId};
use usermgmt_core::storage::{ActorGrants, SessionStore};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::PgStorage;
use crate::audit::insert_event;
use crate::codec::parse;
use crate::error::{corrupt, map_err};
use crate::tx::commit;

const SESSION_COLUMNS: &str = "SELECT tenant_id, id, user_id, created_at, last_seen_at, expires_at, terminated_at, \
    user_agent, ip, geo_country, geo_region, geo_city, impersonator_id, impersonation_mode, impersonation_reason \
    FROM sessions";

fn decode(row: &PgRow) -> Result<Session> {
    let get = |e: sqlx::Error| map_err("decoding a session")(e);
    let tenant: String = row.try_get("tenant_id").map_err(get)?;
    let ip: Option<String> = row.try_get("ip").map_err(get)?;
    let mode: Option<String> = row.try_get("impersonation_mode").map_err(get)?;
    let country: Option<String> = row.try_get("geo_country").map_err(get)?;
    let region: Option<String> = row.try_get("geo_region").map_err(get)?;
    let city: Option<String> = row.try_get("geo_city").map_err(get)?;
    let location =
        (country.is_some() || region.is_some() || city.is_some()).then_some(GeoLocation {
            country,
            region,
            city,
        });
    Ok(Session {
        id: row.try_get("id").map_err(get)?,
        tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a session", "tenant"))?,
        user_id: row.try_get("user_id").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        last_seen_at: row.try_get("last_seen_at").map_err(get)?,
        expires_at: row.try_get("expires_at").map_err(get)?,
        terminated_at: row.try_get("terminated_at").map_err(get)?,
        user_agent: row.try_get("user_agent").map_err(get)?,
        ip: ip
            .as_deref()
            .map(|ip| parse("decoding a session IP", ip))
            .transpose()?,
        location,
        impersonator_id: row.try_get("impersonator_id").map_err(get)?,
        impersonation_mode: mode
            .as_deref()
            .map(|m| parse("decoding an impersonation mode", m))
            .transpose()?,
        impersonation_reason: row.try_get("impersonation_reason").map_err(get)?,
    })
}

/// Stores a session row (inside the caller's transaction).
pub(crate) async fn insert_session_row(
    conn: &mut PgConnection,
    session: &Session,
    token_hash: [u8; 32],
) -> Result<()> {
    let location = session.location.clone().unwrap_or_default();
    sqlx::query(
        "INSERT INTO sessions (tenant_id, id, user_id, token_hash, created_at, last_seen_at, expires_at, \
         terminated_at, user_agent, ip, geo_country, geo_region, geo_city, impersonator_id, impersonation_mode, \
         impersonation_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(session.tenant_id.as_str())
    .bind(session.id)
    .bind(session.user_id)
    .bind(token_hash.as_slice())
    .bind(session.created_at)
    .bind(session.last_seen_at)
    .bind(session.expires_at)
    .bind(session.terminated_at)
    .bind(&session.user_agent)
    .bind(session.ip.map(|ip| ip.to_string()))
    .bind(location.country)
    .bind(location.region)
    .bind(location.city)
    .bind(session.impersonator_id)
    .bind(session.impersonation_mode.map(|m| m.as_str()))
    .bind(&session.impersonation_reason)
    .execute(conn)
    .await
    .map_err(map_err("storing a session"))?;
    Ok(())
}

/// Ends the users' active sessions and the impersonation sessions they started (an
/// impersonation dies with its impersonator's sessions); returns how many of the users' own
/// sessions were active. Runs inside the caller's transaction.
pub(crate) async fn end_user_sessions(
    conn: &mut PgConnection,
    tenant: &str,
    users: &[Uuid],
    now: DateTime<Utc>,
) -> Result<u64> {
    let ended = sqlx::query(
        "UPDATE sessions SET terminated_at = $3 WHERE tenant_id = $1 AND user_id = ANY($2) \
         AND terminated_at IS NULL AND expires_at > $3",
    )
    .bind(tenant)
    .bind(users)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(map_err("ending sessions"))?;
    sqlx::query(
        "UPDATE sessions SET terminated_at = $3 WHERE tenant_id = $1 AND impersonator_id = ANY($2) \
         AND terminated_at IS NULL AND expires_at > $3",
    )
    .bind(tenant)
    .bind(users)
    .bind(now)
    .execute(conn)
    .await
    .map_err(map_err("ending impersonation sessions"))?;
    Ok(ended.rows_affected())
}

#[async_trait]
impl SessionStore for PgStorage {
    async fn insert_session(
        &self,
        tenant: &TenantId,
        session: &Session,
        token_hash: [u8; 32],
        audit: Option<AuditEvent>,
    ) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &session.tenant_id)?;
        let mut tx = self.begin().await?;
        insert_session_row(&mut tx, session, token_hash)
            .await
            .map_err(|e| match e {
                Error::Storage(_) => Error::NotFound("user"),
                other => other,
            })?;
        if let Some(event) = &audit {
            insert_event(&mut tx, event).await?;
        }
        commit(tx).await
    }

    async fn session_by_token(&self, token_hash: [u8; 32]) -> Result<Option<Session>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SESSION_COLUMNS} WHERE token_hash = $1"
        )))
        .bind(token_hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("looking up a session"))?;
        row.as_ref().map(decode).transpose()
    }

    async fn session_with_grants(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<(Session, Option<ActorGrants>)>> {
        // One round trip for the session, its user's status and effective permissions.
        let row = sqlx::query(concat!(
            "SELECT s.tenant_id, s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, \
             s.terminated_at, s.user_agent, s.ip, s.geo_country, s.geo_region, s.geo_city, \
             s.impersonator_id, s.impersonation_mode, s.impersonation_reason, \
             u.status AS user_status, ",
            crate::read::grants_of_u!(),
            " AS user_grants FROM sessions s \
             LEFT JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id \
             WHERE s.token_hash = $1"
        ))
        .bind(token_hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("looking up a session"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let session = decode(&row)?;
        let get = |e: sqlx::Error| map_err("decoding a session's grants")(e);
        let status: Option<String> = row.try_get("user_status").map_err(get)?;
        let names: Option<Vec<String>> = row.try_get("user_grants").map_err(get)?;
        let grants = match status {
            Some(status) => Some(crate::read::grants(&status, &names.unwrap_or_default())?),
            None => None,
        };
        Ok(Some((session, grants)))
    }

    async fn touch_session(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(session_id)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err("touching a session"))?;
        Ok(())
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SESSION_COLUMNS} WHERE tenant_id = $1 AND user_id = $2 AND terminated_at IS NULL AND expires_at > $3 \
             ORDER BY created_at DESC, id DESC"
        )))
        .bind(tenant.as_str())
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("listing sessions"))?;
        rows.iter().map(decode).collect()
    }

    async fn terminate_session(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
        audit: Vec<AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let ended = sqlx::query(
            "UPDATE sessions SET terminated_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND id = $3 \
             AND terminated_at IS NULL AND expires_at > $4",
        )
        .bind(tenant.as_str())
        .bind(user_id)
        .bind(session_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(map_err("ending a session"))?;
        if ended.rows_affected() == 0 {
            return Ok(false);
        }
        for event in &audit {
            insert_event(&mut tx, event).await?;
        }
        commit(tx).await?;
        Ok(true)
    }

    async fn terminate_sessions(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<u64> {
        let mut tx = self.begin().await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2)",
        )
        .bind(tenant.as_str())
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err("finding a user"))?;
        if !exists {
            return Err(Error::NotFound("user"));
        }
        let ended = end_user_sessions(&mut tx, tenant.as_str(), &[user_id], now).await?;
        if let Some(event) = &audit {
            insert_event(&mut tx, event).await?;
        }
        commit(tx).await?;
        Ok(ended)
    }

    async fn terminate_impersonations_by(
        &self,
        tenant: &TenantId,
        impersonator: Uuid,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<u64> {
        let mut tx = self.begin().await?;
        let ended: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "UPDATE sessions SET terminated_at = $3 WHERE tenant_id = $1 AND impersonator_id = $2 \
             AND terminated_at IS NULL AND expires_at > $3 RETURNING id, user_id",
        )
        .bind(tenant.as_str())
        .bind(impersonator)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err("ending impersonation sessions"))?;
        for (session, user) in &ended {
            let event = usermgmt_core::storage::impersonation_ended(&audit, *session, *user);
            insert_event(&mut tx, &event).await?;
        }
        commit(tx).await?;
        Ok(ended.len() as u64)
    }

    async fn signed_in_from(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        ip: std::net::IpAddr,
        since: DateTime<Utc>,
    ) -> Result<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE tenant_id = $1 AND user_id = $2 \
             AND created_at >= $3 AND ip = $4 AND impersonator_id IS NULL)",
        )
        .bind(tenant.as_str())
        .bind(user_id)
        .bind(since)
        .bind(ip.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(map_err("looking up a known client"))
    }
}
