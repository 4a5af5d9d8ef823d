//! Value counts (facets) and per-status statistics from a [`TenantIndex`].
//!
//! Values of a column that compares ignoring ASCII case ([`Column::folded`]) are one value
//! whatever their spelling; it is shown in its byte-wise smallest spelling present. Values
//! come most common first, ties by value (byte-wise).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::filter::{Cmp, Column, Condition, Operand, Related};
use crate::model::{Status, StatusGroup, ValueCount, ValueField};

use roaring::RoaringBitmap as Set;

use super::index::{TenantIndex, Values};

/// The index column or related kind a value field reads.
pub(super) enum Source {
    Column(Column),
    Related(Related),
}

/// Where a value field's values live.
pub(super) fn source(field: ValueField) -> Source {
    match field {
        ValueField::Country => Source::Column(Column::Country),
        ValueField::City => Source::Column(Column::City),
        ValueField::State => Source::Column(Column::State),
        ValueField::Timezone => Source::Column(Column::Timezone),
        ValueField::Locale => Source::Column(Column::Locale),
        ValueField::Designation => Source::Column(Column::Designation),
        ValueField::Expertise => Source::Related(Related::Expertise),
        ValueField::Roles => Source::Related(Related::Role),
    }
}

/// Whether `value` contains `term` ignoring ASCII case (`term` already lower-cased).
fn contains(value: &str, term: Option<&str>) -> bool {
    term.is_none_or(|t| value.to_ascii_lowercase().contains(t))
}

/// Groups spellings into values: `(spelling, users)` in, one entry per value out.
fn group(counts: impl Iterator<Item = (String, u64)>, folded: bool) -> Vec<ValueCount> {
    let mut groups: HashMap<String, ValueCount> = HashMap::new();
    for (spelling, count) in counts {
        let key = if folded {
            spelling.to_ascii_lowercase()
        } else {
            spelling.clone()
        };
        let entry = groups.entry(key).or_insert_with(|| ValueCount {
            value: spelling.clone(),
            count: 0,
        });
        entry.count += count;
        if spelling < entry.value {
            entry.value = spelling;
        }
    }
    groups.into_values().collect()
}

/// Users per value of `source` among `among`, those containing `term` (ASCII case
/// ignored); `listed` adds values held by nobody (with 0), as roles are listed.
pub(super) fn values(
    index: &TenantIndex,
    source: &Source,
    among: &Set,
    term: Option<&str>,
    listed: &[String],
) -> Vec<ValueCount> {
    let lowered = term.map(str::to_ascii_lowercase);
    let term = lowered.as_deref();
    let (spellings, folded): (Vec<(String, u64)>, bool) = match source {
        Source::Column(column) => {
            let Some(Values::Codes(c)) = index.column(*column) else {
                return Vec::new();
            };
            let spellings = c
                .sets
                .iter()
                .enumerate()
                .skip(1)
                .filter(|(code, slots)| !slots.is_empty() && contains(&c.dict[*code], term))
                .map(|(code, slots)| (c.dict[code].clone(), slots.intersection_len(among)))
                .filter(|(_, n)| *n > 0)
                .collect();
            (spellings, column.folded())
        }
        Source::Related(related) => {
            let Some(by_value) = index.related(*related) else {
                return Vec::new();
            };
            let spellings = by_value
                .iter()
                .filter(|(value, _)| contains(value, term))
                .map(|(value, holders)| (value.clone(), holders.intersection_len(among)))
                .filter(|(_, n)| *n > 0)
                .chain(
                    listed
                        .iter()
                        .filter(|v| contains(v, term))
                        .map(|v| (v.clone(), 0)),
                )
                .collect();
            (spellings, related.folded())
        }
    };
    let mut grouped = group(spellings.into_iter(), folded);
    grouped.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    grouped
}

/// The slots whose `column` is `true`.
fn yes(index: &TenantIndex, column: Column) -> Set {
    match index.column(column) {
        Some(Values::Codes(c)) => c
            .code("true")
            .and_then(|code| c.sets.get(usize::from(code)))
            .cloned()
            .unwrap_or_default(),
        _ => Set::new(),
    }
}

/// The slots registered at or after `since`.
fn registered_since(index: &TenantIndex, since: DateTime<Utc>) -> Set {
    let registered = Condition::Compare {
        column: Column::CreatedAt,
        cmp: Cmp::Ge,
        value: Operand::Time(since),
    };
    super::eval::matching(index, &[registered])
}

/// Per-status groups of counts over `among` (statuses nobody has are absent); `now` anchors
/// the 7- and 30-day registration windows.
pub(super) fn status_groups(
    index: &TenantIndex,
    among: &Set,
    now: DateTime<Utc>,
) -> BTreeMap<Status, StatusGroup> {
    let Some(Values::Codes(status)) = index.column(Column::Status) else {
        return BTreeMap::new();
    };
    let [admin, instructor, learner, email, phone] = [
        Column::IsAdmin,
        Column::IsInstructor,
        Column::IsLearner,
        Column::EmailVerified,
        Column::PhoneVerified,
    ]
    .map(|column| yes(index, column) & among);
    let verified = &email | &phone;
    let week = registered_since(index, now - Duration::days(7)) & among;
    let month = registered_since(index, now - Duration::days(30)) & among;
    let mut groups = BTreeMap::new();
    for (code, slots) in status.sets.iter().enumerate().skip(1) {
        let Ok(state) = status.dict[code].parse::<Status>() else {
            continue;
        };
        let users = slots & among;
        if users.is_empty() {
            continue;
        }
        groups.insert(
            state,
            StatusGroup {
                users: users.len(),
                admins: users.intersection_len(&admin),
                instructors: users.intersection_len(&instructor),
                learners: users.intersection_len(&learner),
                email_verified: users.intersection_len(&email),
                phone_verified: users.intersection_len(&phone),
                unverified: users.len() - users.intersection_len(&verified),
                registered_last_7_days: users.intersection_len(&week),
                registered_last_30_days: users.intersection_len(&month),
            },
        );
    }
    groups
}
