//! `ProvisioningStore` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use usermgmt_core::Result;
use usermgmt_core::model::{AuditEvent, ProvisioningToken, TenantId};
use usermgmt_core::storage::ProvisioningStore;
use uuid::Uuid;

use crate::PgStorage;
use crate::audit::insert_event;
use crate::error::{corrupt, map_err};
use crate::tx::commit;

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, tenant_id, name, created_by, created_at, revoked_at \
             FROM provisioning_tokens ",
            $rest
        )
    };
}

fn decode(row: &PgRow) -> Result<ProvisioningToken> {
    let get = |e: sqlx::Error| map_err("decoding a provisioning token")(e);
    let tenant: String = row.try_get("tenant_id").map_err(get)?;
    Ok(ProvisioningToken {
        id: row.try_get("id").map_err(get)?,
        tenant_id: TenantId::new(tenant)
            .map_err(|_| corrupt("decoding a provisioning token", "tenant"))?,
        name: row.try_get("name").map_err(get)?,
        created_by: row.try_get("created_by").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        revoked_at: row.try_get("revoked_at").map_err(get)?,
    })
}

#[async_trait]
impl ProvisioningStore for PgStorage {
    async fn insert_provisioning_token(
        &self,
        token: &ProvisioningToken,
        token_hash: [u8; 32],
        audit: AuditEvent,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO provisioning_tokens (tenant_id, id, name, created_by, token_hash, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.tenant_id.as_str())
        .bind(token.id)
        .bind(&token.name)
        .bind(token.created_by)
        .bind(token_hash.as_slice())
        .bind(token.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err("inserting a provisioning token"))?;
        insert_event(&mut tx, &audit).await?;
        commit(tx).await
    }

    async fn provisioning_token_by_hash(
        &self,
        tenant: &TenantId,
        token_hash: [u8; 32],
    ) -> Result<Option<ProvisioningToken>> {
        let row = sqlx::query(select!(
            "WHERE tenant_id = $1 AND token_hash = $2 AND revoked_at IS NULL"
        ))
        .bind(tenant.as_str())
        .bind(token_hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("reading a provisioning token"))?;
        row.as_ref().map(decode).transpose()
    }

    async fn provisioning_token(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<ProvisioningToken>> {
        let row = sqlx::query(select!("WHERE tenant_id = $1 AND id = $2"))
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err("reading a provisioning token"))?;
        row.as_ref().map(decode).transpose()
    }

    async fn list_provisioning_tokens(&self, tenant: &TenantId) -> Result<Vec<ProvisioningToken>> {
        let rows = sqlx::query(select!(
            "WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("listing provisioning tokens"))?;
        rows.iter().map(decode).collect()
    }

    async fn revoke_provisioning_token(
        &self,
        tenant: &TenantId,
        id: Uuid,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE provisioning_tokens SET revoked_at = $1 \
             WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map_err("revoking a provisioning token"))?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        insert_event(&mut tx, &audit).await?;
        commit(tx).await?;
        Ok(true)
    }
}
