//! The user entity and its derived values.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::permission::Permission;
use super::profile::Profile;
use super::tenant::TenantId;
use super::vocab::{AuthMethod, OAuthProvider, Status};

/// A user as the library returns it. Secrets (the password hash) never appear here;
/// `has_password` tells whether one is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// UUID v7, time-ordered.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Display name (required).
    pub name: String,
    /// Email, lower-cased.
    pub email: Option<String>,
    /// Phone in E.164.
    pub phone: Option<String>,
    /// Username: 3+ characters of `a-z 0-9 . - _`.
    pub username: Option<String>,
    /// Institution-specific unique identifier.
    pub unique_id: Option<String>,
    /// Account status.
    pub status: Status,
    /// User-type flag.
    pub is_admin: bool,
    /// User-type flag.
    pub is_instructor: bool,
    /// User-type flag.
    pub is_learner: bool,
    /// Names of the roles held, sorted.
    pub roles: Vec<String>,
    /// Permissions granted directly (not through roles), sorted.
    pub permissions: Vec<Permission>,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Whether the phone was verified.
    pub phone_verified: bool,
    /// Primary sign-in method.
    pub auth_method: AuthMethod,
    /// Linked OAuth providers, sorted.
    pub oauth_providers: Vec<OAuthProvider>,
    /// Whether a password is set (derived; the hash never leaves storage).
    pub has_password: bool,
    /// Profile fields.
    #[serde(flatten)]
    pub profile: Profile,
    /// 0–100, derived from the profile (see [`Profile::completeness`]).
    pub profile_completeness: u8,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Soft-deletion time.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Consecutive failed logins.
    pub failed_login_attempts: u32,
    /// Locked until this time after too many failed logins.
    pub locked_until: Option<DateTime<Utc>>,
    /// Incremented on every change; the optimistic-concurrency token.
    pub version: i64,
}

impl User {
    /// Whether the account is locked at `now`.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// Age in full years on `today`, if the date of birth is known.
    pub fn age(&self, today: NaiveDate) -> Option<u32> {
        self.profile
            .date_of_birth
            .and_then(|dob| age_on(dob, today))
    }

    /// The lower-cased text `search` matches against (see [`search_text`]).
    pub fn search_text(&self) -> String {
        search_text(
            &self.name,
            self.email.as_deref(),
            self.phone.as_deref(),
            self.username.as_deref(),
            self.unique_id.as_deref(),
        )
    }

    /// Recomputes the values derived from other fields (continent, completeness).
    pub fn refresh_derived(&mut self) {
        self.profile.continent = self
            .profile
            .country
            .as_deref()
            .and_then(super::profile::continent_of);
        self.profile_completeness = self.profile.completeness();
    }
}

/// Full years between `dob` and `today`; `None` if `dob` is after `today`.
pub fn age_on(dob: NaiveDate, today: NaiveDate) -> Option<u32> {
    if dob > today {
        return None;
    }
    let mut years = today.year() - dob.year();
    if (today.month(), today.day()) < (dob.month(), dob.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// Separator between fields in the search text; searches may not contain control characters,
/// so a term can never match across two fields.
pub const SEARCH_SEPARATOR: char = '\n';

/// The text the `search` filter matches: name, email, phone, username and unique ID, each
/// lower-cased (Unicode), joined by [`SEARCH_SEPARATOR`]. Backends store and index this value.
pub fn search_text(
    name: &str,
    email: Option<&str>,
    phone: Option<&str>,
    username: Option<&str>,
    unique_id: Option<&str>,
) -> String {
    let mut text = name.to_lowercase();
    for part in [email, phone, username, unique_id].into_iter().flatten() {
        text.push(SEARCH_SEPARATOR);
        text.push_str(&part.to_lowercase());
    }
    text
}

/// The key users are sorted by for `sort_by=name`: the Unicode lower-cased name, compared
/// byte-wise (so every backend orders the same way).
pub fn name_sort_key(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn age_counts_full_years() {
        assert_eq!(age_on(date(2000, 6, 15), date(2020, 6, 14)), Some(19));
        assert_eq!(age_on(date(2000, 6, 15), date(2020, 6, 15)), Some(20));
        assert_eq!(age_on(date(2000, 2, 29), date(2001, 2, 28)), Some(0));
        assert_eq!(age_on(date(2000, 2, 29), date(2001, 3, 1)), Some(1));
        assert_eq!(age_on(date(2021, 1, 1), date(2020, 1, 1)), None);
    }

    #[test]
    fn search_text_joins_lowercased_fields() {
        let text = search_text(
            "Ada LOVELACE",
            Some("ada@x.io"),
            None,
            Some("ada"),
            Some("ID-7"),
        );
        assert_eq!(text, "ada lovelace\nada@x.io\nada\nid-7");
    }
}
