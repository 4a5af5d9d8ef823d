//! Assembling the related lists (roles, permissions, expertise, providers) of users read.

use crate::error::Result;
use crate::model::User;

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

    /// Fills the lists into the users of `items` (by index; `user` reaches the user in an
    /// item), sorted as the domain expects, and refreshes derived values. Unknown stored
    /// permissions are skipped with a warning; an unknown provider is a decoding error.
    pub fn apply<T>(mut self, items: &mut [T], user: impl Fn(&mut T) -> &mut User) -> Result<()> {
        self.rows
            .sort_unstable_by_key(|(index, kind, position, _)| (*index, *kind as u8, *position));
        for (index, kind, _, value) in self.rows {
            let Some(item) = items.get_mut(index) else {
                continue;
            };
            let user = user(item);
            match kind {
                RelatedKind::Role => user.roles.push(value),
                RelatedKind::Permission => match value.parse::<crate::model::Permission>() {
                    Ok(p) => user.permissions.push(p),
                    Err(_) => {
                        tracing::warn!(permission = %value, "ignoring an unknown stored permission")
                    }
                },
                RelatedKind::Expertise => user.profile.expertise.push(value),
                RelatedKind::OAuthProvider => {
                    user.oauth_providers.push(value.parse().map_err(|_| {
                        crate::error::Error::Storage(crate::error::StorageError::new(
                            "decoding an OAuth provider",
                            value.clone(),
                        ))
                    })?)
                }
            }
        }
        for item in items.iter_mut() {
            let user = user(item);
            user.roles.sort();
            user.permissions.sort();
            user.oauth_providers.sort();
            user.refresh_derived();
        }
        Ok(())
    }
}
