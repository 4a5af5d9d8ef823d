//! Audit events: who changed what, when, with a field-level diff. Secrets are redacted.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::string_enum::string_enum;
use super::tenant::TenantId;

string_enum! {
    /// What happened.
    pub enum AuditAction {
        /// A user was created.
        UserCreated => "user.created",
        /// Profile or flag fields of a user changed.
        UserUpdated => "user.updated",
        /// Email, phone, username or password changed by an administrator.
        CredentialsChanged => "user.credentials_changed",
        /// The status changed (including reactivation).
        StatusChanged => "user.status_changed",
        /// Roles or direct permissions of a user changed.
        UserGrantsChanged => "user.grants_changed",
        /// A user was soft-deleted.
        UserDeleted => "user.deleted",
        /// A user was soft-deleted as part of a bulk delete.
        UserBulkDeleted => "user.bulk_deleted",
        /// A role was created.
        RoleCreated => "role.created",
        /// A role changed.
        RoleUpdated => "role.updated",
        /// A role was deleted.
        RoleDeleted => "role.deleted",
        /// One session of a user was ended by an administrator or by logout.
        SessionTerminated => "session.terminated",
        /// All sessions of a user were ended.
        SessionsTerminated => "session.all_terminated",
        /// An administrator started impersonating or masquerading as the user.
        ImpersonationStarted => "impersonation.started",
        /// An impersonation session was ended.
        ImpersonationEnded => "impersonation.ended",
        /// An administrator sent the user a password-reset link.
        PasswordResetSent => "user.password_reset_sent",
        /// The user set a new password with a reset link.
        PasswordReset => "user.password_reset",
        /// An invitation was sent to the user.
        InvitationSent => "user.invitation_sent",
        /// The user accepted an invitation: password set, channel verified, active.
        InvitationAccepted => "user.invitation_accepted",
        /// A verification link or code was sent to the user.
        VerificationSent => "user.verification_sent",
        /// The user confirmed a verification link or code.
        Verified => "user.verified",
        /// A password hash brought by an import was replaced by an argon2id hash at sign-in.
        PasswordRehashed => "user.password_rehashed",
        /// A note was written about the user.
        NoteCreated => "note.created",
        /// A note about the user was deleted.
        NoteDeleted => "note.deleted",
        /// An OAuth provider account was linked to the user.
        OAuthLinked => "oauth.linked",
        /// An OAuth provider account was unlinked from the user.
        OAuthUnlinked => "oauth.unlinked",
        /// A provisioning (SCIM) token was created.
        ProvisioningTokenCreated => "provisioning_token.created",
        /// A provisioning (SCIM) token was revoked.
        ProvisioningTokenRevoked => "provisioning_token.revoked",
        /// A webhook endpoint was created.
        WebhookCreated => "webhook.created",
        /// A webhook endpoint changed (URL, kinds, enabled).
        WebhookUpdated => "webhook.updated",
        /// A webhook endpoint was deleted.
        WebhookDeleted => "webhook.deleted",
    }
}

string_enum! {
    /// The kind of entity an audit event is about.
    pub enum AuditTargetKind {
        /// A user.
        User => "user",
        /// A role.
        Role => "role",
        /// A provisioning token.
        ProvisioningToken => "provisioning_token",
        /// A webhook endpoint.
        Webhook => "webhook",
    }
}

/// Who performed an audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum AuditActor {
    /// A user (an administrator).
    User(Uuid),
    /// The system (service-to-service token or the host application itself).
    System,
    /// A provisioning (SCIM) token, by its id.
    Provisioning(Uuid),
}

impl AuditActor {
    /// How the actor is stored: its kind and id.
    pub fn columns(self) -> (&'static str, Option<Uuid>) {
        match self {
            AuditActor::User(id) => ("user", Some(id)),
            AuditActor::System => ("system", None),
            AuditActor::Provisioning(id) => ("provisioning", Some(id)),
        }
    }

    /// The actor from its stored kind and id; `None` for a combination no actor stores.
    pub fn from_columns(kind: &str, id: Option<Uuid>) -> Option<Self> {
        match (kind, id) {
            ("user", Some(id)) => Some(AuditActor::User(id)),
            ("system", _) => Some(AuditActor::System),
            ("provisioning", Some(id)) => Some(AuditActor::Provisioning(id)),
            _ => None,
        }
    }
}

/// Old and new value of one field. Secret values are replaced by [`REDACTED`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldChange {
    /// Value before the change (`null` when absent).
    pub old: Value,
    /// Value after the change (`null` when absent).
    pub new: Value,
}

/// The placeholder written instead of a secret in audit diffs.
pub const REDACTED: &str = "[redacted]";

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Event id (UUID v7).
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Kind of the entity acted on.
    pub target_kind: AuditTargetKind,
    /// The entity acted on.
    pub target_id: Uuid,
    /// Who acted.
    pub actor: AuditActor,
    /// The real user behind an impersonation session, if any.
    pub impersonator_id: Option<Uuid>,
    /// What happened.
    pub action: AuditAction,
    /// Field-level diff, by field name.
    pub changes: BTreeMap<String, FieldChange>,
    /// When.
    pub created_at: DateTime<Utc>,
}
