//! `AuthStore` on SQLite: grants, login records, failures and successes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use usermgmt_core::model::{Session, TenantId, User};
use usermgmt_core::password::PasswordHash;
use usermgmt_core::storage::{ActorGrants, AuthStore, Identifier, LoginFailure};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::codec::micros;
use crate::error::map_err;
use crate::pool::{commit, immediate};
use crate::read::{identifier_query, read_grants, read_users, user_by_id};
use crate::sessions::insert_session_row;

#[async_trait]
impl AuthStore for SqliteStorage {
    async fn lock_super_admin_changes(
        &self,
        _tenant: &TenantId,
    ) -> Result<Option<usermgmt_core::storage::StoreLock>> {
        let guard = self.super_admin_changes.clone().lock_owned().await;
        Ok(Some(Box::new(guard)))
    }

    async fn actor_grants(&self, tenant: &TenantId, user_id: Uuid) -> Result<Option<ActorGrants>> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| read_grants(conn, &tenant, user_id))
            .await
    }

    async fn login_record(
        &self,
        tenant: &TenantId,
        identifier: &Identifier,
    ) -> Result<Option<(User, Option<PasswordHash>)>> {
        let tenant = tenant.as_str().to_owned();
        let sql = identifier_query(&tenant, identifier);
        self.pool
            .run(move |conn| {
                let Some(user) = read_users(conn, &sql)?.pop() else {
                    return Ok(None);
                };
                let hash: Option<String> = conn
                    .prepare_cached(
                        "SELECT password_hash FROM users WHERE tenant_id = ?1 AND id = ?2",
                    )
                    .and_then(|mut s| s.query_row(params![tenant, user.id], |r| r.get(0)))
                    .map_err(map_err("reading a password hash"))?;
                Ok(Some((user, hash.map(PasswordHash::from_phc))))
            })
            .await
    }

    async fn record_login_failure(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
        max_attempts: u32,
        lock_until: DateTime<Utc>,
    ) -> Result<LoginFailure> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                // One statement, so concurrent failures all count. A lock that has run out
                // restarts the count.
                let (attempts, locked_until): (i64, Option<i64>) = conn
                    .prepare_cached(
                        "UPDATE users SET \
                           failed_login_attempts = \
                             (CASE WHEN locked_until <= ?1 THEN 0 ELSE failed_login_attempts END) + 1, \
                           locked_until = CASE \
                             WHEN (CASE WHEN locked_until <= ?1 THEN 0 ELSE failed_login_attempts END) + 1 >= ?2 THEN ?3 \
                             WHEN locked_until <= ?1 THEN NULL ELSE locked_until END \
                         WHERE tenant_id = ?4 AND id = ?5 \
                         RETURNING failed_login_attempts, locked_until",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![micros(now), max_attempts, micros(lock_until), tenant, user_id], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                    })
                    .map_err(map_err("counting a failed login"))?;
                Ok(LoginFailure {
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    locked_until: crate::codec::opt_from_micros(locked_until)?,
                })
            })
            .await
    }

    async fn record_login_success(
        &self,
        tenant: &TenantId,
        session: &Session,
        token_hash: [u8; 32],
    ) -> Result<User> {
        usermgmt_core::storage::ensure_tenant(tenant, &session.tenant_id)?;
        let session = session.clone();
        self.pool
            .run(move |conn| {
                let tx = immediate(conn)?;
                let tenant = session.tenant_id.as_str();
                let seq: i64 = tx
                    .prepare_cached(
                        "UPDATE users SET failed_login_attempts = 0, locked_until = NULL, last_login_at = ?1 \
                         WHERE tenant_id = ?2 AND id = ?3 RETURNING seq",
                    )
                    .and_then(|mut s| s.query_row(params![micros(session.created_at), tenant, session.user_id], |r| r.get(0)))
                    .optional()
                    .map_err(map_err("recording a login"))?
                    .ok_or(Error::NotFound("user"))?;
                insert_session_row(&tx, seq, &session, token_hash)?;
                let user = user_by_id(&tx, tenant, session.user_id)?;
                commit(tx)?;
                user.ok_or(Error::NotFound("user"))
            })
            .await
    }
}
