//! Provisioning tokens: the bearer tokens an identity provider's SCIM client presents.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::tenant::TenantId;

/// A provisioning token as stored (the secret itself is kept only as a SHA-256 digest and is
/// shown once, when the token is created).
///
/// A token acts in its tenant with at most what its creator holds: the built-in user
/// permissions (`user.list`, `user.view`, `user.create`, `user.update`, `user.delete`) and
/// `role.manage`, each only while the creator holds it and is an active user. Revoking the
/// token, or the creator losing a permission or being suspended, applies to the next request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvisioningToken {
    /// Token id (UUID v7): audit events name it as their actor.
    pub id: Uuid,
    /// The tenant it provisions.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub tenant_id: TenantId,
    /// A label (e.g. the identity provider's name).
    pub name: String,
    /// The administrator who created it.
    pub created_by: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked token opens nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}
