//! `UserFilters`: every filter of the user list, and its normalisation.

use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::checks::{dedup, range_check};
use super::enrollment::EnrollmentFilters;
use crate::error::FieldErrors;
use crate::model::{
    AuthMethod, Continent, Gender, OAuthProvider, Permission, SEARCH_SEPARATOR, Status,
    normalize_role_name,
};

/// Every filter of the user list. All set filters combine with AND; a multi-valued filter
/// matches any of its values. Unset (`None` / empty) filters do not constrain.
///
/// Deleted users are excluded unless `status` or `statuses` asks for `deleted`.
///
/// Text filters `city`, `state`, `designation`, `expertise` and `locale` compare ignoring ASCII
/// case; `country` takes ISO codes (any case); `timezone` takes IANA names. Time bounds are
/// half-open: `*_after` is inclusive, `*_before` exclusive. `inactive_for_days` counts users
/// who never logged in as inactive. Ages are full years in UTC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(default, deny_unknown_fields)]
pub struct UserFilters {
    /// Case-insensitive substring of name, email, phone, username or unique ID.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<crate::schemas::SearchText>),
        param(value_type = Option<crate::schemas::SearchText>)
    )]
    pub search: Option<String>,
    /// Any of these user ids.
    #[cfg_attr(feature = "openapi", schema(max_items = 100), param(max_items = 100))]
    pub ids: Vec<uuid::Uuid>,
    /// Any of these email addresses, exactly (ignoring case).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::IdentityText>, max_items = 100), param(value_type = Vec<crate::schemas::IdentityText>, max_items = 100))]
    pub email: Vec<String>,
    /// Any of these usernames, exactly (ignoring case).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::IdentityText>, max_items = 100), param(value_type = Vec<crate::schemas::IdentityText>, max_items = 100))]
    pub username: Vec<String>,
    /// Any of these unique IDs, exactly (ignoring case).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::IdentityText>, max_items = 100), param(value_type = Vec<crate::schemas::IdentityText>, max_items = 100))]
    pub unique_id: Vec<String>,
    /// Exactly this status.
    pub status: Option<Status>,
    /// Any of these statuses.
    #[cfg_attr(feature = "openapi", schema(max_items = 100), param(max_items = 100))]
    pub statuses: Vec<Status>,
    /// Admin flag.
    pub is_admin: Option<bool>,
    /// Instructor flag.
    pub is_instructor: Option<bool>,
    /// Learner flag.
    pub is_learner: Option<bool>,
    /// Email verified.
    pub email_verified: Option<bool>,
    /// Phone verified.
    pub phone_verified: Option<bool>,
    /// Any of these primary sign-in methods.
    #[cfg_attr(feature = "openapi", schema(max_items = 100), param(max_items = 100))]
    pub auth_method: Vec<AuthMethod>,
    /// Has at least one linked OAuth provider.
    pub has_oauth: Option<bool>,
    /// Has any of these providers linked.
    #[cfg_attr(feature = "openapi", schema(max_items = 100), param(max_items = 100))]
    pub oauth_provider: Vec<OAuthProvider>,
    /// Has a password set.
    pub has_password: Option<bool>,
    /// Holds any of these roles (by name).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::RoleName>, max_items = 100), param(value_type = Vec<crate::schemas::RoleName>, max_items = 100))]
    pub roles: Vec<String>,
    /// Holds this permission, through a role or directly (a registered name; the built-ins or
    /// the host application's).
    #[cfg_attr(feature = "openapi", param(value_type = Option<crate::model::Permission>))]
    pub permission: Option<Permission>,
    /// Profile completeness at least [`crate::model::PROFILE_COMPLETE_THRESHOLD`].
    pub profile_complete: Option<bool>,
    /// Has an avatar.
    pub has_avatar: Option<bool>,
    /// Has a bio.
    pub has_bio: Option<bool>,
    /// Has a country or a city.
    pub has_location: Option<bool>,
    /// Any of these countries (ISO 3166-1 alpha-2).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::CountryCode>, max_items = 100), param(value_type = Vec<crate::schemas::CountryCode>, max_items = 100))]
    pub country: Vec<String>,
    /// Any of these cities.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::FilterText>, max_items = 100), param(value_type = Vec<crate::schemas::FilterText>, max_items = 100))]
    pub city: Vec<String>,
    /// Any of these states.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::FilterText>, max_items = 100), param(value_type = Vec<crate::schemas::FilterText>, max_items = 100))]
    pub state: Vec<String>,
    /// Any of these continents.
    #[cfg_attr(feature = "openapi", schema(max_items = 100), param(max_items = 100))]
    pub continent: Vec<Continent>,
    /// Any of these IANA time zones.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::TimeZoneName>, max_items = 100), param(value_type = Vec<crate::schemas::TimeZoneName>, max_items = 100))]
    pub timezone: Vec<String>,
    /// Any of these BCP 47 locales.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::LocaleTag>, max_items = 100), param(value_type = Vec<crate::schemas::LocaleTag>, max_items = 100))]
    pub locale: Vec<String>,
    /// Any of these genders.
    #[cfg_attr(feature = "openapi", schema(max_items = 100), param(max_items = 100))]
    pub gender: Vec<Gender>,
    /// Any of these designations.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::FilterText>, max_items = 100), param(value_type = Vec<crate::schemas::FilterText>, max_items = 100))]
    pub designation: Vec<String>,
    /// Has any of these areas of expertise.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::schemas::FilterText>, max_items = 100), param(value_type = Vec<crate::schemas::FilterText>, max_items = 100))]
    pub expertise: Vec<String>,
    /// At least this age (full years).
    #[cfg_attr(feature = "openapi", schema(maximum = 150), param(maximum = 150))]
    pub age_min: Option<u32>,
    /// At most this age (full years).
    #[cfg_attr(feature = "openapi", schema(maximum = 150), param(maximum = 150))]
    pub age_max: Option<u32>,
    /// Registered at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Registered before.
    pub created_before: Option<DateTime<Utc>>,
    /// Registered within the last N days.
    #[cfg_attr(feature = "openapi", schema(maximum = 36500), param(maximum = 36500))]
    pub created_in_last_days: Option<u32>,
    /// Last login at or after.
    pub last_login_after: Option<DateTime<Utc>>,
    /// Last login before.
    pub last_login_before: Option<DateTime<Utc>>,
    /// Logged in within the last N days.
    #[cfg_attr(feature = "openapi", schema(maximum = 36500), param(maximum = 36500))]
    pub active_in_last_days: Option<u32>,
    /// No login for N days (never logged in counts).
    #[cfg_attr(feature = "openapi", schema(maximum = 36500), param(maximum = 36500))]
    pub inactive_for_days: Option<u32>,
    /// Currently locked out.
    pub is_locked: Option<bool>,
    /// At least this many consecutive failed logins.
    #[cfg_attr(
        feature = "openapi",
        schema(maximum = 1000000),
        param(maximum = 1000000)
    )]
    pub failed_login_attempts_min: Option<u32>,
    /// At most this many consecutive failed logins.
    #[cfg_attr(
        feature = "openapi",
        schema(maximum = 1000000),
        param(maximum = 1000000)
    )]
    pub failed_login_attempts_max: Option<u32>,
    /// Cross-service filters, evaluated against another service's enrollments (flat in the
    /// query string and in JSON).
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", param(ignore))]
    pub enrollment: EnrollmentFilters,
}

/// Longest accepted search term, in characters.
pub const MAX_SEARCH_LEN: usize = 200;
/// Most values a multi-valued filter accepts.
pub const MAX_FILTER_VALUES: usize = 100;
/// Largest accepted day count in `*_days` filters (100 years).
pub const MAX_DAYS: u32 = 36_500;
/// Largest accepted age.
pub const MAX_AGE: u32 = 150;
/// Largest accepted failed-login count in a filter.
pub const MAX_FAILED_ATTEMPTS: u32 = 1_000_000;

/// An identity filter's value (email, username, unique ID) as compared: trimmed and
/// lower-cased; `None` unless 1-254 printable characters (no stored value is otherwise).
pub fn identity_key(value: &str) -> Option<String> {
    let value = value.trim();
    let printable =
        !value.is_empty() && !value.chars().any(char::is_control) && value.chars().count() <= 254;
    printable.then(|| value.to_lowercase())
}

impl UserFilters {
    /// True when no filter is set (the implicit "not deleted" does not count).
    pub fn is_empty(&self) -> bool {
        self == &UserFilters::default()
    }

    /// Whether any cross-service (enrollment) filter is set: a comparison, for the checks
    /// every list request makes (the names are read only when reported).
    pub fn uses_cross_service(&self) -> bool {
        self.enrollment != EnrollmentFilters::default()
    }

    /// Names of the cross-service (enrollment) filters that are set.
    pub fn cross_service_filters_in_use(&self) -> Vec<String> {
        self.enrollment.in_use()
    }

    /// Removes the cross-service filters (when no enrollment source evaluates them).
    pub fn without_cross_service(mut self) -> Self {
        self.enrollment = EnrollmentFilters::default();
        self
    }

    /// Removes the cross-service filters (none evaluates them), returning their names.
    pub fn skip_cross_service(&mut self) -> Vec<String> {
        if !self.uses_cross_service() {
            return Vec::new();
        }
        let skipped = self.cross_service_filters_in_use();
        tracing::warn!(filters = ?skipped, "no enrollment source configured; filters skipped");
        *self = std::mem::take(self).without_cross_service();
        skipped
    }

    /// The number of values of every multi-valued filter, by name.
    fn list_lengths(&self) -> [(&'static str, usize); 17] {
        [
            ("ids", self.ids.len()),
            ("email", self.email.len()),
            ("username", self.username.len()),
            ("unique_id", self.unique_id.len()),
            ("statuses", self.statuses.len()),
            ("auth_method", self.auth_method.len()),
            ("oauth_provider", self.oauth_provider.len()),
            ("roles", self.roles.len()),
            ("country", self.country.len()),
            ("city", self.city.len()),
            ("state", self.state.len()),
            ("continent", self.continent.len()),
            ("timezone", self.timezone.len()),
            ("locale", self.locale.len()),
            ("gender", self.gender.len()),
            ("designation", self.designation.len()),
            ("expertise", self.expertise.len()),
        ]
    }

    /// Whether deleted users are included: only when a status filter names `deleted`.
    pub fn includes_deleted(&self) -> bool {
        self.status == Some(Status::Deleted) || self.statuses.contains(&Status::Deleted)
    }

    /// Checks every value and brings it to canonical form (trimmed, case-normalised, known
    /// codes), reporting every offending field at once. Backends only ever see normalised
    /// filters.
    pub fn normalize(&mut self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        let enrollment_lists = self.enrollment.list_lengths();
        for (field, len) in self.list_lengths().into_iter().chain(enrollment_lists) {
            if len > MAX_FILTER_VALUES {
                errors.add(field, format!("at most {MAX_FILTER_VALUES} values"));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        if let Some(search) = self.search.take() {
            let term = search.trim();
            if term.chars().any(char::is_control) || term.contains(SEARCH_SEPARATOR) {
                errors.add("search", "must not contain control characters");
            } else if term.chars().count() > MAX_SEARCH_LEN {
                errors.add(
                    "search",
                    format!("must be at most {MAX_SEARCH_LEN} characters"),
                );
            } else if !term.is_empty() {
                self.search = Some(term.to_lowercase());
            }
        }

        dedup(&mut self.ids);
        for (field, values) in [
            ("email", &mut self.email),
            ("username", &mut self.username),
            ("unique_id", &mut self.unique_id),
        ] {
            for value in std::mem::take(values) {
                match identity_key(&value) {
                    Some(key) => values.push(key),
                    None => errors.add(field, "values must be 1-254 printable characters"),
                }
            }
            dedup(values);
        }
        dedup(&mut self.statuses);
        dedup(&mut self.auth_method);
        dedup(&mut self.oauth_provider);
        dedup(&mut self.continent);
        dedup(&mut self.gender);

        let roles = std::mem::take(&mut self.roles);
        self.roles = roles
            .iter()
            .filter_map(|raw| normalize_role_name(raw, "roles", &mut errors))
            .collect();
        dedup(&mut self.roles);

        let countries = std::mem::take(&mut self.country);
        for raw in countries {
            let code = raw.trim().to_ascii_uppercase();
            if code.len() == 2 && crate::model::continent_of(&code).is_some() {
                self.country.push(code);
            } else {
                errors.add(
                    "country",
                    format!("`{}` is not an ISO 3166-1 alpha-2 code", clip(&raw)),
                );
            }
        }
        dedup(&mut self.country);

        let zones = std::mem::take(&mut self.timezone);
        for raw in zones {
            match crate::validate::canonical_timezone(&raw) {
                Some(zone) => self.timezone.push(zone),
                None => errors.add(
                    "timezone",
                    format!("`{}` is not an IANA time zone", clip(&raw)),
                ),
            }
        }
        dedup(&mut self.timezone);

        let locales = std::mem::take(&mut self.locale);
        for raw in locales {
            match crate::validate::canonical_locale(&raw) {
                Some(tag) => self.locale.push(tag),
                None => errors.add("locale", format!("`{}` is not a BCP 47 tag", clip(&raw))),
            }
        }

        for (field, values) in [
            ("city", &mut self.city),
            ("state", &mut self.state),
            ("designation", &mut self.designation),
            ("expertise", &mut self.expertise),
            (
                "enrolled_program_type",
                &mut self.enrollment.enrolled_program_type,
            ),
            (
                "enrolled_program_ids",
                &mut self.enrollment.enrolled_program_ids,
            ),
        ] {
            let raw = std::mem::take(values);
            for value in raw {
                let value = value.trim();
                if value.is_empty()
                    || value.chars().any(char::is_control)
                    || value.chars().count() > 200
                {
                    errors.add(field, "values must be 1-200 printable characters");
                } else {
                    values.push(value.to_owned());
                }
            }
            dedup(values);
        }

        for (field, value) in [("age_min", self.age_min), ("age_max", self.age_max)] {
            if value.is_some_and(|v| v > MAX_AGE) {
                errors.add(field, format!("must be at most {MAX_AGE}"));
            }
        }
        range_check(
            &mut errors,
            "age_min",
            self.age_min,
            "age_max",
            self.age_max,
        );
        for (field, value) in [
            ("created_in_last_days", self.created_in_last_days),
            ("active_in_last_days", self.active_in_last_days),
            ("inactive_for_days", self.inactive_for_days),
        ] {
            if value.is_some_and(|v| v > MAX_DAYS) {
                errors.add(field, format!("must be at most {MAX_DAYS}"));
            }
        }
        range_check(
            &mut errors,
            "failed_login_attempts_min",
            self.failed_login_attempts_min,
            "failed_login_attempts_max",
            self.failed_login_attempts_max,
        );
        for (field, value) in [
            ("failed_login_attempts_min", self.failed_login_attempts_min),
            ("failed_login_attempts_max", self.failed_login_attempts_max),
        ] {
            if value.is_some_and(|v| v > MAX_FAILED_ATTEMPTS) {
                errors.add(field, format!("must be at most {MAX_FAILED_ATTEMPTS}"));
            }
        }
        self.enrollment.check(&mut errors);

        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Lower bound on `created_at` from `created_in_last_days`.
    pub fn created_since(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.created_in_last_days.map(|days| days_before(now, days))
    }

    /// Lower bound on `last_login_at` from `active_in_last_days`.
    pub fn active_since(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.active_in_last_days.map(|days| days_before(now, days))
    }

    /// `last_login_at` must be absent or before this, from `inactive_for_days`.
    pub fn inactive_since(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inactive_for_days.map(|days| days_before(now, days))
    }

    /// Latest date of birth satisfying `age_min` on `today` (inclusive bound).
    pub fn born_on_or_before(&self, today: NaiveDate) -> Option<NaiveDate> {
        self.age_min.map(|age| years_before(today, age))
    }

    /// Date of birth must be strictly after this to satisfy `age_max` on `today`.
    pub fn born_after(&self, today: NaiveDate) -> Option<NaiveDate> {
        self.age_max
            .map(|age| years_before(today, age.saturating_add(1)))
    }
}

/// `now` minus `days` whole days.
fn days_before(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now - Duration::days(i64::from(days))
}

/// `today` minus `years` calendar years (Feb 29 → Feb 28), clamped to the earliest date.
fn years_before(today: NaiveDate, years: u32) -> NaiveDate {
    today
        .checked_sub_months(Months::new(years.saturating_mul(12)))
        .unwrap_or(NaiveDate::MIN)
}

fn clip(raw: &str) -> String {
    raw.chars().take(40).collect()
}

#[cfg(test)]
#[path = "filters_tests.rs"]
mod tests;
