//! The storage traits every backend implements, split by capability and joined into
//! [`Storage`].
//!
//! Backends translate to SQL only (through the shared `usermgmt-sql` crate): inputs are
//! already validated and normalised by the service, and every method that writes does all its
//! work (including audit events) in one transaction. Tenant-scoped methods take the tenant
//! first; the exceptions write an entity that carries its tenant (a user, a role, a note, a
//! session, an event) or look a session up by its token, which names the tenant.

mod auth;
mod batches;
mod counts;
mod enrollment;
mod events;
mod import;
mod insights;
mod provisioning;
mod queries;
mod records;
mod related;
mod sessions;
mod tokens;
mod users;
mod webhooks;

pub use auth::{ActorGrants, AuthStore, LoginFailure, StoreLock};
pub use batches::{Batches, Sink};
pub use counts::{CountFeed, FeedChanges, MAX_FEED_IDS};
pub use enrollment::{EnrollmentFeed, EnrollmentLayout, EnrollmentSource};
pub use events::{ConsumerSpec, EventBatch, EventStore, LeasedCursor};
pub use import::{ImportCommand, ImportStore, ImportWrite, WriteOutcome};
pub use insights::InsightStore;
pub use provisioning::ProvisioningStore;
pub use queries::{BatchSink, BulkDelete, BulkTarget, UserBatches, UserQueries};
pub use records::{AuditStore, NoteStore, OAuthStore, RoleStore, SequenceStore, StoredPermission};
pub use related::{RelatedKind, RelatedLists, UserLists};
pub use sessions::{SessionStore, impersonation_ended};
pub use tokens::{CodeAttempt, CodeLimits, StoredToken, TokenStore};
pub use users::{
    Identifier, NewUser, PasswordChange, UNIQUE_FIELDS, UserRecords, UserReplace, unique_values,
};
pub use webhooks::{AttemptOutcome, DueDelivery, FinishedAttempt, QueuedDelivery, WebhookStore};

/// Refuses to write an entity of `owner` under `tenant`: the guard every write of an entity
/// that carries its tenant runs first, so the tenant a store writes under is always the one
/// the method was given.
pub fn ensure_tenant(
    tenant: &crate::model::TenantId,
    owner: &crate::model::TenantId,
) -> crate::error::Result<()> {
    if tenant == owner {
        Ok(())
    } else {
        Err(crate::error::Error::invalid(
            "tenant_id",
            "the record belongs to another tenant than the one written to",
        ))
    }
}

/// Everything a backend provides.
pub trait Storage:
    UserRecords
    + UserQueries
    + AuthStore
    + RoleStore
    + AuditStore
    + SessionStore
    + NoteStore
    + SequenceStore
    + OAuthStore
    + InsightStore
    + CountFeed
    + TokenStore
    + ProvisioningStore
    + ImportStore
    + EventStore
    + WebhookStore
{
}

impl<T> Storage for T where
    T: UserRecords
        + UserQueries
        + AuthStore
        + RoleStore
        + AuditStore
        + SessionStore
        + NoteStore
        + SequenceStore
        + OAuthStore
        + InsightStore
        + CountFeed
        + TokenStore
        + ProvisioningStore
        + ImportStore
        + EventStore
        + WebhookStore
{
}
