//! The interleaved-writes test's random edits and its reference answers for statistics and
//! value counts, computed from the users as stored.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use usermgmt_core::filter::UserFilters;
use usermgmt_core::model::{AuthMethod, Gender, Status, StatusGroup, User, ValueField};
use usermgmt_core::password::Password;
use usermgmt_core::service::UpdateUser;

use crate::dataset::{
    CITIES, COUNTRIES, DESIGNATIONS, EXPERTISE, LOCALES, ROLES, STATES, TIMEZONES,
};

pub(super) fn pick<'a>(rng: &mut StdRng, pool: &[&'a str]) -> &'a str {
    pool.choose(rng).copied().unwrap_or("x")
}

fn maybe(rng: &mut StdRng, value: impl FnOnce(&mut StdRng) -> String) -> Option<String> {
    rng.random_bool(0.75).then(|| value(rng))
}

/// A patch changing a random selection of counted attributes.
pub(super) fn patch(rng: &mut StdRng) -> UpdateUser {
    let mut p = UpdateUser::default();
    let chance = 0.35;
    if rng.random_bool(chance) {
        p.status = Some(*Status::ALL.choose(rng).unwrap_or(&Status::Active));
    }
    if rng.random_bool(chance) {
        p.is_admin = Some(rng.random_bool(0.5));
    }
    if rng.random_bool(chance) {
        p.is_instructor = Some(rng.random_bool(0.5));
    }
    if rng.random_bool(chance) {
        p.is_learner = Some(rng.random_bool(0.5));
    }
    if rng.random_bool(chance) {
        p.email_verified = Some(rng.random_bool(0.5));
    }
    if rng.random_bool(chance) {
        p.phone_verified = Some(rng.random_bool(0.5));
    }
    if rng.random_bool(chance) {
        p.auth_method = Some(*AuthMethod::ALL.choose(rng).unwrap_or(&AuthMethod::ALL[0]));
    }
    if rng.random_bool(0.2) {
        p.password = Some(
            rng.random_bool(0.7)
                .then(|| Password::new("a fine password 9")),
        );
    }
    if rng.random_bool(chance) {
        p.roles = Some(
            (0..rng.random_range(0..3))
                .map(|_| pick(rng, ROLES).to_owned())
                .collect(),
        );
    }
    if rng.random_bool(chance) {
        p.avatar_url = Some(maybe(rng, |_| "https://example.com/a.png".to_owned()));
    }
    if rng.random_bool(chance) {
        p.bio = Some(maybe(rng, |_| "Hello".to_owned()));
    }
    if rng.random_bool(chance) {
        p.country = Some(maybe(rng, |r| pick(r, COUNTRIES).to_owned()));
    }
    if rng.random_bool(chance) {
        p.city = Some(maybe(rng, |r| pick(r, CITIES).to_owned()));
    }
    if rng.random_bool(chance) {
        p.state = Some(maybe(rng, |r| pick(r, STATES).to_owned()));
    }
    if rng.random_bool(chance) {
        p.locale = Some(maybe(rng, |r| pick(r, LOCALES).to_owned()));
    }
    if rng.random_bool(chance) {
        p.timezone = Some(maybe(rng, |r| pick(r, TIMEZONES).to_owned()));
    }
    if rng.random_bool(chance) {
        p.designation = Some(maybe(rng, |r| pick(r, DESIGNATIONS).to_owned()));
    }
    if rng.random_bool(chance) {
        p.gender = Some(
            rng.random_bool(0.75)
                .then(|| *Gender::ALL.choose(rng).unwrap_or(&Gender::Female)),
        );
    }
    if rng.random_bool(chance) {
        p.expertise = Some(
            (0..rng.random_range(0..3))
                .map(|_| pick(rng, EXPERTISE).to_owned())
                .collect(),
        );
    }
    if rng.random_bool(chance) {
        p.date_of_birth = Some(
            rng.random_bool(0.75)
                .then(|| NaiveDate::from_ymd_opt(rng.random_range(1950..2015), 6, 15))
                .flatten(),
        );
    }
    p
}

/// A value's identity: fields compared ignoring ASCII case group their spellings.
pub(super) fn key(field: ValueField, value: &str) -> String {
    match field {
        ValueField::City
        | ValueField::State
        | ValueField::Locale
        | ValueField::Designation
        | ValueField::Expertise => value.to_ascii_lowercase(),
        _ => value.to_owned(),
    }
}

/// The reference per-status groups of the users matching `filters`.
pub(super) fn reference_groups(
    users: &[User],
    filters: &UserFilters,
    now: DateTime<Utc>,
) -> BTreeMap<Status, StatusGroup> {
    let mut groups: BTreeMap<Status, StatusGroup> = BTreeMap::new();
    // The facet filters drawn here never include `permission`.
    for user in users.iter().filter(|u| filters.matches(u, now, |_| false)) {
        let g = groups.entry(user.status).or_default();
        g.users += 1;
        g.admins += u64::from(user.is_admin);
        g.instructors += u64::from(user.is_instructor);
        g.learners += u64::from(user.is_learner);
        g.email_verified += u64::from(user.email_verified);
        g.phone_verified += u64::from(user.phone_verified);
        g.unverified += u64::from(!user.email_verified && !user.phone_verified);
        g.registered_last_7_days += u64::from(user.created_at >= now - Duration::days(7));
        g.registered_last_30_days += u64::from(user.created_at >= now - Duration::days(30));
    }
    groups
}

/// The reference values of a field among non-deleted users, with counts; roles are listed
/// even when nobody holds them.
pub(super) fn reference_values(
    users: &[User],
    field: ValueField,
    roles: &[String],
) -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    if field == ValueField::Roles {
        for role in roles {
            counts.insert(role.clone(), 0);
        }
    }
    for user in users.iter().filter(|u| u.status != Status::Deleted) {
        let p = &user.profile;
        let values: Vec<&str> = match field {
            ValueField::Country => p.country.as_deref().into_iter().collect(),
            ValueField::City => p.city.as_deref().into_iter().collect(),
            ValueField::State => p.state.as_deref().into_iter().collect(),
            ValueField::Timezone => p.timezone.as_deref().into_iter().collect(),
            ValueField::Locale => p.locale.as_deref().into_iter().collect(),
            ValueField::Designation => p.designation.as_deref().into_iter().collect(),
            ValueField::Expertise => p.expertise.iter().map(String::as_str).collect(),
            ValueField::Roles => user.roles.iter().map(String::as_str).collect(),
        };
        for value in values {
            *counts.entry(key(field, value)).or_default() += 1;
        }
    }
    counts
}
