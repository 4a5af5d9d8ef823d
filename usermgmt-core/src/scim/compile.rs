//! SCIM filters compiled onto the typed [`UserFilters`]: what the list of `/Users` runs.
//!
//! What compiles (attribute names ignore case, as RFC 7643 §2.1 says):
//! - `id eq "…"`; `userName eq "…"`; `emails eq "…"`, `emails.value eq "…"`,
//!   `emails[value eq "…"]`; the enterprise extension's `employeeNumber eq "…"` (the unique
//!   ID) — values compared ignoring case, except the id;
//! - `active eq true|false` and `active ne …`; `not (active eq …)`;
//! - `meta.created gt|ge|lt|le|eq "<RFC 3339 instant>"`;
//! - `and` of any of these; `or` of terms on the same identity attribute (`userName eq "a" or
//!   userName eq "b"`) or on `active`.
//!
//! Anything else — `co`/`sw`/`ew`, `pr`, other attributes, `or` across attributes — is refused
//! with `invalidFilter` rather than answered approximately.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::filter::{AttrPath, CompValue, CompareOp, Filter, InvalidFilter};
use crate::filter::{UserFilters, identity_key};
use crate::model::Status;

/// The enterprise User extension's schema URI.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core User schema URI.
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The identity attributes a filter can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    UserName,
    Email,
    EmployeeNumber,
}

/// A conjunction of constraints; `None` leaves a dimension free.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Terms {
    ids: Option<BTreeSet<Uuid>>,
    usernames: Option<BTreeSet<String>>,
    emails: Option<BTreeSet<String>>,
    employee_numbers: Option<BTreeSet<String>>,
    active: Option<bool>,
    created_from: Option<DateTime<Utc>>,
    created_until: Option<DateTime<Utc>>,
}

/// What a filter compiles to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compiled {
    /// No user can match (e.g. `userName eq "a" and userName eq "b"`): nothing to query.
    Nothing,
    /// The users matching these typed filters.
    Filters(Box<UserFilters>),
}

fn refuse(why: impl Into<String>) -> InvalidFilter {
    InvalidFilter(why.into())
}

fn intersect<T: Ord + Clone>(
    a: Option<BTreeSet<T>>,
    b: Option<BTreeSet<T>>,
) -> Option<BTreeSet<T>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Terms {
    fn set(&mut self, key: Key) -> &mut Option<BTreeSet<String>> {
        match key {
            Key::UserName => &mut self.usernames,
            Key::Email => &mut self.emails,
            // Ids are uuids, kept apart; callers never ask for them here.
            Key::EmployeeNumber | Key::Id => &mut self.employee_numbers,
        }
    }

    fn and(self, other: Terms) -> Option<Terms> {
        let active = match (self.active, other.active) {
            (Some(a), Some(b)) if a != b => return None,
            (a, b) => a.or(b),
        };
        let terms = Terms {
            ids: intersect(self.ids, other.ids),
            usernames: intersect(self.usernames, other.usernames),
            emails: intersect(self.emails, other.emails),
            employee_numbers: intersect(self.employee_numbers, other.employee_numbers),
            active,
            created_from: self.created_from.max(other.created_from),
            created_until: match (self.created_until, other.created_until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        };
        let empty = |s: &Option<BTreeSet<String>>| s.as_ref().is_some_and(BTreeSet::is_empty);
        let impossible = terms.ids.as_ref().is_some_and(BTreeSet::is_empty)
            || empty(&terms.usernames)
            || empty(&terms.emails)
            || empty(&terms.employee_numbers)
            || matches!((terms.created_from, terms.created_until), (Some(a), Some(b)) if a >= b);
        (!impossible).then_some(terms)
    }

    /// The one dimension these terms constrain, when there is exactly one.
    fn only(&self) -> Option<&'static str> {
        let used = [
            ("id", self.ids.is_some()),
            ("userName", self.usernames.is_some()),
            ("emails", self.emails.is_some()),
            ("employeeNumber", self.employee_numbers.is_some()),
            ("active", self.active.is_some()),
            (
                "meta.created",
                self.created_from.is_some() || self.created_until.is_some(),
            ),
        ];
        let mut set = used.iter().filter(|(_, on)| *on);
        match (set.next(), set.next()) {
            (Some((name, _)), None) => Some(name),
            _ => None,
        }
    }

    fn or(self, other: Terms) -> Result<Terms, InvalidFilter> {
        let refused = || {
            refuse(
                "`or` is answered only between terms on the same identity attribute or on \
                 `active`",
            )
        };
        let (Some(a), Some(b)) = (self.only(), other.only()) else {
            return Err(refused());
        };
        if a != b || a == "meta.created" {
            return Err(refused());
        }
        let union = |x: Option<BTreeSet<String>>, y: Option<BTreeSet<String>>| match (x, y) {
            (Some(x), Some(y)) => Some(x.union(&y).cloned().collect()),
            _ => None,
        };
        Ok(match a {
            "active" => Terms {
                active: (self.active == other.active)
                    .then_some(self.active)
                    .flatten(),
                ..Terms::default()
            },
            "id" => Terms {
                ids: match (self.ids, other.ids) {
                    (Some(x), Some(y)) => Some(x.union(&y).copied().collect()),
                    _ => None,
                },
                ..Terms::default()
            },
            _ => Terms {
                usernames: union(self.usernames, other.usernames),
                emails: union(self.emails, other.emails),
                employee_numbers: union(self.employee_numbers, other.employee_numbers),
                ..Terms::default()
            },
        })
    }
}

/// The filter's meaning as typed filters, or why it cannot be answered.
pub fn compile(filter: &Filter) -> Result<Compiled, InvalidFilter> {
    Ok(match terms(filter)? {
        None => Compiled::Nothing,
        Some(terms) => Compiled::Filters(Box::new(typed(terms))),
    })
}

fn typed(terms: Terms) -> UserFilters {
    let list = |s: Option<BTreeSet<String>>| s.map(|s| s.into_iter().collect()).unwrap_or_default();
    UserFilters {
        ids: terms
            .ids
            .map(|s| s.into_iter().collect())
            .unwrap_or_default(),
        username: list(terms.usernames),
        email: list(terms.emails),
        unique_id: list(terms.employee_numbers),
        statuses: match terms.active {
            Some(true) => vec![Status::Active],
            Some(false) => vec![
                Status::PendingVerification,
                Status::Inactive,
                Status::Suspended,
            ],
            None => Vec::new(),
        },
        created_after: terms.created_from,
        created_before: terms.created_until,
        ..UserFilters::default()
    }
}

/// The filter as terms; `None` when no user can match.
fn terms(filter: &Filter) -> Result<Option<Terms>, InvalidFilter> {
    match filter {
        Filter::And(a, b) => Ok(match (terms(a)?, terms(b)?) {
            (Some(a), Some(b)) => a.and(b),
            _ => None,
        }),
        Filter::Or(a, b) => match (terms(a)?, terms(b)?) {
            (Some(a), Some(b)) => a.or(b).map(Some),
            (Some(one), None) | (None, Some(one)) => Ok(Some(one)),
            (None, None) => Ok(None),
        },
        Filter::Not(inner) => match terms(inner)? {
            Some(t) if t.only() == Some("active") => Ok(Some(Terms {
                active: t.active.map(|a| !a),
                ..Terms::default()
            })),
            _ => Err(refuse("`not` is answered only around `active`")),
        },
        Filter::Compare(path, op, value) => compare(path, *op, value),
        Filter::ValuePath { attr, filter, sub } => {
            if sub.is_some() || !is(attr, None, "emails") || attr.sub.is_some() {
                return Err(refuse(
                    "only `emails[value eq \"…\"]` is answered as a value path",
                ));
            }
            match filter.as_ref() {
                Filter::Compare(inner, CompareOp::Eq, value)
                    if inner.uri.is_none() && inner.sub.is_none() && eq(&inner.name, "value") =>
                {
                    identity(Key::Email, value)
                }
                _ => Err(refuse(
                    "only `emails[value eq \"…\"]` is answered as a value path",
                )),
            }
        }
        Filter::Present(_) => Err(refuse("`pr` is not answered")),
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether `path` names `name` (with `sub`), in the core User schema or with no URI.
fn is(path: &AttrPath, sub: Option<&str>, name: &str) -> bool {
    let uri_ok = path.uri.as_deref().is_none_or(|u| eq(u, CORE_USER));
    let sub_ok = match (path.sub.as_deref(), sub) {
        (None, None) => true,
        (Some(a), Some(b)) => eq(a, b),
        _ => false,
    };
    uri_ok && sub_ok && eq(&path.name, name)
}

fn compare(
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
) -> Result<Option<Terms>, InvalidFilter> {
    let key = if is(path, None, "id") {
        Some(Key::Id)
    } else if is(path, None, "userName") {
        Some(Key::UserName)
    } else if is(path, None, "emails") || is(path, Some("value"), "emails") {
        Some(Key::Email)
    } else if path.uri.as_deref().is_some_and(|u| eq(u, ENTERPRISE_USER))
        && path.sub.is_none()
        && eq(&path.name, "employeeNumber")
    {
        Some(Key::EmployeeNumber)
    } else {
        None
    };
    if let Some(key) = key {
        if op != CompareOp::Eq {
            return Err(refuse(format!(
                "`{}` is answered only with `eq`",
                path.name
            )));
        }
        return identity(key, value);
    }
    if is(path, None, "active") {
        let CompValue::Bool(wanted) = value else {
            return Err(refuse("`active` compares with true or false"));
        };
        let active = match op {
            CompareOp::Eq => *wanted,
            CompareOp::Ne => !*wanted,
            _ => return Err(refuse("`active` is answered only with `eq` and `ne`")),
        };
        return Ok(Some(Terms {
            active: Some(active),
            ..Terms::default()
        }));
    }
    if is(path, Some("created"), "meta") {
        let CompValue::String(text) = value else {
            return Err(refuse("`meta.created` compares with an RFC 3339 instant"));
        };
        let at = DateTime::parse_from_rfc3339(text)
            .map_err(|_| refuse("`meta.created` compares with an RFC 3339 instant"))?
            .with_timezone(&Utc);
        // Instants are stored to the microsecond: bounds are whole microseconds around `at`
        // ("after t" is "from floor(t) + 1µs"; "from t" is "from ceil(t)").
        let sub = i64::from(at.timestamp_subsec_nanos() % 1_000);
        let floor = at - Duration::nanoseconds(sub);
        let next = floor + Duration::microseconds(1);
        let ceil = if sub == 0 { floor } else { next };
        let (from, until) = match op {
            CompareOp::Gt => (Some(next), None),
            CompareOp::Ge => (Some(ceil), None),
            CompareOp::Lt => (None, Some(ceil)),
            CompareOp::Le => (None, Some(next)),
            // No stored instant equals one between two microseconds.
            CompareOp::Eq if sub != 0 => return Ok(None),
            CompareOp::Eq => (Some(floor), Some(next)),
            _ => {
                return Err(refuse(
                    "`meta.created` is answered with eq, gt, ge, lt and le",
                ));
            }
        };
        return Ok(Terms::default().and(Terms {
            created_from: from,
            created_until: until,
            ..Terms::default()
        }));
    }
    Err(refuse(format!(
        "filtering on `{}` is not supported",
        path.name
    )))
}

fn identity(key: Key, value: &CompValue) -> Result<Option<Terms>, InvalidFilter> {
    let CompValue::String(text) = value else {
        return Err(refuse("identity attributes compare with a string"));
    };
    let mut terms = Terms::default();
    if key == Key::Id {
        // An id that is no uuid names no user.
        let Ok(id) = Uuid::parse_str(text) else {
            return Ok(None);
        };
        terms.ids = Some(BTreeSet::from([id]));
    } else {
        // Stored values are trimmed (SCIM compares exactly, so a value with spaces around
        // it names no user), printable and at most 254 characters.
        let key_value = identity_key(text).filter(|_| text.trim() == text);
        let Some(key_value) = key_value else {
            return Ok(None);
        };
        *terms.set(key) = Some(BTreeSet::from([key_value]));
    }
    Ok(Some(terms))
}
