//! Sort keys, their values, and the one ordering every backend reproduces.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{User, name_sort_key};

/// What the list is sorted by. Ties are always broken by `id`, so pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Lower-cased name (see [`name_sort_key`]).
    Name,
    /// Email (users without one sort as the lowest value).
    Email,
    /// Registration time.
    #[default]
    CreatedAt,
    /// Last login (never logged in sorts as the lowest value).
    LastLoginAt,
    /// Status, by its string form.
    Status,
}

impl SortBy {
    /// Every sort key.
    pub const ALL: [SortBy; 5] = [
        SortBy::Name,
        SortBy::Email,
        SortBy::CreatedAt,
        SortBy::LastLoginAt,
        SortBy::Status,
    ];

    /// The query-string form.
    pub const fn as_str(self) -> &'static str {
        match self {
            SortBy::Name => "name",
            SortBy::Email => "email",
            SortBy::CreatedAt => "created_at",
            SortBy::LastLoginAt => "last_login_at",
            SortBy::Status => "status",
        }
    }

    /// Whether a user can lack a value for this key (absent values sort lowest). Keyset
    /// conditions on keys that are always present need no `IS NULL` branch, which lets
    /// databases seek straight to the cursor.
    pub const fn can_be_absent(self) -> bool {
        matches!(self, SortBy::Email | SortBy::LastLoginAt)
    }

    /// The value of this key for a user.
    pub fn value_of(self, user: &User) -> SortValue {
        match self {
            SortBy::Name => SortValue::Text(Some(name_sort_key(&user.name))),
            SortBy::Email => SortValue::Text(user.email.clone()),
            SortBy::CreatedAt => SortValue::Time(Some(user.created_at)),
            SortBy::LastLoginAt => SortValue::Time(user.last_login_at),
            SortBy::Status => SortValue::Text(Some(user.status.as_str().to_owned())),
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Ascending: absent values first.
    Asc,
    /// Descending: absent values last.
    #[default]
    Desc,
}

/// The value of a sort key. Absent values (`None`) sort below every present value; text
/// compares byte-wise (UTF-8), as SQL `BINARY`/`C` collations do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortValue {
    /// A text key.
    Text(Option<String>),
    /// A time key.
    Time(Option<DateTime<Utc>>),
}

/// The total order of the list: `(value, id)` ascending, or that order reversed for `Desc`.
pub fn compare(order: SortOrder, a: (&SortValue, Uuid), b: (&SortValue, Uuid)) -> Ordering {
    let ascending = a.0.cmp(b.0).then(a.1.cmp(&b.1));
    match order {
        SortOrder::Asc => ascending,
        SortOrder::Desc => ascending.reverse(),
    }
}
