//! `SessionStore` on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use usermgmt_core::model::{AuditEvent, GeoLocation, Session, TenantId};
use usermgmt_core::storage::{ActorGrants, SessionStore};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::audit::insert_event;
use crate::codec::{from_micros, micros, opt_from_micros, parse};
use crate::error::{corrupt, map_err};

/// The columns of a session, its user's id included.
macro_rules! session_columns {
    () => {
        "SELECT s.id, s.tenant_id, u.id, s.created_at, s.last_seen_at, s.expires_at, \
    s.terminated_at, s.user_agent, s.ip, s.geo_country, s.geo_region, s.geo_city, s.impersonator_id, \
    s.impersonation_mode, s.impersonation_reason FROM sessions s JOIN users u ON u.seq = s.user_seq"
    };
}

const SESSION_COLUMNS: &str = session_columns!();

/// A session by its token hash.
const BY_TOKEN: &str = concat!(session_columns!(), " WHERE s.token_hash = ?1");

type RawSession = (
    Uuid,
    String,
    Uuid,
    [i64; 3],
    Option<i64>,
    Option<String>,
    Option<String>,
    [Option<String>; 3],
    Option<Uuid>,
    Option<String>,
    Option<String>,
);

fn raw(row: &Row<'_>) -> rusqlite::Result<RawSession> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        [row.get(3)?, row.get(4)?, row.get(5)?],
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        [row.get(9)?, row.get(10)?, row.get(11)?],
        row.get(12)?,
        row.get(13)?,
        row.get(14)?,
    ))
}

fn decode(raw: RawSession) -> Result<Session> {
    let (
        id,
        tenant,
        user_id,
        [created, seen, expires],
        terminated,
        user_agent,
        ip,
        geo,
        impersonator_id,
        mode,
        reason,
    ) = raw;
    let [country, region, city] = geo;
    let location =
        (country.is_some() || region.is_some() || city.is_some()).then_some(GeoLocation {
            country,
            region,
            city,
        });
    Ok(Session {
        id,
        tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a session", "tenant"))?,
        user_id,
        created_at: from_micros(created)?,
        last_seen_at: from_micros(seen)?,
        expires_at: from_micros(expires)?,
        terminated_at: opt_from_micros(terminated)?,
        user_agent,
        ip: ip
            .as_deref()
            .map(|ip| parse("decoding a session IP", ip))
            .transpose()?,
        location,
        impersonator_id,
        impersonation_mode: mode
            .as_deref()
            .map(|m| parse("decoding an impersonation mode", m))
            .transpose()?,
        impersonation_reason: reason,
    })
}

pub(crate) fn user_seq(conn: &Connection, tenant: &str, user_id: Uuid) -> Result<Option<i64>> {
    conn.prepare_cached("SELECT seq FROM users WHERE tenant_id = ?1 AND id = ?2")
        .and_then(|mut s| {
            s.query_row(params![tenant, user_id], |r| r.get(0))
                .optional()
        })
        .map_err(map_err("finding a user"))
}

/// Stores a session row for the user with `seq` (inside the caller's transaction).
pub(crate) fn insert_session_row(
    conn: &Connection,
    seq: i64,
    session: &Session,
    token_hash: [u8; 32],
) -> Result<()> {
    let location = session.location.clone().unwrap_or_default();
    conn.prepare_cached(
        "INSERT INTO sessions (id, tenant_id, user_seq, token_hash, created_at, last_seen_at, expires_at, \
         terminated_at, user_agent, ip, geo_country, geo_region, geo_city, impersonator_id, impersonation_mode, \
         impersonation_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )
    .and_then(|mut s| {
        s.execute(params![
            session.id,
            session.tenant_id.as_str(),
            seq,
            token_hash.as_slice(),
            micros(session.created_at),
            micros(session.last_seen_at),
            micros(session.expires_at),
            session.terminated_at.map(micros),
            session.user_agent,
            session.ip.map(|ip| ip.to_string()),
            location.country,
            location.region,
            location.city,
            session.impersonator_id,
            session.impersonation_mode.map(|m| m.as_str()),
            session.impersonation_reason,
        ])
    })
    .map_err(map_err("storing a session"))?;
    Ok(())
}

/// Ends the user's active sessions and the impersonation sessions the user started (an
/// impersonation dies with its impersonator's sessions); returns how many of the user's own
/// sessions were active. Runs inside the caller's transaction.
pub(crate) fn end_user_sessions(conn: &Connection, seq: i64, now: DateTime<Utc>) -> Result<u64> {
    let ended = conn
        .prepare_cached(
            "UPDATE sessions SET terminated_at = ?1 WHERE user_seq = ?2 AND terminated_at IS NULL AND expires_at > ?1",
        )
        .and_then(|mut s| s.execute(params![micros(now), seq]))
        .map_err(map_err("ending sessions"))?;
    conn.prepare_cached(
        "UPDATE sessions SET terminated_at = ?1 WHERE impersonator_id = (SELECT id FROM users WHERE seq = ?2) \
         AND terminated_at IS NULL AND expires_at > ?1",
    )
    .and_then(|mut s| s.execute(params![micros(now), seq]))
    .map_err(map_err("ending impersonation sessions"))?;
    Ok(ended as u64)
}

/// Ends the live sessions of the users whose seqs are in the JSON array `seqs`, and the
/// sessions they opened as impersonators, in two statements.
pub(crate) fn end_sessions_of_many(
    conn: &Connection,
    seqs: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE sessions SET terminated_at = ?1 WHERE user_seq IN (SELECT value FROM json_each(?2)) \
         AND terminated_at IS NULL AND expires_at > ?1",
    )
    .and_then(|mut s| s.execute(params![micros(now), seqs]))
    .map_err(map_err("ending sessions"))?;
    conn.prepare_cached(
        "UPDATE sessions SET terminated_at = ?1 WHERE impersonator_id IN \
         (SELECT id FROM users WHERE seq IN (SELECT value FROM json_each(?2))) \
         AND terminated_at IS NULL AND expires_at > ?1",
    )
    .and_then(|mut s| s.execute(params![micros(now), seqs]))
    .map_err(map_err("ending impersonation sessions"))?;
    Ok(())
}

#[async_trait]
impl SessionStore for SqliteStorage {
    async fn insert_session(
        &self,
        tenant: &TenantId,
        session: &Session,
        token_hash: [u8; 32],
        audit: Option<AuditEvent>,
    ) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &session.tenant_id)?;
        let session = session.clone();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let seq = user_seq(&tx, session.tenant_id.as_str(), session.user_id)?
                    .ok_or(Error::NotFound("user"))?;
                insert_session_row(&tx, seq, &session, token_hash)?;
                if let Some(event) = &audit {
                    insert_event(&tx, event)?;
                }
                crate::pool::commit(tx)
            })
            .await
    }

    async fn session_by_token(&self, token_hash: [u8; 32]) -> Result<Option<Session>> {
        self.pool
            .run(move |conn| {
                let found = conn
                    .prepare_cached(BY_TOKEN)
                    .and_then(|mut s| s.query_row([token_hash.as_slice()], raw).optional())
                    .map_err(map_err("looking up a session"))?;
                found.map(decode).transpose()
            })
            .await
    }

    async fn session_with_grants(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<(Session, Option<ActorGrants>)>> {
        self.pool
            .run(move |conn| {
                let found = conn
                    .prepare_cached(BY_TOKEN)
                    .and_then(|mut s| s.query_row([token_hash.as_slice()], raw).optional())
                    .map_err(map_err("looking up a session"))?;
                let Some(session) = found.map(decode).transpose()? else {
                    return Ok(None);
                };
                let grants =
                    crate::read::read_grants(conn, session.tenant_id.as_str(), session.user_id)?;
                Ok(Some((session, grants)))
            })
            .await
    }

    async fn touch_session(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                conn.prepare_cached(
                    "UPDATE sessions SET last_seen_at = ?1 WHERE tenant_id = ?2 AND id = ?3",
                )
                .and_then(|mut s| s.execute(params![micros(now), tenant, session_id]))
                .map_err(map_err("touching a session"))?;
                Ok(())
            })
            .await
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let sql = format!(
                    "{SESSION_COLUMNS} WHERE s.tenant_id = ?1 AND u.id = ?2 AND s.terminated_at IS NULL \
                     AND s.expires_at > ?3 ORDER BY s.created_at DESC, s.id DESC"
                );
                let raws = conn
                    .prepare_cached(&sql)
                    .and_then(|mut s| s.query_map(params![tenant, user_id, micros(now)], raw)?.collect::<rusqlite::Result<Vec<_>>>())
                    .map_err(map_err("listing sessions"))?;
                raws.into_iter().map(decode).collect()
            })
            .await
    }

    async fn terminate_session(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
        audit: Vec<AuditEvent>,
    ) -> Result<bool> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let Some(seq) = user_seq(&tx, &tenant, user_id)? else {
                    return Ok(false);
                };
                let ended = tx
                    .prepare_cached(
                        "UPDATE sessions SET terminated_at = ?1 WHERE id = ?2 AND user_seq = ?3 \
                         AND terminated_at IS NULL AND expires_at > ?1",
                    )
                    .and_then(|mut s| s.execute(params![micros(now), session_id, seq]))
                    .map_err(map_err("ending a session"))?;
                if ended == 0 {
                    return Ok(false);
                }
                for event in &audit {
                    insert_event(&tx, event)?;
                }
                crate::pool::commit(tx)?;
                Ok(true)
            })
            .await
    }

    async fn terminate_sessions(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<u64> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let seq = user_seq(&tx, &tenant, user_id)?.ok_or(Error::NotFound("user"))?;
                let ended = end_user_sessions(&tx, seq, now)?;
                if let Some(event) = &audit {
                    insert_event(&tx, event)?;
                }
                crate::pool::commit(tx)?;
                Ok(ended)
            })
            .await
    }

    async fn terminate_impersonations_by(
        &self,
        tenant: &TenantId,
        impersonator: Uuid,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<u64> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let ended: Vec<(Uuid, Uuid)> = tx
                    .prepare_cached(
                        "UPDATE sessions SET terminated_at = ?1 WHERE impersonator_id = ?2 AND tenant_id = ?3 \
                         AND terminated_at IS NULL AND expires_at > ?1 \
                         RETURNING id, (SELECT u.id FROM users u WHERE u.seq = sessions.user_seq)",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![micros(now), impersonator, tenant], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(map_err("ending impersonation sessions"))?;
                for (session, user) in &ended {
                    let event = usermgmt_core::storage::impersonation_ended(&audit, *session, *user);
                    insert_event(&tx, &event)?;
                }
                crate::pool::commit(tx)?;
                Ok(ended.len() as u64)
            })
            .await
    }

    async fn signed_in_from(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        ip: std::net::IpAddr,
        since: DateTime<Utc>,
    ) -> Result<bool> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                conn.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.seq = s.user_seq \
                     WHERE u.tenant_id = ?1 AND u.id = ?2 AND s.created_at >= ?3 AND s.ip = ?4 \
                     AND s.impersonator_id IS NULL)",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![tenant, user_id, micros(since), ip.to_string()],
                        |r| r.get(0),
                    )
                })
                .map_err(map_err("looking up a known client"))
            })
            .await
    }
}
