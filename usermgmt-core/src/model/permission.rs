//! Permissions: the built-in ones, names a host application registers, and sets of them.

use std::borrow::Cow;
use std::collections::BTreeSet;

/// Most permissions a request may name, a role may carry, and a registry may hold.
pub const MAX_PERMISSIONS: usize = 500;

/// Longest permission name, in bytes.
pub const MAX_PERMISSION_NAME_LEN: usize = 64;

/// A permission an operation requires, by name: one of usermgmt's built-ins (the associated
/// constants) or one the host application registered (see
/// [`PermissionRegistry`](super::PermissionRegistry)). Roles bundle them; users hold roles
/// and direct grants.
///
/// A value always has the shape of a permission name — lowercase dotted segments of
/// `a-z 0-9 _` starting with a letter, a namespace prefix and at least one more segment, at
/// most 64 bytes — but only a registry says whether it is known.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(Cow<'static, str>);

/// A string that is not shaped like a permission name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a permission name (lowercase dotted segments of a-z 0-9 _, e.g. `course.create`, at most 64 characters)"
)]
pub struct InvalidPermissionName(pub String);

const fn builtin(name: &'static str) -> Permission {
    Permission(Cow::Borrowed(name))
}

impl Permission {
    /// List and search users, read filter values and statistics.
    pub const USER_LIST: Permission = builtin("user.list");
    /// Open one user's profile, sessions and audit log.
    pub const USER_VIEW: Permission = builtin("user.view");
    /// Create users.
    pub const USER_CREATE: Permission = builtin("user.create");
    /// Edit users, including credentials, status, roles and notes.
    pub const USER_UPDATE: Permission = builtin("user.update");
    /// Soft-delete users, one or in bulk.
    pub const USER_DELETE: Permission = builtin("user.delete");
    /// Export users.
    pub const USER_EXPORT: Permission = builtin("user.export");
    /// Impersonate or masquerade as users.
    pub const USER_IMPERSONATE: Permission = builtin("user.impersonate");
    /// Create, edit and delete roles.
    pub const ROLE_MANAGE: Permission = builtin("role.manage");
    /// Create and revoke provisioning (SCIM) tokens.
    pub const USER_PROVISION: Permission = builtin("user.provision");
    /// Manage webhook endpoints, see their deliveries, redeliver and replay events.
    pub const WEBHOOK_MANAGE: Permission = builtin("webhook.manage");

    /// usermgmt's own permissions, in catalog order.
    pub const BUILT_IN: &'static [Permission] = &[
        Self::USER_LIST,
        Self::USER_VIEW,
        Self::USER_CREATE,
        Self::USER_UPDATE,
        Self::USER_DELETE,
        Self::USER_EXPORT,
        Self::USER_IMPERSONATE,
        Self::ROLE_MANAGE,
        Self::USER_PROVISION,
        Self::WEBHOOK_MANAGE,
    ];

    /// A permission named `name`, when it has the shape of a permission name (whether it is
    /// registered is a [`PermissionRegistry`](super::PermissionRegistry)'s question).
    pub fn new(name: &str) -> Result<Self, InvalidPermissionName> {
        if let Some(known) = Self::BUILT_IN.iter().find(|p| p.as_str() == name) {
            return Ok(known.clone());
        }
        if well_formed(name) {
            Ok(Permission(Cow::Owned(name.to_owned())))
        } else {
            Err(InvalidPermissionName(name.chars().take(80).collect()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is one of usermgmt's own permissions.
    pub fn is_built_in(&self) -> bool {
        Self::BUILT_IN.contains(self)
    }

    /// Whether a name belongs to the namespaces reserved for the built-ins (`user.*`,
    /// `role.*`, `webhook.*`).
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with("user.") || self.0.starts_with("role.") || self.0.starts_with("webhook.")
    }

    /// The description and whether it changes data, of a built-in permission.
    pub(crate) fn built_in_info(&self) -> Option<(&'static str, bool)> {
        Some(match self.as_str() {
            "user.list" => ("List and search users, filter values and statistics", false),
            "user.view" => ("View a user's profile, sessions and audit log", false),
            "user.create" => ("Create users", true),
            "user.update" => ("Edit users, credentials, status, roles and notes", true),
            "user.delete" => ("Soft-delete users, individually or in bulk", true),
            "user.export" => ("Export users", false),
            "user.impersonate" => ("Impersonate or masquerade as users", true),
            "role.manage" => ("Create, edit and delete roles", true),
            "user.provision" => ("Create and revoke provisioning (SCIM) tokens", true),
            "webhook.manage" => (
                "Manage webhook endpoints: they receive every change in the tenant",
                true,
            ),
            _ => return None,
        })
    }
}

/// Lowercase dotted segments, each starting with a letter; at least two segments.
fn well_formed(name: &str) -> bool {
    name.len() <= MAX_PERMISSION_NAME_LEN
        && name.split('.').count() >= 2
        && name.split('.').all(|segment| {
            segment.starts_with(|c: char| c.is_ascii_lowercase())
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// The pattern of a permission name, as the OpenAPI document declares it.
pub const PERMISSION_NAME_PATTERN: &str = "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$";

impl std::fmt::Debug for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Permission({})", self.0)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Permission {
    type Err = InvalidPermissionName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::new(s)
    }
}

impl serde::Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        Permission::new(&text).map_err(serde::de::Error::custom)
    }
}

/// An entry of the permission catalog.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PermissionInfo {
    /// The permission.
    pub permission: Permission,
    /// What it allows.
    pub description: String,
    /// Whether usermgmt defines it (otherwise the host application registered it).
    pub built_in: bool,
    /// Whether it changes data: a read-only impersonation session is refused it.
    pub writes: bool,
}

/// An ordered set of permissions.
pub type PermissionSet = BTreeSet<Permission>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_dotted_with_a_namespace() {
        for good in [
            "course.create",
            "grade.edit",
            "lms.course.view_all",
            "a1.b_2",
        ] {
            assert!(Permission::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "course",
            "Course.create",
            "course.",
            ".create",
            "course..create",
            "course.1create",
            "course create",
            "course.créer",
            &format!("a.{}", "b".repeat(63)),
        ] {
            assert!(Permission::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn built_ins_parse_to_the_constants_and_are_reserved() {
        for p in Permission::BUILT_IN {
            assert_eq!(&Permission::new(p.as_str()).unwrap(), p);
            assert!(p.is_built_in() && p.is_reserved());
            assert!(p.built_in_info().is_some());
        }
        assert!(!Permission::new("course.create").unwrap().is_reserved());
        assert!(Permission::new("user.promote").unwrap().is_reserved());
    }

    #[test]
    fn deserialising_refuses_a_malformed_name() {
        let err = serde_json::from_str::<Permission>("\"Course.Create\"").unwrap_err();
        assert!(err.to_string().contains("Course.Create"));
        let ok: Permission = serde_json::from_str("\"course.create\"").unwrap();
        assert_eq!(ok.as_str(), "course.create");
    }
}
