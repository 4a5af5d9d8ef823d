//! User records: insert, read, replace.

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::Result;
use crate::model::{AuditEvent, OAuthLink, TenantId, User};
use crate::password::PasswordHash;

/// The fields unique per tenant (SPEC §2), each with whether its values compare ignoring
/// case (as the unique indexes of both backends compare them).
pub const UNIQUE_FIELDS: [(&str, bool); 4] = [
    ("email", true),
    ("phone", false),
    ("username", true),
    ("unique_id", true),
];

/// A user's values of [`UNIQUE_FIELDS`], in order.
pub fn unique_values(user: &crate::model::User) -> [Option<&str>; 4] {
    [
        user.email.as_deref(),
        user.phone.as_deref(),
        user.username.as_deref(),
        user.unique_id.as_deref(),
    ]
}

/// A user to insert, with its password hash.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The complete user (derived values computed, `version` 1).
    pub user: User,
    /// The password hash, if a password was given.
    pub password_hash: Option<PasswordHash>,
    /// Provider accounts to link (their providers should be in `user.oauth_providers`).
    pub oauth_links: Vec<OAuthLink>,
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
    /// End every active session of the user in the same transaction; the event is written
    /// only when at least one session was active.
    pub end_sessions: Option<AuditEvent>,
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

/// User records.
#[async_trait]
pub trait UserRecords: Send + Sync {
    /// Inserts a user with its roles, permissions and audit event. Unique values taken in the
    /// tenant → [`crate::Error::Conflict`] naming every conflicting field.
    async fn insert_user(
        &self,
        tenant: &TenantId,
        user: NewUser,
        audit: AuditEvent,
    ) -> Result<User>;

    /// Inserts many users (with their audit events) in one transaction: all or none. For
    /// imports and generated data sets.
    async fn insert_users(
        &self,
        tenant: &TenantId,
        users: Vec<(NewUser, AuditEvent)>,
    ) -> Result<u64>;

    /// One user of the tenant, deleted or not.
    async fn get_user(&self, tenant: &TenantId, id: Uuid) -> Result<Option<User>>;

    /// The user (deleted or not) with this email, phone or username, compared as stored
    /// (the service passes normalised values).
    async fn find_user(&self, tenant: &TenantId, identifier: &Identifier) -> Result<Option<User>>;

    /// The users of the tenant with these ids (any order; unknown ids are simply absent).
    async fn users_by_ids(&self, tenant: &TenantId, ids: &[Uuid]) -> Result<Vec<User>>;

    /// Replaces a user's state if its version still matches (see [`UserReplace`]).
    async fn replace_user(&self, tenant: &TenantId, change: UserReplace) -> Result<User>;
}
