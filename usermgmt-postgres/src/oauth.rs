//! `OAuthStore` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use usermgmt_core::model::{AuditEvent, OAuthLink, OAuthProvider, TenantId, User};
use usermgmt_core::storage::OAuthStore;
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::PgStorage;
use crate::audit::insert_event;
use crate::error::map_err;
use crate::read::user_by_id;
use crate::tx::commit;

/// Locks the user row and checks its version (inside the caller's transaction).
async fn guard_version(
    conn: &mut PgConnection,
    tenant: &str,
    user_id: Uuid,
    expected: i64,
) -> Result<()> {
    let version: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM users WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE",
    )
    .bind(tenant)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_err("reading a user version"))?;
    match version {
        None => Err(Error::NotFound("user")),
        Some(current) if current != expected => Err(Error::VersionConflict { expected, current }),
        Some(_) => Ok(()),
    }
}

async fn bump_version(
    conn: &mut PgConnection,
    tenant: &str,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET version = version + 1, updated_at = $3 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await
    .map_err(map_err("updating a user version"))?;
    Ok(())
}

/// Stores a link (inside the caller's transaction); a taken provider or account is a conflict.
pub(crate) async fn insert_link(
    conn: &mut PgConnection,
    tenant: &str,
    user_id: Uuid,
    link: &OAuthLink,
) -> Result<()> {
    let has: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM user_oauth WHERE tenant_id = $1 AND user_id = $2 AND provider = $3)",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(link.provider.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(map_err("checking OAuth links"))?;
    if has {
        return Err(Error::conflict("provider"));
    }
    sqlx::query(
        "INSERT INTO user_oauth (tenant_id, user_id, provider, provider_user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant)
    .bind(user_id)
    .bind(link.provider.as_str())
    .bind(&link.provider_user_id)
    .bind(link.linked_at)
    .execute(conn)
    .await
    .map_err(map_err("linking an OAuth account"))?;
    Ok(())
}

#[async_trait]
impl OAuthStore for PgStorage {
    async fn link_oauth(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        expected_version: i64,
        link: &OAuthLink,
        audit: AuditEvent,
    ) -> Result<User> {
        let mut tx = self.begin().await?;
        guard_version(&mut tx, tenant.as_str(), user_id, expected_version).await?;
        insert_link(&mut tx, tenant.as_str(), user_id, link).await?;
        crate::read::refresh_lists(&mut tx, tenant.as_str(), &[user_id]).await?;
        bump_version(&mut tx, tenant.as_str(), user_id, link.linked_at).await?;
        insert_event(&mut tx, &audit).await?;
        let user = user_by_id(&mut tx, tenant.as_str(), user_id).await?;
        commit(tx).await?;
        user.ok_or(Error::NotFound("user"))
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
        let mut tx = self.begin().await?;
        guard_version(&mut tx, tenant.as_str(), user_id, expected_version).await?;
        let removed = sqlx::query(
            "DELETE FROM user_oauth WHERE tenant_id = $1 AND user_id = $2 AND provider = $3",
        )
        .bind(tenant.as_str())
        .bind(user_id)
        .bind(provider.as_str())
        .execute(&mut *tx)
        .await
        .map_err(map_err("unlinking an OAuth account"))?;
        if removed.rows_affected() == 0 {
            return Err(Error::NotFound("oauth link"));
        }
        crate::read::refresh_lists(&mut tx, tenant.as_str(), &[user_id]).await?;
        bump_version(&mut tx, tenant.as_str(), user_id, now).await?;
        insert_event(&mut tx, &audit).await?;
        let user = user_by_id(&mut tx, tenant.as_str(), user_id).await?;
        commit(tx).await?;
        user.ok_or(Error::NotFound("user"))
    }
}
