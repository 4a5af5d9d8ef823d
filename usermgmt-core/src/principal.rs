//! Who performs an operation.

use uuid::Uuid;

use crate::model::{AuditActor, TenantId};

/// The acting principal of an operation. The service resolves a user principal's effective
/// permissions from storage on every call, so revocations and suspensions apply at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user acting in their tenant.
    User {
        /// The user's tenant.
        tenant_id: TenantId,
        /// The acting user.
        user_id: Uuid,
    },
    /// Another service, authenticated by a service token (only the system operations accept
    /// it; the admin operations refuse it as unauthenticated).
    System {
        /// The tenant the call acts in.
        tenant_id: TenantId,
    },
}

impl Principal {
    /// A user principal.
    pub fn user(tenant_id: TenantId, user_id: Uuid) -> Self {
        Principal::User { tenant_id, user_id }
    }

    /// The system principal for a tenant.
    pub fn system(tenant_id: TenantId) -> Self {
        Principal::System { tenant_id }
    }

    /// The tenant every operation of this principal is confined to.
    pub fn tenant_id(&self) -> &TenantId {
        match self {
            Principal::User { tenant_id, .. } | Principal::System { tenant_id } => tenant_id,
        }
    }

    /// How the principal appears in audit events.
    pub fn audit_actor(&self) -> AuditActor {
        match self {
            Principal::User { user_id, .. } => AuditActor::User(*user_id),
            Principal::System { .. } => AuditActor::System,
        }
    }
}
