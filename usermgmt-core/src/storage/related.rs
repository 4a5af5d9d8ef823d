//! Assembling the related lists (roles, permissions, expertise, providers) of users read.

use crate::error::Result;
use crate::model::{OAuthProvider, Permission, User};

/// Which related list a row of a backend's related-lists query belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelatedKind {
    /// A role name.
    Role,
    /// A direct permission.
    Permission,
    /// An area of expertise (ordered by position).
    Expertise,
    /// A linked OAuth provider.
    OAuthProvider,
}

impl RelatedKind {
    /// The kind for the numeric code backends select (0 role, 1 permission, 2 expertise,
    /// 3 OAuth provider).
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(RelatedKind::Role),
            1 => Some(RelatedKind::Permission),
            2 => Some(RelatedKind::Expertise),
            3 => Some(RelatedKind::OAuthProvider),
            _ => None,
        }
    }
}

/// Assembles the related lists (roles, direct permissions, expertise, OAuth providers) of
/// users a backend read, from the rows of its related-lists query in any order, so every
/// backend orders and decodes them the same way.
#[derive(Debug, Default)]
pub struct RelatedLists {
    rows: Vec<(usize, RelatedKind, i64, String)>,
}

impl RelatedLists {
    /// Records one value for the user at `index` (`position` orders expertise).
    pub fn push(&mut self, index: usize, kind: RelatedKind, position: i64, value: String) {
        self.rows.push((index, kind, position, value));
    }

    /// The lists of `count` users (by index), expertise in its order (reads sort the rest,
    /// [`UserLists::decode_into`]). Unknown stored
    /// permissions are skipped with a warning; an unknown provider is a decoding error.
    pub fn into_lists(mut self, count: usize) -> Result<Vec<UserLists>> {
        self.rows
            .sort_unstable_by_key(|(index, kind, position, _)| (*index, *kind as u8, *position));
        let mut lists = vec![UserLists::default(); count];
        for (index, kind, _, value) in self.rows {
            let Some(item) = lists.get_mut(index) else {
                continue;
            };
            match kind {
                RelatedKind::Role => item.roles.push(value),
                RelatedKind::Permission => item.push_permission(&value),
                RelatedKind::Expertise => item.expertise.push(value),
                RelatedKind::OAuthProvider => item.push_provider(&value)?,
            }
        }
        Ok(lists)
    }
}

/// A user's related lists (roles, direct permissions, expertise, OAuth providers) as one
/// value: what a backend keeps beside the user row, so that reading many users needs no
/// look-up per user. Stored as [`UserLists::encode`] gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserLists {
    /// Role names.
    pub roles: Vec<String>,
    /// Direct permissions.
    pub permissions: Vec<Permission>,
    /// Expertise, in the user's order.
    pub expertise: Vec<String>,
    /// Linked OAuth providers.
    pub oauth_providers: Vec<OAuthProvider>,
}

/// The stored form: a JSON object of the non-empty lists, keyed `r`, `p`, `e` and `o`.
#[derive(serde::Serialize)]
struct Stored<'a> {
    #[serde(rename = "r", skip_serializing_if = "<[_]>::is_empty")]
    roles: &'a [String],
    #[serde(rename = "p", skip_serializing_if = "Vec::is_empty")]
    permissions: Vec<&'a str>,
    #[serde(rename = "e", skip_serializing_if = "<[_]>::is_empty")]
    expertise: &'a [String],
    #[serde(rename = "o", skip_serializing_if = "Vec::is_empty")]
    oauth_providers: Vec<&'a str>,
}

/// The stored form as read: every list optional; permissions and providers borrowed until
/// parsed.
#[derive(serde::Deserialize)]
struct Read<'a> {
    #[serde(rename = "r", default)]
    roles: Vec<String>,
    #[serde(rename = "p", default, borrow)]
    permissions: Vec<std::borrow::Cow<'a, str>>,
    #[serde(rename = "e", default)]
    expertise: Vec<String>,
    #[serde(rename = "o", default, borrow)]
    oauth_providers: Vec<std::borrow::Cow<'a, str>>,
}

impl UserLists {
    /// The lists a new user is written with: the user's roles, permissions and expertise,
    /// and the providers of the accounts linked with it.
    pub fn of_new(new: &super::users::NewUser) -> Self {
        let user = &new.user;
        Self {
            roles: user.roles.clone(),
            permissions: user.permissions.clone(),
            expertise: user.profile.expertise.clone(),
            oauth_providers: new.oauth_links.iter().map(|l| l.provider).collect(),
        }
    }

    /// The stored form (`None` when every list is empty).
    pub fn encode(&self) -> Option<String> {
        if self.roles.is_empty()
            && self.permissions.is_empty()
            && self.expertise.is_empty()
            && self.oauth_providers.is_empty()
        {
            return None;
        }
        let stored = Stored {
            roles: &self.roles,
            permissions: self.permissions.iter().map(|p| p.as_str()).collect(),
            expertise: &self.expertise,
            oauth_providers: self.oauth_providers.iter().map(|o| o.as_str()).collect(),
        };
        // Strings and lists of strings always serialise.
        serde_json::to_string(&stored).ok()
    }

    /// Reads the stored form (`None`: every list empty) into `user`'s lists, sorted as the
    /// domain expects (see [`RelatedLists::into_lists`] for unknown values); derived values
    /// are the caller's to refresh.
    pub fn decode_into(stored: Option<&str>, user: &mut User) -> Result<()> {
        let Some(text) = stored else {
            Self::default().apply_to(user);
            return Ok(());
        };
        let read: Read<'_> = serde_json::from_str(text).map_err(|e| {
            crate::error::Error::Storage(crate::error::StorageError::new(
                "decoding a user's lists",
                e.to_string(),
            ))
        })?;
        let mut lists = Self {
            roles: read.roles,
            expertise: read.expertise,
            ..Self::default()
        };
        for permission in &read.permissions {
            lists.push_permission(permission);
        }
        for provider in &read.oauth_providers {
            lists.push_provider(provider)?;
        }
        lists.apply_to(user);
        Ok(())
    }

    /// Moves the lists into `user`, sorted as the domain expects (expertise keeps its order).
    fn apply_to(mut self, user: &mut User) {
        self.roles.sort();
        self.permissions.sort();
        self.oauth_providers.sort();
        user.roles = self.roles;
        user.permissions = self.permissions;
        user.profile.expertise = self.expertise;
        user.oauth_providers = self.oauth_providers;
    }

    fn push_permission(&mut self, value: &str) {
        match value.parse::<Permission>() {
            Ok(p) => self.permissions.push(p),
            Err(_) => tracing::warn!(permission = %value, "ignoring an unknown stored permission"),
        }
    }

    fn push_provider(&mut self, value: &str) -> Result<()> {
        let provider = value.parse().map_err(|_| {
            crate::error::Error::Storage(crate::error::StorageError::new(
                "decoding an OAuth provider",
                value.to_owned(),
            ))
        })?;
        self.oauth_providers.push(provider);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        serde_json::from_value(serde_json::json!({
            "id": "0195f3c2-7d1e-7000-8000-000000000001", "tenant_id": "t", "name": "Ada",
            "email": null, "phone": null, "username": null, "unique_id": null,
            "status": "active", "is_admin": false, "is_instructor": false, "is_learner": true,
            "roles": ["stale"], "permissions": [], "email_verified": false,
            "phone_verified": false, "auth_method": "email", "oauth_providers": [],
            "has_password": false, "avatar_url": null, "bio": null, "country": null,
            "city": null, "state": null, "continent": null, "timezone": null, "locale": null,
            "gender": null, "designation": null, "expertise": ["stale"], "date_of_birth": null,
            "profile_completeness": 0, "created_at": "2026-03-01T09:30:05Z",
            "updated_at": "2026-03-01T09:30:05Z", "last_login_at": null, "deleted_at": null,
            "failed_login_attempts": 0, "locked_until": null, "version": 1
        }))
        .unwrap()
    }

    #[test]
    fn lists_survive_the_stored_form_sorted_as_read_from_the_tables() {
        let lists = UserLists {
            roles: vec!["viewer".into(), "editor".into()],
            permissions: vec![Permission::USER_VIEW, Permission::USER_CREATE],
            expertise: vec!["Rust, \"quoted\"".into(), "Math".into()],
            oauth_providers: vec![OAuthProvider::Github, OAuthProvider::Google],
        };
        let stored = lists.encode().unwrap();
        let mut read = user();
        UserLists::decode_into(Some(&stored), &mut read).unwrap();
        assert_eq!(read.roles, ["editor", "viewer"]);
        let mut permissions = lists.permissions.clone();
        permissions.sort();
        assert_eq!(read.permissions, permissions);
        assert_eq!(
            read.profile.expertise, lists.expertise,
            "expertise keeps its order"
        );
        let mut providers = lists.oauth_providers.clone();
        providers.sort();
        assert_eq!(read.oauth_providers, providers);
    }

    #[test]
    fn empty_lists_are_stored_as_nothing_and_read_back_empty() {
        assert_eq!(UserLists::default().encode(), None);
        let mut read = user();
        UserLists::decode_into(None, &mut read).unwrap();
        assert!(read.roles.is_empty() && read.profile.expertise.is_empty());
        // The form a migration's backfill writes: only some keys present.
        UserLists::decode_into(Some(r#"{"e":["x","y"]}"#), &mut read).unwrap();
        assert_eq!(read.profile.expertise, ["x", "y"]);
        assert!(read.roles.is_empty());
    }

    #[test]
    fn unreadable_lists_are_a_storage_error_and_unknown_permissions_are_skipped() {
        let mut read = user();
        UserLists::decode_into(Some(r#"{"p":["Not A Permission!"]}"#), &mut read).unwrap();
        assert!(read.permissions.is_empty());
        for bad in [r#"{"o":["myspace"]}"#, "not json", r#"{"r":"admin"}"#] {
            assert!(
                matches!(
                    UserLists::decode_into(Some(bad), &mut read),
                    Err(crate::error::Error::Storage(_))
                ),
                "{bad}"
            );
        }
    }
}
