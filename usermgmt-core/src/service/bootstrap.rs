//! The first super administrator, and keeping one.

use super::core::UserService;
use super::inputs::{CreateUser, UpdateUser};
use crate::error::{Error, FieldErrors, Result};
use crate::model::{AuditAction, SUPER_ADMIN_ROLE, Status, User};
use crate::password::Password;
use crate::principal::Principal;
use crate::storage::Identifier;

impl UserService {
    /// Makes sure the configured administrator of a tenant can administer it. Meant for the
    /// host application at start-up; every change is audited as the system.
    ///
    /// - The `super_admin` role ([`crate::model::SUPER_ADMIN_ROLE`]) is created if missing,
    ///   and given back any permission it lacks.
    /// - Without a user with this email, an active admin holding the role is created.
    /// - An existing user with this email who was created holding the role (by an earlier
    ///   bootstrap, or by another super admin) and lost it gets it back; one who is no longer
    ///   active is reactivated only when the tenant has no other active super admin (so a
    ///   restart recovers a locked-out tenant without undoing a deliberate suspension). An
    ///   account someone created *without* the role is never promoted because its email is
    ///   the configured one (a user who may create learners could otherwise take the tenant).
    ///
    /// Returns the administrator.
    pub async fn bootstrap_super_admin(
        &self,
        tenant: &crate::model::TenantId,
        name: &str,
        email: &str,
        password: Password,
    ) -> Result<User> {
        let system = Principal::system(tenant.clone());
        let email =
            crate::validate::normalize_email(email).map_err(|m| Error::invalid("email", m))?;
        let role = self.ensure_super_admin_role(&system).await?;
        let existing = self
            .storage
            .find_user(tenant, &Identifier::Email(email.clone()))
            .await?;
        if let Some(user) = existing {
            return self.restore_super_admin(&system, user).await;
        }
        let mut errors = FieldErrors::new();
        self.config
            .password
            .check(&password, "password", &mut errors);
        errors.into_result()?;
        let input = CreateUser {
            name: name.to_owned(),
            email: Some(email),
            password: Some(password),
            is_admin: true,
            roles: vec![role.name],
            email_verified: true,
            ..Default::default()
        };
        let now = self.clock.now();
        let mut draft = input.draft();
        draft
            .validate(&self.config.validation, now.date_naive())
            .map_err(Error::Validation)?;
        self.store_new_user(&system, draft, input.password.as_ref(), now)
            .await
    }

    /// The tenant's super-admin role, created or completed so that it holds every permission.
    async fn ensure_super_admin_role(&self, system: &Principal) -> Result<crate::model::Role> {
        let tenant = system.tenant_id();
        let all = self.config.permissions.all();
        let found = self
            .storage
            .roles_by_names(tenant, &[SUPER_ADMIN_ROLE.to_owned()])
            .await?
            .pop();
        match found {
            None => {
                self.insert_role_as(system, SUPER_ADMIN_ROLE, Some("Every permission"), all)
                    .await
            }
            Some(role) if role.permissions.is_superset(&all) => Ok(role),
            Some(role) => {
                let mut next = role.clone();
                next.permissions.extend(all);
                self.store_role_change(system, &role, next).await
            }
        }
    }

    /// Gives the configured administrator the super-admin role back (and reactivates them
    /// when the tenant has no other active super admin).
    async fn restore_super_admin(&self, system: &Principal, user: User) -> Result<User> {
        let has_role = user.roles.iter().any(|r| r == SUPER_ADMIN_ROLE);
        if !self.created_as_super_admin(&user).await? {
            tracing::warn!(
                user = %user.id,
                "the configured administrator's email belongs to an account not created as a super admin: left as it is"
            );
            return Ok(user);
        }
        let reactivate = user.status != Status::Active
            && self
                .super_admins(system.tenant_id())
                .await?
                .iter()
                .all(|u| u.id == user.id);
        if has_role && !reactivate {
            return Ok(user);
        }
        let mut roles = user.roles.clone();
        if !has_role {
            roles.push(SUPER_ADMIN_ROLE.to_owned());
        }
        tracing::warn!(user = %user.id, reactivate, "restoring the configured super admin");
        let patch = UpdateUser {
            roles: Some(roles),
            is_admin: Some(true),
            status: reactivate.then_some(Status::Active),
            ..Default::default()
        };
        let actor = self.system_actor(system)?;
        self.update_as(system, &actor, user.id, patch).await
    }

    /// Whether the user's creation event gave them the super-admin role.
    async fn created_as_super_admin(&self, user: &User) -> Result<bool> {
        let (_, total) = self
            .storage
            .list_audit(&user.tenant_id, user.id, 0, 1)
            .await?;
        let (oldest, _) = self
            .storage
            .list_audit(&user.tenant_id, user.id, total.saturating_sub(1), 1)
            .await?;
        Ok(oldest.first().is_some_and(|event| {
            event.action == AuditAction::UserCreated
                && event.changes.get("roles").is_some_and(|roles| {
                    roles
                        .new
                        .as_array()
                        .is_some_and(|r| r.iter().any(|name| name == SUPER_ADMIN_ROLE))
                })
        }))
    }
}
