//! What provisioning tokens store: the token records, by the digest of their secret.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::model::{AuditEvent, ProvisioningToken, TenantId};

/// Provisioning (SCIM) tokens.
#[async_trait]
pub trait ProvisioningStore: Send + Sync {
    /// Stores a new token and its audit event in one transaction.
    async fn insert_provisioning_token(
        &self,
        token: &ProvisioningToken,
        token_hash: [u8; 32],
        audit: AuditEvent,
    ) -> Result<()>;

    /// The unrevoked token of `tenant` with this digest.
    async fn provisioning_token_by_hash(
        &self,
        tenant: &TenantId,
        token_hash: [u8; 32],
    ) -> Result<Option<ProvisioningToken>>;

    /// One token of `tenant` by id, revoked or not.
    async fn provisioning_token(
        &self,
        tenant: &TenantId,
        id: Uuid,
    ) -> Result<Option<ProvisioningToken>>;

    /// Every token of `tenant`, newest first.
    async fn list_provisioning_tokens(&self, tenant: &TenantId) -> Result<Vec<ProvisioningToken>>;

    /// Marks an unrevoked token revoked at `now` and writes `audit`, in one transaction;
    /// `false` (nothing written) when there is no such unrevoked token.
    async fn revoke_provisioning_token(
        &self,
        tenant: &TenantId,
        id: Uuid,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<bool>;
}
