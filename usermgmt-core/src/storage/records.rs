//! The smaller records: roles, audit events, notes, OAuth links, sequences.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::model::{AuditEvent, Note, OAuthLink, OAuthProvider, Role, TenantId, User};

/// Roles.
#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Inserts a role; a taken name is a conflict on `name`.
    async fn insert_role(&self, tenant: &TenantId, role: &Role, audit: AuditEvent) -> Result<()>;
    /// One role by id.
    async fn get_role(&self, tenant: &TenantId, id: Uuid) -> Result<Option<Role>>;
    /// The roles with these names (unknown names are simply absent).
    async fn roles_by_names(&self, tenant: &TenantId, names: &[String]) -> Result<Vec<Role>>;
    /// Every role of the tenant, by name.
    async fn list_roles(&self, tenant: &TenantId) -> Result<Vec<Role>>;
    /// Replaces a role's name, description and permissions.
    async fn update_role(&self, tenant: &TenantId, role: &Role, audit: AuditEvent) -> Result<()>;
    /// Deletes a role; a role still held by a user is a conflict on `role`.
    async fn delete_role(&self, tenant: &TenantId, id: Uuid, audit: AuditEvent) -> Result<()>;
    /// Every permission name stored in any tenant (held by a role or granted directly),
    /// with how many roles and users hold it, by name.
    async fn stored_permissions(&self) -> Result<Vec<StoredPermission>>;
}

/// A permission name as stored, with how many roles and users hold it (see
/// [`RoleStore::stored_permissions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPermission {
    /// The stored name.
    pub name: String,
    /// Roles that carry it, in every tenant.
    pub roles: u64,
    /// Users granted it directly, in every tenant.
    pub users: u64,
}

/// Audit events.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one event.
    async fn insert_audit(&self, tenant: &TenantId, event: AuditEvent) -> Result<()>;
    /// Events about one entity, newest first, with the total count.
    async fn list_audit(
        &self,
        tenant: &TenantId,
        target_id: Uuid,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<AuditEvent>, u64)>;
}

/// Administrator notes.
#[async_trait]
pub trait NoteStore: Send + Sync {
    /// Stores a note.
    async fn insert_note(&self, tenant: &TenantId, note: &Note, audit: AuditEvent) -> Result<()>;
    /// The notes about a user, newest first.
    async fn list_notes(&self, tenant: &TenantId, user_id: Uuid) -> Result<Vec<Note>>;
    /// Deletes a note about the user; `None` when there is no such note.
    async fn delete_note(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        note_id: Uuid,
        audit: AuditEvent,
    ) -> Result<Option<Note>>;
}

/// OAuth provider links.
#[async_trait]
pub trait OAuthStore: Send + Sync {
    /// Links `provider`/`provider_user_id` to the user if its version is still
    /// `expected_version` (else [`crate::Error::VersionConflict`]); bumps the version.
    /// The pair is unique per tenant ([`crate::Error::Conflict`] on `provider_user_id`), and a
    /// user links each provider once (conflict on `provider`).
    async fn link_oauth(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        expected_version: i64,
        link: &OAuthLink,
        audit: AuditEvent,
    ) -> Result<User>;
    /// Removes the user's link to `provider` under the same version guard; bumps the version.
    /// [`crate::Error::NotFound`] when there is no such link.
    async fn unlink_oauth(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        expected_version: i64,
        provider: OAuthProvider,
        now: DateTime<Utc>,
        audit: AuditEvent,
    ) -> Result<User>;
}

/// Per-tenant sequences.
#[async_trait]
pub trait SequenceStore: Send + Sync {
    /// The next value (from 1) of the named sequence; never the same value twice, even
    /// under concurrent calls.
    async fn next_value(&self, tenant: &TenantId, name: &str) -> Result<i64>;
}
