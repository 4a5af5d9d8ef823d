//! The storage traits every backend implements, split by capability.
//!
//! Backends translate to SQL only: inputs are already validated and normalised by the service,
//! and every method that writes does all its work (including audit events) in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::filter::{ListPlan, UserFilters};
use crate::model::{AuditEvent, PermissionSet, Role, Status, TenantId, User};
use crate::password::PasswordHash;

/// A user to insert, with its password hash.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The complete user (derived values computed, `version` 1).
    pub user: User,
    /// The password hash, if a password was given.
    pub password_hash: Option<PasswordHash>,
}

/// What to do with the stored password hash on update.
#[derive(Debug, Clone)]
pub enum PasswordChange {
    /// Leave it as is.
    Keep,
    /// Replace it.
    Set(PasswordHash),
    /// Remove it (the user must reset before logging in).
    Clear,
}

/// A full replacement of a user's state, guarded by its version.
#[derive(Debug, Clone)]
pub struct UserReplace {
    /// The new state; `version` is ignored and set to `expected_version + 1`.
    pub user: User,
    /// The password change.
    pub password: PasswordChange,
    /// The version the change was based on; a different stored version is a
    /// [`crate::Error::VersionConflict`].
    pub expected_version: i64,
    /// Audit events written in the same transaction.
    pub audit: Vec<AuditEvent>,
}

/// Which users a bulk delete targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkTarget {
    /// These ids.
    Ids(Vec<Uuid>),
    /// Every user matching these (normalised, non-empty) filters.
    Filter(Box<UserFilters>),
}

/// A bulk soft delete, executed in one transaction.
#[derive(Debug, Clone)]
pub struct BulkDelete {
    /// The targeted users.
    pub target: BulkTarget,
    /// Never delete this user (the acting admin).
    pub exclude: Option<Uuid>,
    /// The actor's permissions: users holding any permission outside this set are left alone
    /// (and reported in `skipped_protected`).
    pub protect_beyond: PermissionSet,
    /// The deletion time.
    pub now: DateTime<Utc>,
    /// An event written once per deleted user, with `target_id` set to that user and a fresh
    /// event id.
    pub audit_template: AuditEvent,
}

/// Result of a bulk delete.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct BulkDeleteOutcome {
    /// Users soft-deleted.
    pub deleted: u64,
    /// Requested ids that do not exist in the tenant.
    pub not_found: Vec<Uuid>,
    /// Whether the acting user was among the targets and was left alone.
    pub skipped_self: bool,
    /// Targeted users left alone because they hold permissions the actor lacks.
    pub skipped_protected: u64,
}

/// A login identifier, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    /// Lower-cased email.
    Email(String),
    /// E.164 phone.
    Phone(String),
    /// Lower-cased username.
    Username(String),
}

/// What the service needs to know about an acting user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorGrants {
    /// The acting user's status.
    pub status: Status,
    /// Effective permissions: the union of role and direct permissions.
    pub permissions: PermissionSet,
}

/// Users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user with its roles, permissions and audit event. Unique values taken in the
    /// tenant → [`crate::Error::Conflict`] naming every conflicting field.
    async fn insert_user(&self, user: NewUser, audit: AuditEvent) -> Result<User>;

    /// One user of the tenant, deleted or not.
    async fn get_user(&self, tenant: &TenantId, id: Uuid) -> Result<Option<User>>;

    /// The user (deleted or not) with this email, phone or username, compared as stored
    /// (the service passes normalised values).
    async fn find_user(&self, tenant: &TenantId, identifier: &Identifier) -> Result<Option<User>>;

    /// One page of users and, when the plan asks, the total. `now` anchors relative filters.
    async fn list_users(
        &self,
        tenant: &TenantId,
        plan: &ListPlan,
        now: DateTime<Utc>,
    ) -> Result<(Vec<User>, Option<u64>)>;

    /// Replaces a user's state if its version still matches (see [`UserReplace`]).
    async fn replace_user(&self, tenant: &TenantId, change: UserReplace) -> Result<User>;

    /// Soft-deletes many users in one transaction.
    async fn bulk_soft_delete(
        &self,
        tenant: &TenantId,
        request: BulkDelete,
    ) -> Result<BulkDeleteOutcome>;

    /// Status and effective permissions of a user, for authorisation.
    async fn actor_grants(&self, tenant: &TenantId, user_id: Uuid) -> Result<Option<ActorGrants>>;
}

/// Roles.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Inserts a role; a taken name is a conflict on `name`.
    async fn insert_role(&self, role: &Role, audit: AuditEvent) -> Result<()>;
    /// One role by id.
    async fn get_role(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Role>>;
    /// The roles with these names (unknown names are simply absent).
    async fn roles_by_names(&self, tenant: &TenantId, names: &[String]) -> Result<Vec<Role>>;
    /// Every role of the tenant, by name.
    async fn list_roles(&self, tenant: &TenantId) -> Result<Vec<Role>>;
    /// Replaces a role's name, description and permissions.
    async fn update_role(&self, role: &Role, audit: AuditEvent) -> Result<()>;
    /// Deletes a role; a role still held by a user is a conflict on `role`.
    async fn delete_role(&self, tenant: &TenantId, id: Uuid, audit: AuditEvent) -> Result<()>;
}

/// Audit events.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one event.
    async fn insert_audit(&self, event: AuditEvent) -> Result<()>;
    /// Events about one entity, newest first, with the total count.
    async fn list_audit(
        &self,
        tenant: &TenantId,
        target_id: Uuid,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<AuditEvent>, u64)>;
}

/// Everything a backend provides.
pub trait Storage: UserStore + RoleStore + AuditStore {}

impl<T: UserStore + RoleStore + AuditStore> Storage for T {}
