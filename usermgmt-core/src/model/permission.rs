//! Permissions, the catalog, and sets of them.

use std::collections::BTreeSet;

use super::string_enum::string_enum;

string_enum! {
    /// A permission an operation requires. Roles bundle them; users hold roles and direct grants.
    pub enum Permission {
        /// List and search users, read filter values and statistics.
        UserList => "user.list",
        /// Open one user's profile, sessions and audit log.
        UserView => "user.view",
        /// Create users.
        UserCreate => "user.create",
        /// Edit users, including credentials, status, roles and notes.
        UserUpdate => "user.update",
        /// Soft-delete users, one or in bulk.
        UserDelete => "user.delete",
        /// Export users.
        UserExport => "user.export",
        /// Impersonate or masquerade as users.
        UserImpersonate => "user.impersonate",
        /// Create, edit and delete roles.
        RoleManage => "role.manage",
    }
}

impl Permission {
    /// A one-line human description, for the permission catalog.
    pub const fn description(self) -> &'static str {
        match self {
            Permission::UserList => "List and search users, filter values and statistics",
            Permission::UserView => "View a user's profile, sessions and audit log",
            Permission::UserCreate => "Create users",
            Permission::UserUpdate => "Edit users, credentials, status, roles and notes",
            Permission::UserDelete => "Soft-delete users, individually or in bulk",
            Permission::UserExport => "Export users",
            Permission::UserImpersonate => "Impersonate or masquerade as users",
            Permission::RoleManage => "Create, edit and delete roles",
        }
    }

    /// Every permission, as a set (what the super-admin role and the system principal hold).
    pub fn all() -> PermissionSet {
        Permission::ALL.iter().copied().collect()
    }
}

/// An entry of the permission catalog.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PermissionInfo {
    /// The permission.
    pub permission: Permission,
    /// What it allows.
    pub description: &'static str,
}

/// Every permission the library knows, with descriptions.
pub fn permission_catalog() -> Vec<PermissionInfo> {
    Permission::ALL
        .iter()
        .map(|&permission| PermissionInfo {
            permission,
            description: permission.description(),
        })
        .collect()
}

/// An ordered set of permissions.
pub type PermissionSet = BTreeSet<Permission>;
