//! Authorisation: resolving the acting principal and checking permissions.

use uuid::Uuid;

use super::core::UserService;
use crate::error::{Error, Result};
use crate::model::{
    ImpersonationMode, Permission, PermissionSet, Session, SessionToken, Status, TenantId,
};
use crate::principal::Principal;
use crate::storage::ActorGrants;

/// An authenticated, authorised acting user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The actor's tenant.
    pub tenant_id: TenantId,
    /// The acting user.
    pub user_id: Uuid,
    /// Effective permissions: the registered ones the user holds through roles or directly.
    pub permissions: PermissionSet,
    /// Every permission name stored for the user, registered or not. Reach is measured with
    /// it (granting, editing roles, acting on other users), so a name that grants nothing
    /// today — one dropped from the registry — cannot be handed on or taken over by someone
    /// who lacks it and come back to life when it is registered again.
    pub held: PermissionSet,
    /// The system principal: it reaches every user and role, whatever they hold.
    pub(crate) unbounded: bool,
}

impl Actor {
    /// The first permission of `wanted` the actor does not hold (among its effective,
    /// registered [`Actor::permissions`]).
    pub fn first_missing<'a>(
        &self,
        wanted: impl IntoIterator<Item = &'a Permission>,
    ) -> Option<Permission> {
        wanted
            .into_iter()
            .find(|p| !self.permissions.contains(p))
            .cloned()
    }

    /// Refuses unless the actor holds every permission in `wanted` (effective, registered
    /// ones: a name dropped from the registry grants nothing).
    pub fn require_all<'a>(&self, wanted: impl IntoIterator<Item = &'a Permission>) -> Result<()> {
        match self.first_missing(wanted) {
            Some(missing) => Err(Error::Forbidden(missing)),
            None => Ok(()),
        }
    }

    /// Refuses unless the actor reaches every name in `wanted` — granting them, editing a
    /// role that carries them, acting on a user who holds them (no privilege escalation):
    /// measured against [`Actor::held`], so a dormant name counts too. The system principal
    /// reaches everything.
    pub(crate) fn require_reach<'a>(
        &self,
        wanted: impl IntoIterator<Item = &'a Permission>,
    ) -> Result<()> {
        if self.unbounded {
            return Ok(());
        }
        match wanted.into_iter().find(|p| !self.held.contains(p)) {
            Some(missing) => Err(Error::Forbidden(missing.clone())),
            None => Ok(()),
        }
    }
}

/// Whether the principal is a read-only impersonation session.
fn read_only(principal: &Principal) -> bool {
    principal
        .impersonation()
        .is_some_and(|i| i.mode == ImpersonationMode::Impersonate)
}

impl UserService {
    /// Resolves a user principal to an actor holding `permission`, before any other storage
    /// access. The system principal and inactive or unknown users are unauthenticated.
    pub(crate) async fn authorize(
        &self,
        principal: &Principal,
        permission: Permission,
    ) -> Result<Actor> {
        let actor = self.resolve_actor(principal).await?;
        actor.require_all([&permission])?;
        Ok(actor)
    }

    /// The host application's check for its own operations: the acting user behind
    /// `principal`, when they hold `permission`.
    ///
    /// Refusals are typed: [`Error::Unauthenticated`] for the system principal or a user who
    /// is not active (suspended, inactive, deleted or unknown), [`Error::Forbidden`] for a
    /// permission the user does not hold or that is not registered (a stored grant of an
    /// unregistered name counts for nothing), and [`Error::ReadOnlyImpersonation`] for a
    /// permission registered as writing (see
    /// [`PermissionRegistry::register_writing`](crate::model::PermissionRegistry::register_writing))
    /// asked for in a read-only impersonation session. Grants are read at every check, so a
    /// revocation applies to the next request.
    pub async fn check_permission(
        &self,
        principal: &Principal,
        permission: &Permission,
    ) -> Result<Actor> {
        self.gate(principal, permission)?;
        self.authorize(principal, permission.clone()).await
    }

    /// [`UserService::authenticate`] and [`UserService::check_permission`] together, with the
    /// session and its user's grants read in one storage trip: what a guard in front of a
    /// host route asks (see `usermgmt_axum::require`). The same rules and refusals as the two
    /// calls.
    pub async fn authenticate_for(
        &self,
        token: &SessionToken,
        permission: &Permission,
    ) -> Result<(Principal, Session, Actor)> {
        let hash = super::login::usable_token(token)?;
        let (session, grants) = match self.storage.session_with_grants(hash).await? {
            Some((session, grants)) => (Some(session), grants),
            None => (None, None),
        };
        let (principal, session) = self.admit_session(session).await?;
        self.gate(&principal, permission)?;
        let actor = self.actor_from(&session.tenant_id, session.user_id, grants)?;
        actor.require_all([permission])?;
        Ok((principal, session, actor))
    }

    /// The refusals of [`UserService::check_permission`] that need no storage: a name the
    /// registry does not hold, a writing permission in a read-only impersonation session.
    pub(crate) fn gate(&self, principal: &Principal, permission: &Permission) -> Result<()> {
        if !self.config.permissions.contains(permission) {
            return Err(Error::Forbidden(permission.clone()));
        }
        if self.config.permissions.writes(permission) && read_only(principal) {
            return Err(Error::ReadOnlyImpersonation);
        }
        Ok(())
    }

    /// The signed-in user's own effective permissions, so a user interface can hide what the
    /// user may not do (the operations still check). Needs no permission; the system
    /// principal and inactive users are unauthenticated.
    pub async fn own_permissions(&self, principal: &Principal) -> Result<PermissionSet> {
        Ok(self.resolve_actor(principal).await?.permissions)
    }

    /// The acting user behind a user principal, with their effective permissions.
    pub(crate) async fn resolve_actor(&self, principal: &Principal) -> Result<Actor> {
        let (tenant_id, user_id) = match principal {
            Principal::User {
                tenant_id, user_id, ..
            } => (tenant_id, *user_id),
            Principal::System { .. } => {
                return Err(Error::Unauthenticated(
                    "the system token cannot use admin operations".to_owned(),
                ));
            }
            Principal::Provisioner {
                tenant_id,
                token_id,
            } => return self.provisioner_actor(tenant_id, *token_id).await,
        };
        let grants = self.storage.actor_grants(tenant_id, user_id).await?;
        self.actor_from(tenant_id, user_id, grants)
    }

    /// The acting user from their stored grants: refused unless they are an active user.
    pub(crate) fn actor_from(
        &self,
        tenant_id: &TenantId,
        user_id: Uuid,
        grants: Option<ActorGrants>,
    ) -> Result<Actor> {
        let grants = match grants {
            Some(grants) if grants.status == Status::Active => grants,
            _ => {
                return Err(Error::Unauthenticated(
                    "the acting user is not an active user".to_owned(),
                ));
            }
        };
        Ok(Actor {
            tenant_id: tenant_id.clone(),
            user_id,
            permissions: self.config.permissions.known(grants.permissions.clone()),
            held: grants.permissions,
            unbounded: false,
        })
    }

    /// [`UserService::authorize`] for an operation that changes data: a read-only
    /// impersonation session is refused with [`Error::ReadOnlyImpersonation`].
    pub(crate) async fn authorize_write(
        &self,
        principal: &Principal,
        permission: Permission,
    ) -> Result<Actor> {
        if read_only(principal) {
            return Err(Error::ReadOnlyImpersonation);
        }
        self.authorize(principal, permission).await
    }

    /// Refuses to act on a user who holds permissions the actor lacks (so a limited admin
    /// cannot take over or remove a more powerful account), names no longer registered
    /// included.
    pub(crate) async fn ensure_outranks(&self, actor: &Actor, target: Uuid) -> Result<()> {
        if target == actor.user_id {
            return Ok(());
        }
        if let Some(grants) = self.storage.actor_grants(&actor.tenant_id, target).await? {
            actor.require_reach(&grants.permissions)?;
        }
        Ok(())
    }
}
