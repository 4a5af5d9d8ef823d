//! `OAuthStore` on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use usermgmt_core::model::{AuditEvent, OAuthLink, OAuthProvider, TenantId, User};
use usermgmt_core::storage::OAuthStore;
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::audit::insert_event;
use crate::codec::micros;
use crate::error::map_err;
use crate::read::user_by_id;

/// The user's seq after checking its version, inside the caller's transaction.
fn guarded_seq(
    conn: &Connection,
    tenant: &str,
    user_id: Uuid,
    expected_version: i64,
) -> Result<i64> {
    let row: Option<(i64, i64)> = conn
        .prepare_cached("SELECT seq, version FROM users WHERE tenant_id = ?1 AND id = ?2")
        .and_then(|mut s| {
            s.query_row(params![tenant, user_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(map_err("reading a user version"))?;
    let (seq, version) = row.ok_or(Error::NotFound("user"))?;
    if version != expected_version {
        return Err(Error::VersionConflict {
            expected: expected_version,
            current: version,
        });
    }
    Ok(seq)
}

fn bump_version(conn: &Connection, seq: i64, now: DateTime<Utc>) -> Result<()> {
    conn.prepare_cached("UPDATE users SET version = version + 1, updated_at = ?1 WHERE seq = ?2")
        .and_then(|mut s| s.execute(params![micros(now), seq]))
        .map_err(map_err("updating a user version"))?;
    Ok(())
}

/// Stores a link for the user with `seq` (inside the caller's transaction), reporting a taken
/// provider or provider account as a conflict.
pub(crate) fn insert_link(
    conn: &Connection,
    tenant: &str,
    seq: i64,
    link: &OAuthLink,
) -> Result<()> {
    let has_provider = conn
        .prepare_cached("SELECT 1 FROM user_oauth WHERE user_seq = ?1 AND provider = ?2")
        .and_then(|mut s| {
            s.query_row(params![seq, link.provider.as_str()], |_| Ok(()))
                .optional()
        })
        .map_err(map_err("checking OAuth links"))?;
    if has_provider.is_some() {
        return Err(Error::conflict("provider"));
    }
    conn.prepare_cached(
        "INSERT INTO user_oauth (tenant_id, user_seq, provider, provider_user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![tenant, seq, link.provider.as_str(), link.provider_user_id, micros(link.linked_at)]))
    .map_err(map_err("linking an OAuth account"))?;
    Ok(())
}

#[async_trait]
impl OAuthStore for SqliteStorage {
    async fn link_oauth(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        expected_version: i64,
        link: &OAuthLink,
        audit: AuditEvent,
    ) -> Result<User> {
        let tenant = tenant.as_str().to_owned();
        let link = link.clone();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let seq = guarded_seq(&tx, &tenant, user_id, expected_version)?;
                insert_link(&tx, &tenant, seq, &link)?;
                crate::read::refresh_lists(&tx, &[seq])?;
                bump_version(&tx, seq, link.linked_at)?;
                insert_event(&tx, &audit)?;
                let user = user_by_id(&tx, &tenant, user_id)?;
                crate::pool::commit(tx)?;
                user.ok_or(Error::NotFound("user"))
            })
            .await
    }

    async fn unlink_oauth(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        expected_version: i64,
        provider: OAuthProvider,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<User> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let seq = guarded_seq(&tx, &tenant, user_id, expected_version)?;
                let removed = tx
                    .execute(
                        "DELETE FROM user_oauth WHERE user_seq = ?1 AND provider = ?2",
                        params![seq, provider.as_str()],
                    )
                    .map_err(map_err("unlinking an OAuth account"))?;
                if removed == 0 {
                    return Err(Error::NotFound("oauth link"));
                }
                crate::read::refresh_lists(&tx, &[seq])?;
                bump_version(&tx, seq, now)?;
                insert_event(&tx, &audit)?;
                let user = user_by_id(&tx, &tenant, user_id)?;
                crate::pool::commit(tx)?;
                user.ok_or(Error::NotFound("user"))
            })
            .await
    }
}
