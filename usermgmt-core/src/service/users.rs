//! User operations: create, get, list, update (incl. credentials and status), delete.

use uuid::Uuid;

use super::access::Actor;
use super::audit::{event, update_events, user_diff};
use super::core::UserService;
use super::guards::is_super_admin;
use super::inputs::{CreateUser, UpdateUser};
use super::new_user::{apply_draft, new_user_record};
use crate::error::{Error, FieldErrors, Result};
use crate::model::{AuditAction, AuditTargetKind, Permission, Status, User};
use crate::password::Password;
use crate::principal::Principal;
use crate::storage::{PasswordChange, UserReplace};
use crate::validate::UserDraft;

/// How many times an update without `expected_version` is retried when another writer
/// changed the user in between.
const UNCONDITIONAL_UPDATE_ATTEMPTS: usize = 3;

impl UserService {
    pub(crate) async fn load_user(&self, actor: &Actor, user_id: Uuid) -> Result<User> {
        self.storage
            .get_user(&actor.tenant_id, user_id)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    /// Creates a user. Requires `user.create`, and every permission the granted roles and
    /// direct permissions carry (no privilege escalation).
    pub async fn create_user(&self, principal: &Principal, input: CreateUser) -> Result<User> {
        let actor = self
            .authorize_write(principal, Permission::USER_CREATE)
            .await?;
        self.create_as(principal, &actor, input).await
    }

    /// Validates and stores a new user on behalf of `actor` (whose permissions bound what
    /// may be granted).
    pub(crate) async fn create_as(
        &self,
        principal: &Principal,
        actor: &Actor,
        input: CreateUser,
    ) -> Result<User> {
        let now = self.clock.now();
        let mut draft = input.draft();
        let mut errors = match draft.validate(&self.config.validation, now.date_naive()) {
            Ok(()) => FieldErrors::new(),
            Err(errors) => errors,
        };
        if draft.status == Status::Deleted {
            errors.add("status", "a user cannot be created deleted");
        }
        if let Some(password) = &input.password {
            self.config
                .password
                .check(password, "password", &mut errors);
        }
        super::invitations::check_invite(&input, &draft, &mut errors);
        let granted = self.check_grants(actor, &draft, None, &mut errors).await?;
        errors.into_result()?;
        actor.require_reach(&granted)?;

        let user = self.store_new_user(principal, draft, input.password.as_ref(), now);
        self.invite_created(principal, user.await?, input.invite)
            .await
    }

    /// One user of the caller's tenant. Requires `user.view`.
    pub async fn get_user(&self, principal: &Principal, user_id: Uuid) -> Result<User> {
        let actor = self.authorize(principal, Permission::USER_VIEW).await?;
        self.load_user(&actor, user_id).await
    }

    /// Partially updates a user: profile, flags, direct credential edits (email, phone,
    /// username, password), status (including reactivation of a deleted user), roles and
    /// direct permissions. A password change ends the user's sessions unless
    /// `keep_sessions` is set; a change to any status other than `active` ends them too. Requires `user.update` (and `user.delete` to set status `deleted`),
    /// every permission the target holds, and every permission newly granted.
    pub async fn update_user(
        &self,
        principal: &Principal,
        user_id: Uuid,
        patch: UpdateUser,
    ) -> Result<User> {
        let actor = self
            .authorize_write(principal, Permission::USER_UPDATE)
            .await?;
        if patch.status == Some(Status::Deleted) {
            actor.require_all([&Permission::USER_DELETE])?;
        }
        let own = actor.user_id == user_id
            || principal
                .impersonation()
                .is_some_and(|i| i.impersonator_id == user_id);
        if own && patch.status.is_some_and(|s| s != Status::Active) {
            return Err(Error::invalid(
                "status",
                "you cannot deactivate, suspend or delete your own account",
            ));
        }
        self.ensure_outranks(&actor, user_id).await?;
        self.update_as(principal, &actor, user_id, patch).await
    }

    /// Applies a patch on behalf of `actor`, retrying (when no version was given) if another
    /// writer changed the user in between.
    pub(crate) async fn update_as(
        &self,
        principal: &Principal,
        actor: &Actor,
        user_id: Uuid,
        patch: UpdateUser,
    ) -> Result<User> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let current = self.load_user(actor, user_id).await?;
            if let Some(expected) = patch.expected_version
                && expected != current.version
            {
                return Err(Error::VersionConflict {
                    expected,
                    current: current.version,
                });
            }
            let result = self.apply_update(principal, actor, &current, &patch).await;
            match result {
                Err(Error::VersionConflict { .. })
                    if patch.expected_version.is_none()
                        && attempts < UNCONDITIONAL_UPDATE_ATTEMPTS => {}
                other => return other,
            }
        }
    }

    async fn apply_update(
        &self,
        principal: &Principal,
        actor: &Actor,
        current: &User,
        patch: &UpdateUser,
    ) -> Result<User> {
        let Some((change, demotes)) = self
            .plan_update(principal, actor, current, patch, None)
            .await?
        else {
            return Ok(current.clone());
        };
        let _one_at_a_time = match demotes {
            Some(field) => Some(
                self.keep_a_super_admin(&actor.tenant_id, field, |u| u.id == current.id)
                    .await?,
            ),
            None => None,
        };
        self.storage.replace_user(&actor.tenant_id, change).await
    }

    /// The change a patch makes to `current` on behalf of `actor` (validated, grants within
    /// reach, a plain-text password hashed — or `imported`, another system's hash, set), and
    /// the field a change that takes a super admin away is about; `None` when nothing changes.
    pub(super) async fn plan_update(
        &self,
        principal: &Principal,
        actor: &Actor,
        current: &User,
        patch: &UpdateUser,
        imported: Option<crate::password::PasswordHash>,
    ) -> Result<Option<(UserReplace, Option<&'static str>)>> {
        let now = self.clock.now();
        let mut draft = patch.apply(current);
        let mut errors = match draft.validate(&self.config.validation, now.date_naive()) {
            Ok(()) => FieldErrors::new(),
            Err(errors) => errors,
        };
        if let Some(Some(password)) = &patch.password {
            self.config
                .password
                .check(password, "password", &mut errors);
        }
        let granted = self
            .check_grants(actor, &draft, Some(current), &mut errors)
            .await?;
        errors.into_result()?;
        actor.require_reach(&granted)?;
        let password_hash = match &patch.password {
            Some(Some(password)) => Some(self.hash_password(password).await?),
            _ => imported,
        };

        let mut next = current.clone();
        apply_draft(&mut next, draft);
        next.updated_at = now;
        if next.status == Status::Deleted && current.status != Status::Deleted {
            next.deleted_at = Some(now);
        } else if next.status != Status::Deleted {
            next.deleted_at = None;
        }
        let (password, password_diff) = match (&patch.password, password_hash) {
            (Some(None), _) => {
                next.has_password = false;
                (PasswordChange::Clear, Some((current.has_password, false)))
            }
            (_, Some(hash)) => {
                next.has_password = true;
                (
                    PasswordChange::Set(hash),
                    Some((current.has_password, true)),
                )
            }
            _ => (PasswordChange::Keep, None),
        };
        let changes = user_diff(Some(current), &next, password_diff);
        if changes.is_empty() {
            return Ok(None);
        }
        let demotes = (is_super_admin(current) && !is_super_admin(&next)).then_some(
            if next.status == Status::Active {
                "roles"
            } else {
                "status"
            },
        );
        let password_changed = matches!(password, PasswordChange::Set(_) | PasswordChange::Clear);
        let ends_sessions = if password_changed && !patch.keep_sessions {
            Some("password_changed")
        } else if next.status != Status::Active && next.status != current.status {
            Some("status_changed")
        } else {
            None
        };
        let audit = update_events(principal, current.id, next.status, changes, now);
        let change = UserReplace {
            user: next,
            password,
            expected_version: current.version,
            audit,
            end_sessions: ends_sessions
                .map(|reason| sessions_ended(principal, current.id, reason, now)),
        };
        Ok(Some((change, demotes)))
    }

    /// Soft-deletes a user: status `deleted`, `deleted_at` set, data kept. Reactivate by
    /// updating the status back to `active`. Requires `user.delete`; an actor cannot delete
    /// themselves.
    pub async fn delete_user(&self, principal: &Principal, user_id: Uuid) -> Result<User> {
        let actor = self
            .authorize_write(principal, Permission::USER_DELETE)
            .await?;
        if actor.user_id == user_id {
            return Err(Error::invalid(
                "user_id",
                "you cannot delete your own account",
            ));
        }
        self.ensure_outranks(&actor, user_id).await?;
        let current = self.load_user(&actor, user_id).await?;
        self.soft_delete(principal, current).await
    }

    /// Soft-deletes `current` on behalf of `principal` (nothing when already deleted), ending
    /// the user's sessions; the tenant's last active super admin stays.
    pub(crate) async fn soft_delete(&self, principal: &Principal, current: User) -> Result<User> {
        let (tenant, user_id) = (current.tenant_id.clone(), current.id);
        let now = self.clock.now();
        if current.status == Status::Deleted {
            return Ok(current);
        }
        let _one_at_a_time = if is_super_admin(&current) {
            Some(
                self.keep_a_super_admin(&tenant, "user_id", |u| u.id == user_id)
                    .await?,
            )
        } else {
            None
        };
        let mut next = current.clone();
        next.status = Status::Deleted;
        next.deleted_at = Some(now);
        next.updated_at = now;
        let changes = user_diff(Some(&current), &next, None);
        let audit = vec![event(
            principal,
            AuditTargetKind::User,
            user_id,
            AuditAction::UserDeleted,
            changes,
            now,
        )];
        let change = UserReplace {
            user: next,
            password: PasswordChange::Keep,
            expected_version: current.version,
            audit,
            end_sessions: Some(sessions_ended(principal, user_id, "deleted", now)),
        };
        self.storage.replace_user(&tenant, change).await
    }

    /// Checks that the draft's roles exist and its new direct permissions are registered
    /// (field errors otherwise) and returns every permission newly granted by roles or
    /// directly, which the actor must hold — a role's names that are no longer registered
    /// included (they are dormant, not gone).
    pub(super) async fn check_grants(
        &self,
        actor: &Actor,
        draft: &UserDraft,
        current: Option<&User>,
        errors: &mut FieldErrors,
    ) -> Result<crate::model::PermissionSet> {
        let mut granted = crate::model::PermissionSet::new();
        let new_roles: Vec<String> = draft
            .roles
            .iter()
            .filter(|r| current.is_none_or(|c| !c.roles.contains(r)))
            .cloned()
            .collect();
        if !draft.roles.is_empty() {
            let found = self
                .storage
                .roles_by_names(&actor.tenant_id, &draft.roles)
                .await?;
            for name in &draft.roles {
                match found.iter().find(|r| &r.name == name) {
                    Some(role) if new_roles.contains(name) => {
                        granted.extend(role.permissions.iter().cloned())
                    }
                    Some(_) => {}
                    None => errors.add("roles", format!("unknown role `{name}`")),
                }
            }
        }
        let direct: Vec<&crate::model::Permission> = draft
            .permissions
            .iter()
            .filter(|p| current.is_none_or(|c| !c.permissions.contains(p)))
            .collect();
        self.config
            .permissions
            .check(direct.iter().copied(), "permissions", errors);
        granted.extend(direct.into_iter().cloned());
        Ok(granted)
    }

    /// Hashes the password (off the executor), builds the user from a validated draft and
    /// inserts it with its creation event.
    pub(super) async fn store_new_user(
        &self,
        principal: &Principal,
        draft: UserDraft,
        password: Option<&Password>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<User> {
        let password_hash = match password {
            Some(password) => Some(self.hash_password(password).await?),
            None => None,
        };
        let (new, audit) = new_user_record(principal, draft, password_hash, now);
        self.storage
            .insert_user(principal.tenant_id(), new, audit)
            .await
    }
}

/// The event recording that all of a user's sessions were ended, and why.
fn sessions_ended(
    principal: &Principal,
    user_id: Uuid,
    reason: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> crate::model::AuditEvent {
    let mut changes = std::collections::BTreeMap::new();
    changes.insert(
        "reason".to_owned(),
        crate::model::FieldChange {
            old: serde_json::Value::Null,
            new: reason.into(),
        },
    );
    event(
        principal,
        AuditTargetKind::User,
        user_id,
        AuditAction::SessionsTerminated,
        changes,
        now,
    )
}
