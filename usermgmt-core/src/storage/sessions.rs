//! Sessions and impersonation sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::model::{AuditEvent, Session, TenantId};

/// The event for one impersonation session ended because its administrator logged out: a copy
/// of `template` with a fresh id, the impersonated user as target and the session named.
pub fn impersonation_ended(template: &AuditEvent, session: Uuid, user: Uuid) -> AuditEvent {
    let mut event = template.clone();
    event.id = Uuid::now_v7();
    event.target_id = user;
    event.changes.insert(
        "session_id".to_owned(),
        crate::model::FieldChange {
            old: session.to_string().into(),
            new: serde_json::Value::Null,
        },
    );
    event
}

/// Sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session (impersonation sessions come with their audit event).
    async fn insert_session(
        &self,
        tenant: &TenantId,
        session: &Session,
        token_hash: [u8; 32],
        audit: Option<AuditEvent>,
    ) -> Result<()>;
    /// The session whose token has this hash, active or not.
    async fn session_by_token(&self, token_hash: [u8; 32]) -> Result<Option<Session>>;
    /// [`SessionStore::session_by_token`] with its user's [`AuthStore::actor_grants`] (`None`
    /// for a user who is gone), read together: what a guarded request needs, in one trip.
    ///
    /// [`AuthStore::actor_grants`]: super::auth::AuthStore::actor_grants
    async fn session_with_grants(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<(Session, Option<super::auth::ActorGrants>)>>;
    /// Sets `last_seen_at`.
    async fn touch_session(
        &self,
        tenant: &TenantId,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// A user's sessions still active at `now`, newest first.
    async fn list_sessions(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>>;
    /// Ends one active session of the user; false when there is none with that id.
    async fn terminate_session(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
        audit: Vec<AuditEvent>,
    ) -> Result<bool>;
    /// Ends every active session of the user; returns how many.
    async fn terminate_sessions(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
        audit: Option<AuditEvent>,
    ) -> Result<u64>;
    /// Whether the user signed in (a session of their own, not an impersonation) from `ip`
    /// at or after `since`: a known client, which may pass a login lock with the right
    /// password.
    async fn signed_in_from(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        ip: std::net::IpAddr,
        since: DateTime<Utc>,
    ) -> Result<bool>;
    /// Ends every active impersonation session `impersonator` started in the tenant, writing
    /// [`impersonation_ended`]`(audit, …)` for each; returns how many.
    async fn terminate_impersonations_by(
        &self,
        tenant: &TenantId,
        impersonator: Uuid,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<u64>;
}
