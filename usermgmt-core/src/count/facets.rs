//! Value counts (facets) and per-status statistics from a [`TenantIndex`].
//!
//! Values of a column that compares ignoring ASCII case ([`Column::folded`]) are one value
//! whatever their spelling; it is shown in its byte-wise smallest spelling present. Values
//! come most common first, ties by value (byte-wise).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::filter::{Column, Related};
use crate::model::{Status, StatusGroup, ValueCount, ValueField};

use super::bits::{Bits, contains as has, slots};
use super::index::{NULL, TenantIndex, Values};

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

fn contains(value: &str, term: Option<&str>) -> bool {
    term.is_none_or(|t| value.to_ascii_lowercase().contains(&t.to_ascii_lowercase()))
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

/// Users per value of `source` among `bits`, those containing `term` (ASCII case
/// ignored); `listed` adds values held by nobody (with 0), as roles are listed.
pub(super) fn values(
    index: &TenantIndex,
    source: &Source,
    bits: &Bits,
    term: Option<&str>,
    listed: &[String],
) -> Vec<ValueCount> {
    let (spellings, folded): (Vec<(String, u64)>, bool) = match source {
        Source::Column(column) => {
            let Some(Values::Codes(c)) = index.column(*column) else {
                return Vec::new();
            };
            let mut per_code = vec![0u64; c.dict.len().max(1)];
            for slot in slots(bits) {
                if let Some(code) = c.codes.get(slot) {
                    per_code[usize::from(*code)] += 1;
                }
            }
            let spellings = per_code
                .iter()
                .enumerate()
                .skip(1)
                .filter(|(code, n)| **n > 0 && contains(&c.dict[*code], term))
                .map(|(code, n)| (c.dict[code].clone(), *n))
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
                .map(|(value, holders)| {
                    let n = holders
                        .iter()
                        .filter(|slot| has(bits, *slot as usize))
                        .count() as u64;
                    (value.clone(), n)
                })
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

/// Per-status groups of counts over `bits` (statuses nobody has are absent); `now` anchors
/// the 7- and 30-day registration windows.
pub(super) fn status_groups(
    index: &TenantIndex,
    bits: &Bits,
    now: DateTime<Utc>,
) -> BTreeMap<Status, StatusGroup> {
    let codes = |column| match index.column(column) {
        Some(Values::Codes(c)) => Some(c),
        _ => None,
    };
    let (Some(status), Some(Values::Numbers(created))) =
        (codes(Column::Status), index.column(Column::CreatedAt))
    else {
        return BTreeMap::new();
    };
    let flag =
        |column| codes(column).map(|c| (c.code("true").unwrap_or(u16::MAX), c.codes.as_slice()));
    let flags = [
        Column::IsAdmin,
        Column::IsInstructor,
        Column::IsLearner,
        Column::EmailVerified,
        Column::PhoneVerified,
    ]
    .map(flag);
    let week = (now - Duration::days(7)).timestamp_micros();
    let month = (now - Duration::days(30)).timestamp_micros();
    let statuses: Vec<Option<Status>> = status
        .dict
        .iter()
        .map(|text| text.parse::<Status>().ok())
        .collect();
    // Per status code: users, five flags, unverified, last 7 days, last 30 days.
    let mut sums = vec![[0u64; 9]; status.dict.len().max(1)];
    for slot in slots(bits) {
        let Some(code) = status.codes.get(slot) else {
            continue;
        };
        let row = &mut sums[usize::from(*code)];
        row[0] += 1;
        let mut set = [false; 5];
        for (i, flag) in flags.iter().enumerate() {
            if let Some((yes, values)) = flag {
                set[i] = values.get(slot) == Some(yes);
                row[i + 1] += u64::from(set[i]);
            }
        }
        row[6] += u64::from(!set[3] && !set[4]);
        let at = created.get(slot).copied().unwrap_or(NULL);
        row[7] += u64::from(at != NULL && at >= week);
        row[8] += u64::from(at != NULL && at >= month);
    }
    let mut groups = BTreeMap::new();
    for (code, n) in sums.iter().enumerate() {
        if let (Some(Some(status)), true) = (statuses.get(code), n[0] > 0) {
            groups.insert(
                *status,
                StatusGroup {
                    users: n[0],
                    admins: n[1],
                    instructors: n[2],
                    learners: n[3],
                    email_verified: n[4],
                    phone_verified: n[5],
                    unverified: n[6],
                    registered_last_7_days: n[7],
                    registered_last_30_days: n[8],
                },
            );
        }
    }
    groups
}
