//! Who performs an operation.

use uuid::Uuid;

use crate::model::{AuditActor, ImpersonationMode, TenantId};

/// The administrator behind an impersonation session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Impersonation {
    /// The real user acting.
    pub impersonator_id: Uuid,
    /// Read-only or full access.
    pub mode: ImpersonationMode,
}

/// The acting principal of an operation. The service resolves a user principal's effective
/// permissions from storage on every call, so revocations and suspensions apply at once.
///
/// Principals built from a session token ([`crate::UserService::authenticate`]) carry the
/// session and any impersonation; a host application that authenticates users its own way
/// builds them with [`Principal::user`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user acting in their tenant.
    User {
        /// The user's tenant.
        tenant_id: TenantId,
        /// The acting user (the impersonated user in an impersonation session).
        user_id: Uuid,
        /// The session the request came with, if any.
        session_id: Option<Uuid>,
        /// Set when an administrator acts as this user.
        impersonation: Option<Impersonation>,
    },
    /// Another service, authenticated by a service token (only the system operations accept
    /// it; the admin operations refuse it as unauthenticated).
    System {
        /// The tenant the call acts in.
        tenant_id: TenantId,
    },
    /// An identity provider's SCIM client, authenticated by a provisioning token: acts with
    /// at most what the token's creator holds (see
    /// [`ProvisioningToken`](crate::model::ProvisioningToken)); audited as the token.
    Provisioner {
        /// The token's tenant.
        tenant_id: TenantId,
        /// The token.
        token_id: Uuid,
    },
}

impl Principal {
    /// A user principal without a session (host-side authentication).
    pub fn user(tenant_id: TenantId, user_id: Uuid) -> Self {
        Principal::User {
            tenant_id,
            user_id,
            session_id: None,
            impersonation: None,
        }
    }

    /// The system principal for a tenant.
    pub fn system(tenant_id: TenantId) -> Self {
        Principal::System { tenant_id }
    }

    /// The tenant every operation of this principal is confined to.
    pub fn tenant_id(&self) -> &TenantId {
        match self {
            Principal::User { tenant_id, .. }
            | Principal::System { tenant_id }
            | Principal::Provisioner { tenant_id, .. } => tenant_id,
        }
    }

    /// The acting user, if the principal is a user.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Principal::User { user_id, .. } => Some(*user_id),
            Principal::System { .. } | Principal::Provisioner { .. } => None,
        }
    }

    /// The impersonation behind this principal, if any.
    pub fn impersonation(&self) -> Option<Impersonation> {
        match self {
            Principal::User { impersonation, .. } => *impersonation,
            Principal::System { .. } | Principal::Provisioner { .. } => None,
        }
    }

    /// How the principal appears in audit events.
    pub fn audit_actor(&self) -> AuditActor {
        match self {
            Principal::User { user_id, .. } => AuditActor::User(*user_id),
            Principal::System { .. } => AuditActor::System,
            Principal::Provisioner { token_id, .. } => AuditActor::Provisioning(*token_id),
        }
    }
}
