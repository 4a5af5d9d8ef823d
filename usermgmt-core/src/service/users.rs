//! User operations: create, get, list, update (incl. credentials and status), delete.

use serde::Deserialize;
use uuid::Uuid;

use super::UserService;
use super::access::Actor;
use super::audit::{event, update_events, user_diff};
use super::guards::is_super_admin;
use super::inputs::{CreateUser, UpdateUser};
use crate::error::{Error, FieldErrors, Result};
use crate::filter::{Cursor, ListQuery, Page, UserFilters};
use crate::model::{AuditAction, AuditTargetKind, Permission, SUPER_ADMIN_ROLE, Status, User};
use crate::password::Password;
use crate::principal::Principal;
use crate::storage::{
    BulkDelete, BulkDeleteOutcome, BulkTarget, Identifier, NewUser, PasswordChange, UserReplace,
};
use crate::validate::UserDraft;

/// A bulk delete: either explicit ids or a non-empty filter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum BulkDeleteRequest {
    /// Delete these users.
    UserIds(Vec<Uuid>),
    /// Delete every user matching these filters (an empty filter is refused).
    Filters(Box<UserFilters>),
}

/// How many times an update without `expected_version` is retried when another writer
/// changed the user in between.
const UNCONDITIONAL_UPDATE_ATTEMPTS: usize = 3;

impl UserService {
    /// Creates a user. Requires `user.create`, and every permission the granted roles and
    /// direct permissions carry (no privilege escalation).
    pub async fn create_user(&self, principal: &Principal, input: CreateUser) -> Result<User> {
        let actor = self
            .authorize_write(principal, Permission::UserCreate)
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
        let granted = self.check_grants(actor, &draft, None, &mut errors).await?;
        errors.into_result()?;
        actor.require_all(&granted)?;

        self.store_new_user(principal, draft, input.password.as_ref(), now)
            .await
    }

    /// One user of the caller's tenant. Requires `user.view`.
    pub async fn get_user(&self, principal: &Principal, user_id: Uuid) -> Result<User> {
        let actor = self.authorize(principal, Permission::UserView).await?;
        self.load_user(&actor, user_id).await
    }

    /// One page of the user list. Requires `user.list`.
    ///
    /// Cross-service (enrollment) filters are reported in `skipped_filters` when no source
    /// evaluates them.
    pub async fn list_users(&self, principal: &Principal, query: ListQuery) -> Result<Page<User>> {
        let actor = self.authorize(principal, Permission::UserList).await?;
        let page = query.page;
        let page_size = query.page_size;
        let by_cursor = query.cursor.is_some();
        let mut plan = query.plan(self.config.max_page_size)?;
        let mut skipped = self
            .resolve_cross_service(&actor.tenant_id, &mut plan)
            .await?;
        let now = self.clock.now();
        let (mut items, total) = match self.storage.list_users(&actor.tenant_id, &plan, now).await {
            // A store evaluating the enrollment filters itself could not reach the learning
            // data: answer without them, as with a failing source, unless strict.
            Err(Error::EnrollmentSourceUnavailable(reason)) if !self.strict_enrollments() => {
                tracing::warn!(%reason, "enrollment push-down failed");
                skipped = plan.filters.skip_cross_service();
                self.storage
                    .list_users(&actor.tenant_id, &plan, now)
                    .await?
            }
            other => other?,
        };
        let has_more = items.len() > page_size as usize;
        items.truncate(page_size as usize);
        let next_cursor = match items.last() {
            Some(last) if has_more => Some(
                Cursor {
                    sort_by: plan.sort_by,
                    sort_order: plan.sort_order,
                    value: plan.sort_by.value_of(last),
                    id: last.id,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(Page {
            items,
            total,
            page: (!by_cursor).then_some(page),
            page_size,
            next_cursor,
            skipped_filters: skipped,
        })
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
            .authorize_write(principal, Permission::UserUpdate)
            .await?;
        if patch.status == Some(Status::Deleted) {
            actor.require_all([&Permission::UserDelete])?;
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
        actor.require_all(&granted)?;
        let password_hash = match &patch.password {
            Some(Some(password)) => Some(self.hash_password(password).await?),
            _ => None,
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
            (Some(Some(_)), Some(hash)) => {
                next.has_password = true;
                (
                    PasswordChange::Set(hash),
                    Some((current.has_password, true)),
                )
            }
            (Some(None), _) => {
                next.has_password = false;
                (PasswordChange::Clear, Some((current.has_password, false)))
            }
            _ => (PasswordChange::Keep, None),
        };
        let changes = user_diff(Some(current), &next, password_diff);
        if changes.is_empty() {
            return Ok(current.clone());
        }
        let _one_at_a_time = if is_super_admin(current) && !is_super_admin(&next) {
            let field = if next.status == Status::Active {
                "roles"
            } else {
                "status"
            };
            Some(
                self.keep_a_super_admin(&actor.tenant_id, field, |u| u.id == current.id)
                    .await?,
            )
        } else {
            None
        };
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
        self.storage.replace_user(&actor.tenant_id, change).await
    }

    /// Soft-deletes a user: status `deleted`, `deleted_at` set, data kept. Reactivate by
    /// updating the status back to `active`. Requires `user.delete`; an actor cannot delete
    /// themselves.
    pub async fn delete_user(&self, principal: &Principal, user_id: Uuid) -> Result<User> {
        let actor = self
            .authorize_write(principal, Permission::UserDelete)
            .await?;
        if actor.user_id == user_id {
            return Err(Error::invalid(
                "user_id",
                "you cannot delete your own account",
            ));
        }
        self.ensure_outranks(&actor, user_id).await?;
        let now = self.clock.now();
        let current = self.load_user(&actor, user_id).await?;
        if current.status == Status::Deleted {
            return Ok(current);
        }
        let _one_at_a_time = if is_super_admin(&current) {
            Some(
                self.keep_a_super_admin(&actor.tenant_id, "user_id", |u| u.id == user_id)
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
        self.storage.replace_user(&actor.tenant_id, change).await
    }

    /// Soft-deletes many users in one transaction, by ids or by a non-empty filter. The
    /// acting user is never deleted, nor a user holding permissions the actor lacks. Writes
    /// one audit event per deleted user. Requires `user.delete`.
    pub async fn bulk_delete(
        &self,
        principal: &Principal,
        request: BulkDeleteRequest,
    ) -> Result<BulkDeleteOutcome> {
        let actor = self
            .authorize_write(principal, Permission::UserDelete)
            .await?;
        let target = match request {
            BulkDeleteRequest::UserIds(mut ids) => {
                if ids.is_empty() {
                    return Err(Error::invalid("user_ids", "must not be empty"));
                }
                if ids.len() > self.config.max_bulk_ids {
                    return Err(Error::invalid(
                        "user_ids",
                        format!("at most {} ids per request", self.config.max_bulk_ids),
                    ));
                }
                ids.sort();
                ids.dedup();
                BulkTarget::Ids(ids)
            }
            BulkDeleteRequest::Filters(mut filters) => {
                self.check_bulk_filters(&actor, &mut filters).await?;
                BulkTarget::Filter(filters)
            }
        };
        let now = self.clock.now();
        let _one_at_a_time = if actor.permissions.is_superset(&Permission::all()) {
            // Only an actor holding everything reaches super admins; the actor stays.
            let field = match &target {
                BulkTarget::Ids(_) => "user_ids",
                BulkTarget::Filter(_) => "filters",
            };
            Some(
                self.keep_a_super_admin(&actor.tenant_id, field, |u| {
                    u.id != actor.user_id
                        && match &target {
                            BulkTarget::Ids(ids) => ids.binary_search(&u.id).is_ok(),
                            BulkTarget::Filter(filters) => filters.matches(u, now),
                        }
                })
                .await?,
            )
        } else {
            None
        };
        let audit_template = event(
            principal,
            AuditTargetKind::User,
            Uuid::nil(),
            AuditAction::UserBulkDeleted,
            Default::default(),
            now,
        );
        let request = BulkDelete {
            target,
            exclude: Some(actor.user_id),
            protect_beyond: actor.permissions.clone(),
            now,
            audit_template,
        };
        self.storage
            .bulk_soft_delete(&actor.tenant_id, request)
            .await
    }

    /// Normalises the filters of a bulk delete and refuses those that would select every
    /// user: empty after normalising (a blank search, empty lists), cross-service filters
    /// (which a failing source would skip), and any filter that matches as many users as no
    /// filter at all, the acting user left aside (e.g. every status listed,
    /// `failed_login_attempts_min=0`, `created_before` the actor's registration).
    async fn check_bulk_filters(&self, actor: &Actor, filters: &mut UserFilters) -> Result<()> {
        filters.normalize().map_err(Error::Validation)?;
        if filters.is_empty() {
            return Err(Error::invalid(
                "filters",
                "an empty filter would delete everyone; refused",
            ));
        }
        let cross = filters.cross_service_filters_in_use();
        if !cross.is_empty() {
            return Err(Error::invalid(
                "filters",
                format!(
                    "cross-service filters cannot select users to delete: {}",
                    cross.join(", ")
                ),
            ));
        }
        let everyone = if filters.includes_deleted() {
            UserFilters {
                statuses: Status::ALL.to_vec(),
                ..Default::default()
            }
        } else {
            UserFilters::default()
        };
        let count = |filters: UserFilters| async {
            let query = ListQuery {
                filters,
                include_total: false,
                ..Default::default()
            };
            let plan = query.plan(self.config.max_page_size)?;
            let groups = self
                .storage
                .status_groups_matching(&actor.tenant_id, &plan, self.clock.now())
                .await?;
            Ok::<u64, Error>(groups.values().map(|g| g.users).sum())
        };
        // Counted without the actor, who is never deleted: a filter that leaves out only the
        // actor (`created_before` their registration, `is_admin=false`, …) selects everyone too.
        let me = self.load_user(actor, actor.user_id).await?;
        let now = self.clock.now();
        let others_all = count(everyone.clone())
            .await?
            .saturating_sub(u64::from(everyone.matches(&me, now)));
        let others_matching = count(filters.clone())
            .await?
            .saturating_sub(u64::from(filters.matches(&me, now)));
        if others_all > 0 && others_matching >= others_all {
            return Err(Error::invalid(
                "filters",
                "these filters select every user of the tenant; refused",
            ));
        }
        Ok(())
    }

    pub(crate) async fn load_user(&self, actor: &Actor, user_id: Uuid) -> Result<User> {
        self.storage
            .get_user(&actor.tenant_id, user_id)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    /// Checks that the draft's roles exist (field errors otherwise) and returns every
    /// permission newly granted by roles or directly, which the actor must hold.
    async fn check_grants(
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
                        granted.extend(role.permissions.iter().copied())
                    }
                    Some(_) => {}
                    None => errors.add("roles", format!("unknown role `{name}`")),
                }
            }
        }
        granted.extend(
            draft
                .permissions
                .iter()
                .filter(|p| current.is_none_or(|c| !c.permissions.contains(p)))
                .copied(),
        );
        Ok(granted)
    }

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
        let all = Permission::all();
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

    /// Hashes the password (off the executor), builds the user from a validated draft and
    /// inserts it with its creation event.
    async fn store_new_user(
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
        let mut user = empty_user(principal.tenant_id().clone(), now);
        user.has_password = password_hash.is_some();
        apply_draft(&mut user, draft);
        let changes = user_diff(None, &user, user.has_password.then_some((false, true)));
        let audit = event(
            principal,
            AuditTargetKind::User,
            user.id,
            AuditAction::UserCreated,
            changes,
            now,
        );
        self.storage
            .insert_user(
                NewUser {
                    user,
                    password_hash,
                    oauth_links: Vec::new(),
                },
                audit,
            )
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

fn empty_user(tenant_id: crate::model::TenantId, now: chrono::DateTime<chrono::Utc>) -> User {
    User {
        id: Uuid::now_v7(),
        tenant_id,
        name: String::new(),
        email: None,
        phone: None,
        username: None,
        unique_id: None,
        status: Status::Active,
        is_admin: false,
        is_instructor: false,
        is_learner: false,
        roles: Vec::new(),
        permissions: Vec::new(),
        email_verified: false,
        phone_verified: false,
        auth_method: crate::model::AuthMethod::Email,
        oauth_providers: Vec::new(),
        has_password: false,
        profile: Default::default(),
        profile_completeness: 0,
        created_at: now,
        updated_at: now,
        last_login_at: None,
        deleted_at: None,
        failed_login_attempts: 0,
        locked_until: None,
        version: 1,
    }
}

/// Copies a validated draft into a user and recomputes derived values.
fn apply_draft(user: &mut User, draft: UserDraft) {
    user.name = draft.name;
    user.email = draft.email;
    user.phone = draft.phone;
    user.username = draft.username;
    user.unique_id = draft.unique_id;
    user.status = draft.status;
    user.is_admin = draft.is_admin;
    user.is_instructor = draft.is_instructor;
    user.is_learner = draft.is_learner;
    user.roles = draft.roles;
    user.permissions = draft.permissions;
    user.email_verified = draft.email_verified;
    user.phone_verified = draft.phone_verified;
    user.auth_method = draft.auth_method.unwrap_or(user.auth_method);
    user.profile = draft.profile;
    user.refresh_derived();
}
