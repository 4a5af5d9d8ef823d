//! The permission registry: usermgmt's built-in permissions plus the ones the host
//! application registers when it builds the service.

use std::collections::BTreeMap;

use super::permission::{
    InvalidPermissionName, MAX_PERMISSIONS, Permission, PermissionInfo, PermissionSet,
};
use crate::error::FieldErrors;

/// Longest description of a registered permission, in characters.
pub const MAX_PERMISSION_DESCRIPTION_LEN: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    description: String,
    writes: bool,
}

/// Every permission a service knows: the built-ins and the host application's, with their
/// descriptions and whether they change data. It is the source of truth: a permission name
/// outside it is refused wherever one is given, and one still stored from an earlier
/// registration grants nothing (see [`crate::UserService::permission_report`]).
///
/// ```
/// use usermgmt_core::model::PermissionRegistry;
///
/// let permissions = PermissionRegistry::new()
///     .register("course.view", "See courses")?
///     .register_writing("course.create", "Create courses")?;
/// assert!(permissions.get("course.create").is_some());
/// # Ok::<(), usermgmt_core::model::RegistryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionRegistry {
    entries: BTreeMap<Permission, Entry>,
}

/// Why a permission cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The name is not shaped like a permission name.
    #[error(transparent)]
    InvalidName(#[from] InvalidPermissionName),
    /// The name is in the `user.*` or `role.*` namespace, which belongs to the built-ins.
    #[error("`{0}` is in a namespace reserved for usermgmt's own permissions (user.*, role.*)")]
    Reserved(String),
    /// The name is registered already.
    #[error("`{0}` is registered twice")]
    Duplicate(String),
    /// The description is blank, too long or has control characters.
    #[error(
        "the description of `{0}` must be 1-{MAX_PERMISSION_DESCRIPTION_LEN} printable characters"
    )]
    Description(String),
    /// The registry is full.
    #[error("at most {MAX_PERMISSIONS} permissions, built-ins included, can be registered")]
    TooMany,
}

impl Default for PermissionRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl PermissionRegistry {
    /// The built-in permissions only.
    pub fn new() -> Self {
        let entries = Permission::BUILT_IN
            .iter()
            .filter_map(|p| {
                let (description, writes) = p.built_in_info()?;
                let description = description.to_owned();
                Some((
                    p.clone(),
                    Entry {
                        description,
                        writes,
                    },
                ))
            })
            .collect();
        Self { entries }
    }

    /// Adds a host permission that only reads: a read-only impersonation session may use it.
    pub fn register(self, name: &str, description: &str) -> Result<Self, RegistryError> {
        self.add(name, description, false)
    }

    /// Adds a host permission that changes data: a read-only impersonation session is
    /// refused it (see [`crate::UserService::check_permission`]).
    pub fn register_writing(self, name: &str, description: &str) -> Result<Self, RegistryError> {
        self.add(name, description, true)
    }

    fn add(mut self, name: &str, description: &str, writes: bool) -> Result<Self, RegistryError> {
        let permission = Permission::new(name)?;
        if permission.is_reserved() {
            return Err(RegistryError::Reserved(name.to_owned()));
        }
        if self.entries.contains_key(&permission) {
            return Err(RegistryError::Duplicate(name.to_owned()));
        }
        let description = description.trim();
        if description.is_empty()
            || description.chars().count() > MAX_PERMISSION_DESCRIPTION_LEN
            || description.chars().any(char::is_control)
        {
            return Err(RegistryError::Description(name.to_owned()));
        }
        if self.entries.len() >= MAX_PERMISSIONS {
            return Err(RegistryError::TooMany);
        }
        let description = description.to_owned();
        self.entries.insert(
            permission,
            Entry {
                description,
                writes,
            },
        );
        Ok(self)
    }

    /// The registered permission named `name`.
    pub fn get(&self, name: &str) -> Option<&Permission> {
        let permission = Permission::new(name).ok()?;
        self.entries.get_key_value(&permission).map(|(p, _)| p)
    }

    /// Whether `permission` is registered (built-ins always are).
    pub fn contains(&self, permission: &Permission) -> bool {
        self.entries.contains_key(permission)
    }

    /// Whether `permission` is registered as changing data.
    pub fn writes(&self, permission: &Permission) -> bool {
        self.entries.get(permission).is_some_and(|e| e.writes)
    }

    /// Every registered permission (what the super-admin role holds).
    pub fn all(&self) -> PermissionSet {
        self.entries.keys().cloned().collect()
    }

    /// How many permissions are registered, built-ins included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is registered (never: the built-ins always are).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The catalog: the built-ins in their order, then the host's permissions by name.
    pub fn catalog(&self) -> Vec<PermissionInfo> {
        let info = |(permission, entry): (&Permission, &Entry)| PermissionInfo {
            permission: permission.clone(),
            description: entry.description.clone(),
            built_in: permission.is_built_in(),
            writes: entry.writes,
        };
        let built_in = Permission::BUILT_IN
            .iter()
            .filter_map(|p| self.entries.get_key_value(p))
            .map(info);
        let host = self
            .entries
            .iter()
            .filter(|(p, _)| !p.is_built_in())
            .map(info);
        built_in.chain(host).collect()
    }

    /// Adds a field error on `field` for every permission of `given` that is not registered.
    pub fn check<'a>(
        &self,
        given: impl IntoIterator<Item = &'a Permission>,
        field: &str,
        errors: &mut FieldErrors,
    ) {
        for permission in given {
            if !self.contains(permission) {
                errors.add(
                    field,
                    format!("`{permission}` is not a registered permission"),
                );
            }
        }
    }

    /// `set` without the permissions that are not registered (stored ones from an earlier
    /// registration grant nothing).
    pub fn known(&self, mut set: PermissionSet) -> PermissionSet {
        set.retain(|p| self.contains(p));
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_host_permissions_next_to_the_built_ins() {
        let registry = PermissionRegistry::new()
            .register("course.view", "See courses")
            .unwrap()
            .register_writing("course.create", "Create courses")
            .unwrap();
        assert_eq!(registry.len(), Permission::BUILT_IN.len() + 2);
        let create = registry.get("course.create").unwrap().clone();
        assert!(registry.writes(&create));
        assert!(!registry.writes(registry.get("course.view").unwrap()));
        assert!(registry.writes(&Permission::USER_UPDATE));
        assert!(!registry.writes(&Permission::USER_LIST));
        let catalog = registry.catalog();
        assert_eq!(catalog[0].permission, Permission::USER_LIST);
        assert_eq!(catalog.last().unwrap().permission.as_str(), "course.view");
        assert!(registry.get("course.delete").is_none());
    }

    #[test]
    fn refuses_bad_reserved_duplicate_and_undescribed_names() {
        let registry = PermissionRegistry::new();
        let refused = |name: &str, description: &str| {
            registry
                .clone()
                .register(name, description)
                .expect_err(name)
        };
        assert!(matches!(
            refused("Course.Create", "x"),
            RegistryError::InvalidName(_)
        ));
        assert!(matches!(
            refused("user.promote", "x"),
            RegistryError::Reserved(_)
        ));
        assert!(matches!(
            refused("role.audit", "x"),
            RegistryError::Reserved(_)
        ));
        assert!(matches!(
            refused("course.view", " "),
            RegistryError::Description(_)
        ));
        let twice = registry
            .register("course.view", "See courses")
            .unwrap()
            .register("course.view", "Again");
        assert!(matches!(twice, Err(RegistryError::Duplicate(_))));
    }

    #[test]
    fn the_registry_is_bounded() {
        let mut registry = PermissionRegistry::new();
        for i in 0.. {
            match registry.clone().register(&format!("host.p{i}"), "p") {
                Ok(next) => registry = next,
                Err(error) => {
                    assert_eq!(error, RegistryError::TooMany);
                    break;
                }
            }
        }
        assert_eq!(registry.len(), MAX_PERMISSIONS);
    }
}
