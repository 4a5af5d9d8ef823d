//! Roles: named bundles of permissions, per tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::permission::PermissionSet;
use super::tenant::TenantId;
use crate::error::FieldErrors;

/// The name of the super-admin role: it always carries every permission and keeps its name,
/// and a tenant that has an active holder of it keeps at least one (see
/// [`crate::UserService::bootstrap_super_admin`]).
pub const SUPER_ADMIN_ROLE: &str = "super_admin";

/// A role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Role {
    /// Role id.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Unique (per tenant) name: 1–64 characters of `a-z 0-9 . - _`.
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Permissions the role grants.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<super::permission::Permission>))]
    pub permissions: PermissionSet,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Normalises a role name (trim, lower-case) and checks its shape.
pub fn normalize_role_name(raw: &str, field: &str, errors: &mut FieldErrors) -> Option<String> {
    let name = raw.trim().to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if valid {
        Some(name)
    } else {
        errors.add(
            field,
            format!(
                "`{}` is not a valid role name (1-64 of a-z 0-9 . - _)",
                raw.trim()
            ),
        );
        None
    }
}
