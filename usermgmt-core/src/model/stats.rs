//! Statistics shapes: counts, period overviews and growth series.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::string_enum::string_enum;
use super::vocab::Status;

/// Counts of one status group, as a backend computes them in one pass over the users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusGroup {
    /// Users with the status.
    pub users: u64,
    /// Of those, admins.
    pub admins: u64,
    /// Of those, instructors.
    pub instructors: u64,
    /// Of those, learners.
    pub learners: u64,
    /// Of those, with a verified email.
    pub email_verified: u64,
    /// Of those, with a verified phone.
    pub phone_verified: u64,
    /// Of those, with neither verified.
    pub unverified: u64,
    /// Of those, registered in the last 7 days.
    pub registered_last_7_days: u64,
    /// Of those, registered in the last 30 days.
    pub registered_last_30_days: u64,
}

/// Users by type (a user may count in several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TypeCounts {
    /// Admins.
    pub admins: u64,
    /// Instructors.
    pub instructors: u64,
    /// Learners.
    pub learners: u64,
}

/// Users by verification state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerificationCounts {
    /// With a verified email.
    pub email_verified: u64,
    /// With a verified phone.
    pub phone_verified: u64,
    /// With neither verified.
    pub unverified: u64,
}

/// The user statistics of a tenant. Everything but `by_status` leaves deleted users out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserStats {
    /// Users that are not deleted.
    pub total: u64,
    /// Users by status, deleted included; every status is present.
    pub by_status: BTreeMap<Status, u64>,
    /// Users by type.
    pub by_type: TypeCounts,
    /// Users by verification.
    pub by_verification: VerificationCounts,
    /// Registered in the last 7 days.
    pub registered_last_7_days: u64,
    /// Registered in the last 30 days.
    pub registered_last_30_days: u64,
    /// Filters that could not be evaluated and were ignored (filtered statistics only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_filters: Vec<String>,
}

impl UserStats {
    /// Combines per-status groups into the statistics.
    pub fn from_groups(groups: &BTreeMap<Status, StatusGroup>) -> Self {
        let mut stats = UserStats {
            by_status: Status::ALL
                .iter()
                .map(|s| (*s, groups.get(s).map_or(0, |g| g.users)))
                .collect(),
            ..Default::default()
        };
        for (_, group) in groups
            .iter()
            .filter(|(status, _)| **status != Status::Deleted)
        {
            stats.total += group.users;
            stats.by_type.admins += group.admins;
            stats.by_type.instructors += group.instructors;
            stats.by_type.learners += group.learners;
            stats.by_verification.email_verified += group.email_verified;
            stats.by_verification.phone_verified += group.phone_verified;
            stats.by_verification.unverified += group.unverified;
            stats.registered_last_7_days += group.registered_last_7_days;
            stats.registered_last_30_days += group.registered_last_30_days;
        }
        stats
    }
}

/// What happened in one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeriodCounts {
    /// Users registered in the period.
    pub new_users: u64,
    /// Users who logged in during the period (by last login).
    pub active_users: u64,
    /// Users soft-deleted in the period.
    pub deleted_users: u64,
}

/// Change of one figure against the previous period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// Current minus previous.
    pub delta: i64,
    /// Relative change in percent; absent when the previous figure is 0.
    pub percent: Option<f64>,
}

impl Change {
    /// The change from `previous` to `current`.
    pub fn between(previous: u64, current: u64) -> Self {
        let delta = i64::try_from(current).unwrap_or(i64::MAX)
            - i64::try_from(previous).unwrap_or(i64::MAX);
        let percent = (previous > 0).then(|| (delta as f64) * 100.0 / previous as f64);
        Self { delta, percent }
    }
}

string_enum! {
    /// Length of an overview period.
    pub enum OverviewPeriod {
        /// The last 24 hours.
        Day => "day",
        /// The last 7 days.
        Week => "week",
        /// The last 30 days.
        Month => "month",
        /// The last 90 days.
        Quarter => "quarter",
        /// The last 365 days.
        Year => "year",
    }
}

impl OverviewPeriod {
    /// The period's length in days.
    pub const fn days(self) -> i64 {
        match self {
            OverviewPeriod::Day => 1,
            OverviewPeriod::Week => 7,
            OverviewPeriod::Month => 30,
            OverviewPeriod::Quarter => 90,
            OverviewPeriod::Year => 365,
        }
    }
}

/// A period against the one before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    /// The period.
    pub period: OverviewPeriod,
    /// The last period, ending now.
    pub current: PeriodCounts,
    /// The period before it.
    pub previous: PeriodCounts,
    /// New users: change.
    pub new_users_change: Change,
    /// Active users: change.
    pub active_users_change: Change,
    /// Deleted users: change.
    pub deleted_users_change: Change,
}

string_enum! {
    /// Bucket size of a growth series (UTC; weeks start on Monday).
    pub enum GrowthInterval {
        /// Days.
        Day => "day",
        /// ISO weeks, from Monday.
        Week => "week",
        /// Calendar months.
        Month => "month",
    }
}

/// One bucket of a growth series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrowthPoint {
    /// First day of the bucket (clipped to the requested range).
    pub start: NaiveDate,
    /// Users registered in the bucket (deleted or not).
    pub new_users: u64,
    /// Users registered up to the end of the bucket.
    pub total_users: u64,
}

/// A distinct value and how many (non-deleted) users have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueCount {
    /// The value.
    pub value: String,
    /// Users with it.
    pub count: u64,
}

string_enum! {
    /// Fields whose distinct values can be listed (filter values and autocomplete).
    pub enum ValueField {
        /// Country codes.
        Country => "country",
        /// Cities.
        City => "city",
        /// States.
        State => "state",
        /// Time zones.
        Timezone => "timezone",
        /// Locales.
        Locale => "locale",
        /// Designations.
        Designation => "designation",
        /// Areas of expertise.
        Expertise => "expertise",
        /// Role names.
        Roles => "roles",
    }
}
