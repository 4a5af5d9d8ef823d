//! `ProvisioningStore` on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use usermgmt_core::Result;
use usermgmt_core::model::{AuditEvent, ProvisioningToken, TenantId};
use usermgmt_core::storage::ProvisioningStore;
use uuid::Uuid;

use crate::SqliteStorage;
use crate::audit::insert_event;
use crate::codec::{from_micros, micros, opt_from_micros};
use crate::error::{corrupt, map_err};

const COLUMNS: &str =
    "SELECT id, tenant_id, name, created_by, created_at, revoked_at FROM provisioning_tokens";

type Raw = (Uuid, String, String, Uuid, i64, Option<i64>);

fn read(r: &Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn decode((id, tenant, name, created_by, created, revoked): Raw) -> Result<ProvisioningToken> {
    Ok(ProvisioningToken {
        id,
        tenant_id: TenantId::new(tenant)
            .map_err(|_| corrupt("decoding a provisioning token", "tenant"))?,
        name,
        created_by,
        created_at: from_micros(created)?,
        revoked_at: opt_from_micros(revoked)?,
    })
}

impl SqliteStorage {
    async fn one_token(
        &self,
        condition: &'static str,
        tenant: &TenantId,
        key: Vec<u8>,
    ) -> Result<Option<ProvisioningToken>> {
        let tenant = tenant.as_str().to_owned();
        let raw = self
            .pool
            .run(move |conn| {
                conn.prepare_cached(&format!("{COLUMNS} WHERE tenant_id = ?1 AND {condition}"))
                    .and_then(|mut s| s.query_row(params![tenant, key], read).optional())
                    .map_err(map_err("reading a provisioning token"))
            })
            .await?;
        raw.map(decode).transpose()
    }
}

#[async_trait]
impl ProvisioningStore for SqliteStorage {
    async fn insert_provisioning_token(
        &self,
        token: &ProvisioningToken,
        token_hash: [u8; 32],
        audit: AuditEvent,
    ) -> Result<()> {
        let token = token.clone();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                tx.execute(
                    "INSERT INTO provisioning_tokens (id, tenant_id, name, created_by, token_hash, \
                     created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        token.id,
                        token.tenant_id.as_str(),
                        token.name,
                        token.created_by,
                        token_hash.as_slice(),
                        micros(token.created_at)
                    ],
                )
                .map_err(map_err("inserting a provisioning token"))?;
                insert_event(&tx, &audit)?;
                crate::pool::commit(tx)
            })
            .await
    }

    async fn provisioning_token_by_hash(
        &self,
        tenant: &TenantId,
        token_hash: [u8; 32],
    ) -> Result<Option<ProvisioningToken>> {
        self.one_token(
            "token_hash = ?2 AND revoked_at IS NULL",
            tenant,
            token_hash.to_vec(),
        )
        .await
    }

    async fn provisioning_token(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<ProvisioningToken>> {
        self.one_token("id = ?2", tenant, id.as_bytes().to_vec())
            .await
    }

    async fn list_provisioning_tokens(&self, tenant: &TenantId) -> Result<Vec<ProvisioningToken>> {
        let tenant = tenant.as_str().to_owned();
        let rows = self
            .pool
            .run(move |conn| {
                conn.prepare_cached(&format!(
                    "{COLUMNS} WHERE tenant_id = ?1 ORDER BY created_at DESC, id DESC"
                ))
                .and_then(|mut s| {
                    s.query_map(params![tenant], read)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(map_err("listing provisioning tokens"))
            })
            .await?;
        rows.into_iter().map(decode).collect()
    }

    async fn revoke_provisioning_token(
        &self,
        tenant: &TenantId,
        id: Uuid,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<bool> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let changed = tx
                    .execute(
                        "UPDATE provisioning_tokens SET revoked_at = ?1 \
                         WHERE tenant_id = ?2 AND id = ?3 AND revoked_at IS NULL",
                        params![micros(now), tenant, id],
                    )
                    .map_err(map_err("revoking a provisioning token"))?;
                if changed == 0 {
                    return Ok(false);
                }
                insert_event(&tx, &audit)?;
                crate::pool::commit(tx)?;
                Ok(true)
            })
            .await
    }
}
