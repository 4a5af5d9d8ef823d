//! What authentication and authorisation read and write: grants, login records, failures.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::users::Identifier;
use crate::error::Result;
use crate::model::{PermissionSet, Session, Status, TenantId, User};
use crate::password::PasswordHash;

/// What the service needs to know about an acting user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorGrants {
    /// The acting user's status.
    pub status: Status,
    /// Effective permissions: the union of role and direct permissions.
    pub permissions: PermissionSet,
}

/// A lock a store holds until this is dropped (see [`AuthStore::lock_super_admin_changes`]).
pub type StoreLock = Box<dyn std::any::Any + Send>;

/// The state after a failed login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailure {
    /// Consecutive failures, this one included.
    pub attempts: u32,
    /// Set when the account is locked.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Authentication and authorisation.
#[async_trait]
pub trait AuthStore: Send + Sync {
    /// Holds a tenant-wide lock, across every process sharing this store, on changes that
    /// take away a super admin, until the returned guard is dropped (the service checks that
    /// one remains while holding it). The default is no lock beyond the service's own, which
    /// covers one process; a store shared by several instances overrides it.
    async fn lock_super_admin_changes(&self, _tenant: &TenantId) -> Result<Option<StoreLock>> {
        Ok(None)
    }

    /// Status and effective permissions of a user, for authorisation.
    async fn actor_grants(&self, tenant: &TenantId, user_id: Uuid) -> Result<Option<ActorGrants>>;

    /// The user with this login identifier and their password hash, for login.
    async fn login_record(
        &self,
        tenant: &TenantId,
        identifier: &Identifier,
    ) -> Result<Option<(User, Option<PasswordHash>)>>;

    /// Counts a failed login atomically (concurrent failures all count): a lock that has
    /// expired restarts the count at 1; reaching `max_attempts` locks the user until
    /// `lock_until`. Does not change the user's version.
    async fn record_login_failure(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
        max_attempts: u32,
        lock_until: DateTime<Utc>,
    ) -> Result<LoginFailure>;

    /// Records a successful login in one transaction: resets the failure count and lock,
    /// sets `last_login_at` to the session's start, and stores the session. Does not change
    /// the user's version. Returns the updated user.
    async fn record_login_success(
        &self,
        tenant: &TenantId,
        session: &Session,
        token_hash: [u8; 32],
    ) -> Result<User>;
}
