//! Roles, the permission catalog, direct grants and effective permissions.

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use super::access::Actor;
use super::audit::event;
use super::core::UserService;
use super::inputs::{CreateRole, UpdateRole};
use crate::error::{Error, FieldErrors, Result};
use crate::model::{
    AuditAction, AuditTargetKind, FieldChange, Permission, PermissionInfo, PermissionRegistry,
    PermissionSet, Role, SUPER_ADMIN_ROLE, normalize_role_name,
};
use crate::principal::Principal;
use crate::validate::{MAX_PERMISSIONS, check_list_len};

const MAX_DESCRIPTION_LEN: usize = 500;

fn check_description(description: &Option<String>, errors: &mut FieldErrors) -> Option<String> {
    let description = description
        .as_ref()
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN)
    {
        errors.add(
            "description",
            format!("must be at most {MAX_DESCRIPTION_LEN} characters"),
        );
    }
    description
}

fn role_diff(old: Option<&Role>, new: Option<&Role>) -> BTreeMap<String, FieldChange> {
    let view = |role: Option<&Role>| -> [(&'static str, Value); 3] {
        [
            ("name", role.map_or(Value::Null, |r| r.name.clone().into())),
            (
                "description",
                role.and_then(|r| r.description.clone())
                    .map_or(Value::Null, Value::from),
            ),
            (
                "permissions",
                role.map_or(Value::Null, |r| {
                    r.permissions
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .into()
                }),
            ),
        ]
    };
    view(old)
        .into_iter()
        .zip(view(new))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((field, old), (_, new))| (field.to_owned(), FieldChange { old, new }))
        .collect()
}

impl UserService {
    /// Every registered permission: the built-ins and the host application's. Requires
    /// `role.manage`.
    pub async fn permission_catalog(&self, principal: &Principal) -> Result<Vec<PermissionInfo>> {
        self.authorize(principal, Permission::ROLE_MANAGE).await?;
        Ok(self.config.permissions.catalog())
    }

    /// The registry of permissions this service knows.
    pub fn permissions(&self) -> &PermissionRegistry {
        &self.config.permissions
    }

    /// A stored role as the service sees it: without permissions that are not registered.
    fn registered(&self, mut role: Role) -> Role {
        role.permissions = self.config.permissions.known(role.permissions);
        role
    }

    /// The roles of the tenant, by name. Requires `role.manage`.
    pub async fn list_roles(&self, principal: &Principal) -> Result<Vec<Role>> {
        let actor = self.authorize(principal, Permission::ROLE_MANAGE).await?;
        let roles = self.storage.list_roles(&actor.tenant_id).await?;
        Ok(roles.into_iter().map(|r| self.registered(r)).collect())
    }

    /// One role. Requires `role.manage`.
    pub async fn get_role(&self, principal: &Principal, role_id: Uuid) -> Result<Role> {
        let actor = self.authorize(principal, Permission::ROLE_MANAGE).await?;
        self.storage
            .get_role(&actor.tenant_id, role_id)
            .await?
            .map(|r| self.registered(r))
            .ok_or(Error::NotFound("role"))
    }

    /// Creates a role. Requires `role.manage` and every permission the role carries.
    pub async fn create_role(&self, principal: &Principal, input: CreateRole) -> Result<Role> {
        let actor = self
            .authorize_write(principal, Permission::ROLE_MANAGE)
            .await?;
        let mut errors = FieldErrors::new();
        let mut listed = input.permissions;
        crate::validate::cap_list(&mut listed, MAX_PERMISSIONS, "permissions", &mut errors);
        self.config
            .permissions
            .check(&listed, "permissions", &mut errors);
        let permissions: PermissionSet = listed.into_iter().collect();
        let name = normalize_role_name(&input.name, "name", &mut errors);
        let description = check_description(&input.description, &mut errors);
        errors.into_result()?;
        actor.require_reach(&permissions)?;
        let name = name.ok_or_else(|| Error::invalid("name", "is required"))?;
        self.insert_role_as(principal, &name, description.as_deref(), permissions)
            .await
    }

    pub(crate) async fn insert_role_as(
        &self,
        principal: &Principal,
        name: &str,
        description: Option<&str>,
        permissions: PermissionSet,
    ) -> Result<Role> {
        let now = self.clock.now();
        let role = Role {
            id: Uuid::now_v7(),
            tenant_id: principal.tenant_id().clone(),
            name: name.to_owned(),
            description: description.map(str::to_owned),
            permissions,
            created_at: now,
            updated_at: now,
        };
        let audit = event(
            principal,
            AuditTargetKind::Role,
            role.id,
            AuditAction::RoleCreated,
            role_diff(None, Some(&role)),
            now,
        );
        self.storage
            .insert_role(&role.tenant_id, &role, audit)
            .await?;
        Ok(role)
    }

    /// Changes a role. Requires `role.manage`, and every permission of the role both before
    /// (so a limited manager cannot strip a stronger role) and after the change.
    pub async fn update_role(
        &self,
        principal: &Principal,
        role_id: Uuid,
        input: UpdateRole,
    ) -> Result<Role> {
        let (actor, current) = self.role_within_reach(principal, role_id).await?;
        let mut next = current.clone();
        let mut errors = FieldErrors::new();
        if let Some(name) = &input.name
            && let Some(name) = normalize_role_name(name, "name", &mut errors)
        {
            next.name = name;
        }
        if let Some(description) = &input.description {
            next.description = check_description(description, &mut errors);
        }
        if let Some(permissions) = &input.permissions {
            match check_list_len(permissions.len(), MAX_PERMISSIONS, "permissions") {
                Ok(()) => {
                    self.config
                        .permissions
                        .check(permissions, "permissions", &mut errors);
                    next.permissions = permissions.iter().cloned().collect();
                }
                Err(too_many) => errors.merge(too_many),
            }
        }
        if current.name == SUPER_ADMIN_ROLE {
            if next.name != current.name {
                errors.add("name", "the super-admin role keeps its name");
            }
            // Its stored names only grow (bulk delete relies on it): names no longer
            // registered, which no form offers, stay.
            let dormant = current
                .permissions
                .iter()
                .filter(|p| !self.config.permissions.contains(p));
            next.permissions.extend(dormant.cloned());
            if !next.permissions.is_superset(&current.permissions) {
                errors.add("permissions", "the super-admin role keeps every permission");
            }
        }
        errors.into_result()?;
        actor.require_reach(&next.permissions)?;
        let stored = self.store_role_change(principal, &current, next).await?;
        Ok(self.registered(stored))
    }

    /// Stores a changed role with its audit event (nothing when nothing changed).
    pub(crate) async fn store_role_change(
        &self,
        principal: &Principal,
        current: &Role,
        mut next: Role,
    ) -> Result<Role> {
        let changes = role_diff(Some(current), Some(&next));
        if changes.is_empty() {
            return Ok(next);
        }
        let now = self.clock.now();
        next.updated_at = now;
        let audit = event(
            principal,
            AuditTargetKind::Role,
            current.id,
            AuditAction::RoleUpdated,
            changes,
            now,
        );
        self.storage
            .update_role(&next.tenant_id, &next, audit)
            .await?;
        Ok(next)
    }

    /// Deletes a role no user holds (a held role is a conflict on `role`). Requires
    /// `role.manage` and every permission of the role.
    pub async fn delete_role(&self, principal: &Principal, role_id: Uuid) -> Result<()> {
        let (actor, current) = self.role_within_reach(principal, role_id).await?;
        if current.name == SUPER_ADMIN_ROLE {
            return Err(Error::invalid(
                "role_id",
                "the super-admin role cannot be deleted",
            ));
        }
        let now = self.clock.now();
        let audit = event(
            principal,
            AuditTargetKind::Role,
            role_id,
            AuditAction::RoleDeleted,
            role_diff(Some(&current), None),
            now,
        );
        self.storage
            .delete_role(&actor.tenant_id, role_id, audit)
            .await
    }

    /// Authorises `role.manage` for a change and loads a role (as stored) whose every
    /// permission the actor holds.
    async fn role_within_reach(
        &self,
        principal: &Principal,
        role_id: Uuid,
    ) -> Result<(Actor, Role)> {
        let actor = self
            .authorize_write(principal, Permission::ROLE_MANAGE)
            .await?;
        let role = self
            .storage
            .get_role(&actor.tenant_id, role_id)
            .await?
            .ok_or(Error::NotFound("role"))?;
        // As stored: a dormant name the actor lacks keeps the role out of reach, and the
        // audit diff of a change records it if the change drops it.
        actor.require_reach(&role.permissions)?;
        Ok((actor, role))
    }

    /// A user's effective permissions: the union of their roles' and direct permissions.
    /// Requires `user.view`.
    pub async fn effective_permissions(
        &self,
        principal: &Principal,
        user_id: Uuid,
    ) -> Result<PermissionSet> {
        let actor = self.authorize(principal, Permission::USER_VIEW).await?;
        let grants = self.storage.actor_grants(&actor.tenant_id, user_id).await?;
        grants
            .map(|g| self.config.permissions.known(g.permissions))
            .ok_or(Error::NotFound("user"))
    }
}

/// A stored permission name that is not registered: it grants nothing until registered
/// again (see [`UserService::permission_report`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnregisteredPermission {
    /// The stored name.
    pub name: String,
    /// Roles that still carry it, in every tenant.
    pub roles: u64,
    /// Users still granted it directly, in every tenant.
    pub users: u64,
}

impl UserService {
    /// The permission names stored in roles or direct grants that the registry does not
    /// hold (a host permission removed from the registry, say), each logged as a warning.
    /// Run it at start-up: such grants are kept but ignored by every check, never granted,
    /// until the name is registered again or the roles are saved without it.
    pub async fn permission_report(&self) -> Result<Vec<UnregisteredPermission>> {
        let stored = self.storage.stored_permissions().await?;
        let unregistered: Vec<UnregisteredPermission> = stored
            .into_iter()
            .filter(|s| self.config.permissions.get(&s.name).is_none())
            .map(|s| UnregisteredPermission {
                name: s.name,
                roles: s.roles,
                users: s.users,
            })
            .collect();
        for p in &unregistered {
            tracing::warn!(
                permission = %p.name,
                roles = p.roles,
                users = p.users,
                "a stored permission is not registered: it is ignored by every check"
            );
        }
        Ok(unregistered)
    }
}
