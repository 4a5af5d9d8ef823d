//! `AuthStore` on PostgreSQL: grants, login records, failures and successes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use usermgmt_core::model::{Session, TenantId, User};
use usermgmt_core::password::PasswordHash;
use usermgmt_core::storage::{ActorGrants, AuthStore, Identifier, LoginFailure};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::PgStorage;
use crate::error::map_err;
use crate::read::{grants, grants_of_u, identifier_query, read_users, user_by_id};
use crate::sessions::insert_session_row;
use crate::tx::commit;

#[async_trait]
impl AuthStore for PgStorage {
    async fn lock_super_admin_changes(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<usermgmt_core::storage::StoreLock>> {
        // A session-level advisory lock on a connection of its own, taken out of the pool:
        // every instance over this database waits for it; closing the connection frees it.
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(map_err("taking a connection for a lock"))?
            .detach();
        sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
            .bind(format!("usermgmt.super_admin:{}", tenant.as_str()))
            .execute(&mut conn)
            .await
            .map_err(map_err("locking super-admin changes"))?;
        Ok(Some(Box::new(crate::AdvisoryLock(Some(conn)))))
    }

    async fn actor_grants(&self, tenant: &TenantId, user_id: Uuid) -> Result<Option<ActorGrants>> {
        // One round trip: every request starts here.
        let row: Option<(String, Vec<String>)> = sqlx::query_as(concat!(
            "SELECT u.status, ",
            grants_of_u!(),
            " FROM users u WHERE u.tenant_id = $1 AND u.id = $2"
        ))
        .bind(tenant.as_str())
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("reading grants"))?;
        row.map(|(status, names)| grants(&status, &names))
            .transpose()
    }

    async fn login_record(
        &self,
        tenant: &TenantId,
        identifier: &Identifier,
    ) -> Result<Option<(User, Option<PasswordHash>)>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(map_err("taking a connection"))?;
        let Some(user) = read_users(
            &mut conn,
            identifier_query(tenant.as_str(), identifier),
            true,
        )
        .await?
        .pop() else {
            return Ok(None);
        };
        let hash: Option<String> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(user.id)
                .fetch_one(&mut *conn)
                .await
                .map_err(map_err("reading a password hash"))?;
        Ok(Some((user, hash.map(PasswordHash::from_phc))))
    }

    async fn record_login_failure(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
        max_attempts: u32,
        lock_until: DateTime<Utc>,
    ) -> Result<LoginFailure> {
        // One statement, so concurrent failures all count. A lock that has run out restarts
        // the count.
        let row = sqlx::query(
            "UPDATE users SET \
               failed_login_attempts = (CASE WHEN locked_until <= $1 THEN 0 ELSE failed_login_attempts END) + 1, \
               locked_until = CASE \
                 WHEN (CASE WHEN locked_until <= $1 THEN 0 ELSE failed_login_attempts END) + 1 >= $2 THEN $3 \
                 WHEN locked_until <= $1 THEN NULL ELSE locked_until END \
             WHERE tenant_id = $4 AND id = $5 RETURNING failed_login_attempts, locked_until",
        )
        .bind(now)
        .bind(i64::from(max_attempts))
        .bind(lock_until)
        .bind(tenant.as_str())
        .bind(user_id)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err("counting a failed login"))?;
        let attempts: i32 = row
            .try_get("failed_login_attempts")
            .map_err(map_err("counting a failed login"))?;
        Ok(LoginFailure {
            attempts: u32::try_from(attempts).unwrap_or(0),
            locked_until: row
                .try_get("locked_until")
                .map_err(map_err("counting a failed login"))?,
        })
    }

    async fn record_login_success(
        &self,
        tenant: &TenantId,
        session: &Session,
        token_hash: [u8; 32],
    ) -> Result<User> {
        usermgmt_core::storage::ensure_tenant(tenant, &session.tenant_id)?;
        let mut tx = self.begin().await?;
        let tenant = session.tenant_id.as_str();
        let updated = sqlx::query(
            "UPDATE users SET failed_login_attempts = 0, locked_until = NULL, last_login_at = $3 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(session.user_id)
        .bind(session.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err("recording a login"))?;
        if updated.rows_affected() == 0 {
            return Err(Error::NotFound("user"));
        }
        insert_session_row(&mut tx, session, token_hash).await?;
        let user = user_by_id(&mut tx, tenant, session.user_id).await?;
        commit(tx).await?;
        user.ok_or(Error::NotFound("user"))
    }
}
