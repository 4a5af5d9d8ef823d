//! Typed commands: what callers send to create and change users and roles.
//!
//! Bodies reject unknown fields. In updates, a field that is absent is left alone and a
//! nullable field sent as `null` is cleared.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::model::{AuthMethod, Gender, Permission, Profile, Status, User};
use crate::password::Password;
use crate::validate::UserDraft;

/// Create a user (SPEC §3).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Display name (required).
    pub name: String,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone, normalised to E.164.
    #[serde(default)]
    pub phone: Option<String>,
    /// Username.
    #[serde(default)]
    pub username: Option<String>,
    /// Unique ID.
    #[serde(default)]
    pub unique_id: Option<String>,
    /// Initial password; without one the user must reset before logging in.
    #[serde(default)]
    pub password: Option<Password>,
    /// Send the user an invitation to set their own password (needs no `password`, and an
    /// email or phone to send to). A failed delivery answers 502 `delivery_failed` naming
    /// the created user; the invitation can be sent again.
    #[serde(default)]
    pub invite: bool,
    /// Initial status (default `active`; `deleted` is refused).
    #[serde(default)]
    pub status: Option<Status>,
    /// Admin flag.
    #[serde(default)]
    pub is_admin: bool,
    /// Instructor flag.
    #[serde(default)]
    pub is_instructor: bool,
    /// Learner flag.
    #[serde(default)]
    pub is_learner: bool,
    /// Role names to grant.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Vec<crate::schemas::RoleName>, max_items = 100)
    )]
    pub roles: Vec<String>,
    /// Permissions to grant directly.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub permissions: Vec<Permission>,
    /// Email already verified.
    #[serde(default)]
    pub email_verified: bool,
    /// Phone already verified.
    #[serde(default)]
    pub phone_verified: bool,
    /// Primary sign-in method (default: email if given, else phone).
    #[serde(default)]
    pub auth_method: Option<AuthMethod>,
    /// Avatar URL.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Bio.
    #[serde(default)]
    pub bio: Option<String>,
    /// Country code.
    #[serde(default)]
    pub country: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// State.
    #[serde(default)]
    pub state: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// BCP 47 locale.
    #[serde(default)]
    pub locale: Option<String>,
    /// Gender.
    #[serde(default)]
    pub gender: Option<Gender>,
    /// Designation.
    #[serde(default)]
    pub designation: Option<String>,
    /// Expertise.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub expertise: Vec<String>,
    /// Date of birth.
    #[serde(default)]
    pub date_of_birth: Option<NaiveDate>,
}

impl CreateUser {
    pub(crate) fn draft(&self) -> UserDraft {
        UserDraft {
            name: self.name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            username: self.username.clone(),
            unique_id: self.unique_id.clone(),
            status: self.status.unwrap_or(Status::Active),
            is_admin: self.is_admin,
            is_instructor: self.is_instructor,
            is_learner: self.is_learner,
            roles: self.roles.clone(),
            permissions: self.permissions.clone(),
            email_verified: self.email_verified,
            phone_verified: self.phone_verified,
            auth_method: self.auth_method,
            profile: Profile {
                avatar_url: self.avatar_url.clone(),
                bio: self.bio.clone(),
                country: self.country.clone(),
                city: self.city.clone(),
                state: self.state.clone(),
                continent: None,
                timezone: self.timezone.clone(),
                locale: self.locale.clone(),
                gender: self.gender,
                designation: self.designation.clone(),
                expertise: self.expertise.clone(),
                date_of_birth: self.date_of_birth,
            },
        }
    }
}

/// A partial update of a user, including direct credential edits and status changes.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New email (`null` removes it).
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub email: Option<Option<String>>,
    /// New phone (`null` removes it).
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub phone: Option<Option<String>>,
    /// New username (`null` removes it).
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub username: Option<Option<String>>,
    /// New unique ID (`null` removes it).
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub unique_id: Option<Option<String>>,
    /// New password (`null` removes it: the user must reset before logging in).
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub password: Option<Option<Password>>,
    /// New status; `active` reactivates a deleted user, `deleted` soft-deletes.
    #[serde(default)]
    pub status: Option<Status>,
    /// Admin flag.
    #[serde(default)]
    pub is_admin: Option<bool>,
    /// Instructor flag.
    #[serde(default)]
    pub is_instructor: Option<bool>,
    /// Learner flag.
    #[serde(default)]
    pub is_learner: Option<bool>,
    /// Replaces the role set.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<Vec<crate::schemas::RoleName>>, max_items = 100)
    )]
    pub roles: Option<Vec<String>>,
    /// Replaces the direct permissions.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub permissions: Option<Vec<Permission>>,
    /// Email verified.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// Phone verified.
    #[serde(default)]
    pub phone_verified: Option<bool>,
    /// Primary sign-in method.
    #[serde(default)]
    pub auth_method: Option<AuthMethod>,
    /// Avatar URL.
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub avatar_url: Option<Option<String>>,
    /// Bio.
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub bio: Option<Option<String>>,
    /// Country code.
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub country: Option<Option<String>>,
    /// City.
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub city: Option<Option<String>>,
    /// State.
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub state: Option<Option<String>>,
    /// IANA time zone.
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub timezone: Option<Option<String>>,
    /// BCP 47 locale.
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub locale: Option<Option<String>>,
    /// Gender.
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub gender: Option<Option<Gender>>,
    /// Designation.
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub designation: Option<Option<String>>,
    /// Replaces the expertise list.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub expertise: Option<Vec<String>>,
    /// Date of birth.
    #[serde(default, with = "::serde_with::rust::double_option")]
    pub date_of_birth: Option<Option<NaiveDate>>,
    /// Keep the user's sessions when the password changes (by default they are ended).
    #[serde(default)]
    pub keep_sessions: bool,
    /// Apply only if the stored version is this one (HTTP `If-Match`); otherwise a version
    /// conflict.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *target = value;
    }
}

impl UpdateUser {
    /// The draft of `current` with this patch applied.
    pub(crate) fn apply(&self, current: &User) -> UserDraft {
        let mut d = UserDraft {
            name: current.name.clone(),
            email: current.email.clone(),
            phone: current.phone.clone(),
            username: current.username.clone(),
            unique_id: current.unique_id.clone(),
            status: current.status,
            is_admin: current.is_admin,
            is_instructor: current.is_instructor,
            is_learner: current.is_learner,
            roles: current.roles.clone(),
            permissions: current.permissions.clone(),
            email_verified: current.email_verified,
            phone_verified: current.phone_verified,
            auth_method: Some(current.auth_method),
            profile: current.profile.clone(),
        };
        set(&mut d.name, self.name.clone());
        set(&mut d.email, self.email.clone());
        set(&mut d.phone, self.phone.clone());
        set(&mut d.username, self.username.clone());
        set(&mut d.unique_id, self.unique_id.clone());
        set(&mut d.status, self.status);
        set(&mut d.is_admin, self.is_admin);
        set(&mut d.is_instructor, self.is_instructor);
        set(&mut d.is_learner, self.is_learner);
        set(&mut d.roles, self.roles.clone());
        set(&mut d.permissions, self.permissions.clone());
        set(&mut d.email_verified, self.email_verified);
        set(&mut d.phone_verified, self.phone_verified);
        if self.auth_method.is_some() {
            d.auth_method = self.auth_method;
        }
        let p = &mut d.profile;
        set(&mut p.avatar_url, self.avatar_url.clone());
        set(&mut p.bio, self.bio.clone());
        set(&mut p.country, self.country.clone());
        set(&mut p.city, self.city.clone());
        set(&mut p.state, self.state.clone());
        set(&mut p.timezone, self.timezone.clone());
        set(&mut p.locale, self.locale.clone());
        set(&mut p.gender, self.gender);
        set(&mut p.designation, self.designation.clone());
        set(&mut p.expertise, self.expertise.clone());
        set(&mut p.date_of_birth, self.date_of_birth);
        d
    }
}

/// Create a role.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    /// Unique name (normalised to lower case).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schemas::RoleName))]
    pub name: String,
    /// Optional description (at most 500 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
    /// Permissions the role grants.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub permissions: Vec<Permission>,
}

/// Change a role; absent fields are left alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    /// New name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::schemas::RoleName>))]
    pub name: Option<String>,
    /// New description (`null` removes it; at most 500 characters).
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<Option<String>>,
    /// Replaces the permissions.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 500))]
    pub permissions: Option<Vec<Permission>>,
}
