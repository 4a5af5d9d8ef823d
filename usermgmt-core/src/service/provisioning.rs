//! Provisioning tokens: an administrator holding `user.provision` creates one for an identity
//! provider's SCIM client, which presents it as a bearer token; the token acts with at most
//! what its creator holds, and every change it makes is audited as done by the token.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::access::Actor;
use super::audit::event;
use super::core::UserService;
use crate::error::{Error, Result, StorageError};
use crate::model::{
    AuditAction, AuditTargetKind, FieldChange, Permission, ProvisioningToken, SessionToken,
    TenantId,
};
use crate::principal::Principal;

/// What every provisioning token's secret starts with, so it is recognised when it leaks
/// (secret scanners) and never mistaken for a session token.
pub const PROVISIONING_TOKEN_PREFIX: &str = "umprov_";
/// Longest token label.
pub const MAX_TOKEN_NAME: usize = 100;

/// The permissions a provisioning token can exercise, each only while its creator holds it.
pub const PROVISIONING_SCOPE: &[Permission] = &[
    Permission::USER_LIST,
    Permission::USER_VIEW,
    Permission::USER_CREATE,
    Permission::USER_UPDATE,
    Permission::USER_DELETE,
    Permission::ROLE_MANAGE,
];

/// A new provisioning token's label.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateProvisioningToken {
    /// A label, e.g. the identity provider's name (1-100 printable characters).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schemas::TokenName))]
    pub name: String,
}

/// A token just created, with its secret: shown this once, stored only as a digest (and
/// never in `Debug` output).
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedProvisioningToken {
    /// The stored record.
    pub token: ProvisioningToken,
    /// The bearer secret for the SCIM client.
    pub secret: String,
}

impl std::fmt::Debug for IssuedProvisioningToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedProvisioningToken")
            .field("token", &self.token)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl UserService {
    /// Creates a provisioning token for the caller's tenant. Requires `user.provision`.
    pub async fn create_provisioning_token(
        &self,
        principal: &Principal,
        input: CreateProvisioningToken,
    ) -> Result<IssuedProvisioningToken> {
        let actor = self
            .authorize_write(principal, Permission::USER_PROVISION)
            .await?;
        // A token acts as its creator's delegate: never one of a session borrowing another
        // user's identity, which would outlive that session.
        if principal.impersonation().is_some() {
            return Err(Error::Forbidden(Permission::USER_PROVISION));
        }
        let name = input.name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_TOKEN_NAME
            || name.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                "name",
                format!("must be 1-{MAX_TOKEN_NAME} printable characters"),
            ));
        }
        let random = SessionToken::generate().map_err(|e| {
            Error::Storage(StorageError::new("drawing a random token", e.to_string()))
        })?;
        let secret = format!("{PROVISIONING_TOKEN_PREFIX}{}", random.expose());
        let now = self.clock.now();
        let token = ProvisioningToken {
            id: Uuid::now_v7(),
            tenant_id: actor.tenant_id.clone(),
            name: name.to_owned(),
            created_by: actor.user_id,
            created_at: now,
            revoked_at: None,
        };
        let changes = BTreeMap::from([(
            "name".to_owned(),
            FieldChange {
                old: serde_json::Value::Null,
                new: serde_json::Value::from(name),
            },
        )]);
        let audit = event(
            principal,
            AuditTargetKind::ProvisioningToken,
            token.id,
            AuditAction::ProvisioningTokenCreated,
            changes,
            now,
        );
        let hash = SessionToken::from_client(secret.as_str()).hash();
        self.storage
            .insert_provisioning_token(&token, hash, audit)
            .await?;
        Ok(IssuedProvisioningToken { token, secret })
    }

    /// The tenant's provisioning tokens, newest first. Requires `user.provision`.
    pub async fn list_provisioning_tokens(
        &self,
        principal: &Principal,
    ) -> Result<Vec<ProvisioningToken>> {
        let actor = self
            .authorize(principal, Permission::USER_PROVISION)
            .await?;
        self.storage
            .list_provisioning_tokens(&actor.tenant_id)
            .await
    }

    /// Revokes a provisioning token: it opens nothing from the next request on. Requires
    /// `user.provision`; an unknown or already revoked token is not found.
    pub async fn revoke_provisioning_token(&self, principal: &Principal, id: Uuid) -> Result<()> {
        let actor = self
            .authorize_write(principal, Permission::USER_PROVISION)
            .await?;
        let now = self.clock.now();
        let audit = event(
            principal,
            AuditTargetKind::ProvisioningToken,
            id,
            AuditAction::ProvisioningTokenRevoked,
            BTreeMap::new(),
            now,
        );
        if self
            .storage
            .revoke_provisioning_token(&actor.tenant_id, id, now, audit)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("provisioning token"))
        }
    }

    /// The principal a SCIM request acts as, from the bearer secret it presented: refused
    /// alike for a malformed, unknown or revoked secret.
    pub async fn authenticate_provisioner(
        &self,
        tenant: &TenantId,
        secret: &str,
    ) -> Result<Principal> {
        let refused = || Error::Unauthenticated("invalid or revoked provisioning token".into());
        let random = secret
            .strip_prefix(PROVISIONING_TOKEN_PREFIX)
            .ok_or_else(refused)?;
        if !SessionToken::from_client(random).is_generated_form() {
            return Err(refused());
        }
        let hash = SessionToken::from_client(secret).hash();
        let token = self
            .storage
            .provisioning_token_by_hash(tenant, hash)
            .await?
            .ok_or_else(refused)?;
        Ok(Principal::Provisioner {
            tenant_id: token.tenant_id,
            token_id: token.id,
        })
    }

    /// The actor behind a provisioning token: its creator's grants, narrowed to
    /// [`PROVISIONING_SCOPE`]; refused when the token is revoked, or its creator is not an
    /// active user or no longer holds `user.provision`.
    ///
    /// Its reach ([`Actor::held`]) is the creator's, less every built-in permission outside
    /// the scope: the token manages users and roles carrying the host application's
    /// permissions its creator holds, but never a user holding more than the token may do
    /// (so taking over such an account gains nothing). It has no account of its own: no
    /// "own account" rule exempts anyone from these checks.
    pub(crate) async fn provisioner_actor(
        &self,
        tenant: &TenantId,
        token_id: Uuid,
    ) -> Result<Actor> {
        let revoked = || Error::Unauthenticated("invalid or revoked provisioning token".into());
        let token = self
            .storage
            .provisioning_token(tenant, token_id)
            .await?
            .filter(|t| t.revoked_at.is_none())
            .ok_or_else(revoked)?;
        let grants = self.storage.actor_grants(tenant, token.created_by).await?;
        let mut actor = self.actor_from(tenant, token.created_by, grants)?;
        if !actor.permissions.contains(&Permission::USER_PROVISION) {
            return Err(revoked());
        }
        let in_scope = |p: &Permission| PROVISIONING_SCOPE.contains(p);
        actor.permissions.retain(in_scope);
        actor.held.retain(|p| !p.is_built_in() || in_scope(p));
        actor.user_id = Uuid::nil();
        Ok(actor)
    }
}
