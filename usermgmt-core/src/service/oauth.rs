//! Linking and unlinking OAuth provider accounts.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::audit::event;
use super::core::UserService;
use crate::error::{Error, Result};
use crate::model::{
    AuditAction, AuditTargetKind, FieldChange, OAuthLink, OAuthProvider, Permission, User,
};
use crate::principal::Principal;

/// Link a provider account.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkOAuth {
    /// The provider.
    pub provider: OAuthProvider,
    /// The account id at the provider: 1–255 printable characters.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schemas::ExternalId))]
    pub provider_user_id: String,
}

/// Attempts when another change to the user races with a link or unlink.
const ATTEMPTS: usize = 3;

fn link_change(provider: OAuthProvider, linked: bool) -> BTreeMap<String, FieldChange> {
    let (old, new) = if linked {
        (Value::Null, provider.as_str().into())
    } else {
        (provider.as_str().into(), Value::Null)
    };
    BTreeMap::from([("oauth_provider".to_owned(), FieldChange { old, new })])
}

impl UserService {
    /// Links a provider account to a user. Requires `user.update`.
    pub async fn link_oauth(
        &self,
        principal: &Principal,
        user_id: Uuid,
        input: LinkOAuth,
    ) -> Result<User> {
        let actor = self
            .authorize_write(principal, Permission::USER_UPDATE)
            .await?;
        self.ensure_outranks(&actor, user_id).await?;
        let provider_user_id = input.provider_user_id.trim().to_owned();
        if provider_user_id.is_empty()
            || provider_user_id.chars().count() > 255
            || provider_user_id.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                "provider_user_id",
                "must be 1-255 printable characters",
            ));
        }
        let now = self.clock.now();
        let link = OAuthLink {
            provider: input.provider,
            provider_user_id,
            linked_at: now,
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let current = self.load_user(&actor, user_id).await?;
            let audit = event(
                principal,
                AuditTargetKind::User,
                user_id,
                AuditAction::OAuthLinked,
                link_change(link.provider, true),
                now,
            );
            match self
                .storage
                .link_oauth(&actor.tenant_id, user_id, current.version, &link, audit)
                .await
            {
                Err(Error::VersionConflict { .. }) if attempts < ATTEMPTS => continue,
                other => return other,
            }
        }
    }

    /// Unlinks a provider account, unless it is the last way the user can sign in (no
    /// password and no other provider). Requires `user.update`.
    pub async fn unlink_oauth(
        &self,
        principal: &Principal,
        user_id: Uuid,
        provider: OAuthProvider,
    ) -> Result<User> {
        let actor = self
            .authorize_write(principal, Permission::USER_UPDATE)
            .await?;
        self.ensure_outranks(&actor, user_id).await?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let current = self.load_user(&actor, user_id).await?;
            if !current.oauth_providers.contains(&provider) {
                return Err(Error::NotFound("oauth link"));
            }
            let others = current.oauth_providers.iter().any(|p| *p != provider);
            if !current.has_password && !others {
                return Err(Error::invalid(
                    "provider",
                    "this is the last way the user can sign in; set a password or link another provider first",
                ));
            }
            let now = self.clock.now();
            let audit = event(
                principal,
                AuditTargetKind::User,
                user_id,
                AuditAction::OAuthUnlinked,
                link_change(provider, false),
                now,
            );
            // The version guard makes the check above hold at the moment of the unlink.
            match self
                .storage
                .unlink_oauth(
                    &actor.tenant_id,
                    user_id,
                    current.version,
                    provider,
                    now,
                    audit,
                )
                .await
            {
                Err(Error::VersionConflict { .. }) if attempts < ATTEMPTS => continue,
                other => return other,
            }
        }
    }
}
