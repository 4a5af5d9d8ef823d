//! The benchmark data set: N users with realistic distributions, deterministic for a seed
//! (ids included), generated as a stream so a million users never sit in memory at once.
//!
//! - status: 78% active, 10% inactive, 7% suspended, 3% pending verification, 2% deleted;
//! - type: 90% learner, 8% instructor, 2% admin;
//! - country: Zipf-distributed (s = 1.1) over 40 countries; 70% of users have one;
//! - `created_at`: growth-shaped over 5 years (density rising linearly: a quarter of the users
//!   joined in the first half, three quarters in the second);
//! - 25% never logged in; the others last logged in between registration and now, mostly
//!   recently;
//! - 8 roles, each user holding 1–3;
//! - each profile field filled with its own probability between 30% and 80%;
//! - 5% non-ASCII names (accents, Cyrillic, CJK), the rest from 200 × 200 ASCII name pairs;
//! - ~5 enrollments per user (0–10, uniform) over 2,000 programs with Zipf popularity.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, RngCore, SeedableRng};
use usermgmt_core::model::{
    AuthMethod, Enrollment, EnrollmentStatus, Gender, Permission, Profile, Role, Status, TenantId,
    User,
};
use usermgmt_core::password::PasswordHash;
use usermgmt_core::storage::NewUser;
use uuid::Uuid;

use crate::values::realistic::{
    CITIES, DESIGNATIONS, EXPERTISE, FIRST, FIRST_SUFFIX, LAST, LAST_SUFFIX, LOCALES, NON_ASCII,
    PROGRAM_TYPES, TIMEZONES,
};
pub use crate::values::realistic::{COUNTRIES, PROGRAMS, ROLES};
use crate::values::{maybe, role};

/// One generated user with their enrollments (for the learning database).
#[derive(Debug, Clone)]
pub struct GeneratedUser {
    /// The user to insert.
    pub new: NewUser,
    /// Their enrollments.
    pub enrollments: Vec<Enrollment>,
}

/// The data set's roles, each with a couple of permissions.
pub fn roles(tenant: &TenantId, now: DateTime<Utc>) -> Vec<Role> {
    let mut rng = StdRng::seed_from_u64(8);
    ROLES
        .iter()
        .map(|name| {
            let id = deterministic_id(&mut rng, now);
            let description = Some(format!("The {} role", name.replace('_', " ")));
            let permissions = Permission::BUILT_IN
                .choose_multiple(&mut rng, 2)
                .cloned()
                .collect();
            role(id, tenant, name, description, permissions, now)
        })
        .collect()
}

/// Index into a list of `n` by Zipf weights `1 / rank^1.1`, given a cumulative table.
fn zipf(rng: &mut StdRng, cumulative: &[f64]) -> usize {
    let total = cumulative.last().cloned().unwrap_or(1.0);
    let x = rng.random_range(0.0..total);
    cumulative
        .partition_point(|c| *c <= x)
        .min(cumulative.len() - 1)
}

fn zipf_table(n: usize) -> Vec<f64> {
    let mut sum = 0.0;
    (1..=n)
        .map(|rank| {
            sum += 1.0 / (rank as f64).powf(1.1);
            sum
        })
        .collect()
}

/// A UUID v7 at `at`, its random bits from `rng` (so the data set is reproducible).
fn deterministic_id(rng: &mut StdRng, at: DateTime<Utc>) -> Uuid {
    let mut random = [0u8; 10];
    rng.fill_bytes(&mut random);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or_default();
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// `count` users of `tenant`, relative to `now`, reproducible from `seed`.
pub fn users(
    seed: u64,
    tenant: TenantId,
    count: usize,
    now: DateTime<Utc>,
) -> impl Iterator<Item = GeneratedUser> {
    let mut rng = StdRng::seed_from_u64(seed);
    let countries = zipf_table(COUNTRIES.len());
    let programs = zipf_table(PROGRAMS);
    let hash = PasswordHash::from_phc("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA");
    let span = Duration::days(5 * 365).num_seconds();
    // Per-field fill rates, 30–80%.
    let fill = [0.3, 0.8, 0.7, 0.5, 0.4, 0.6, 0.65, 0.55, 0.45, 0.35, 0.75];
    (0..count).map(move |i| {
        let r = &mut rng;
        let created_at = now - Duration::seconds(span)
            + Duration::seconds((span as f64 * r.random::<f64>().sqrt()) as i64);
        let status = match r.random_range(0..100) {
            0..78 => Status::Active,
            78..88 => Status::Inactive,
            88..95 => Status::Suspended,
            95..98 => Status::PendingVerification,
            _ => Status::Deleted,
        };
        let kind = r.random_range(0..100);
        let (is_admin, is_instructor, is_learner) = match kind {
            0..2 => (true, false, false),
            2..10 => (false, true, false),
            _ => (false, false, true),
        };
        let (name, handle) = if r.random_bool(0.05) {
            let name = (*NON_ASCII.choose(r).unwrap_or(&"Zoë")).to_owned();
            (name, format!("intl{i}"))
        } else {
            let first = format!(
                "{}{}",
                FIRST.choose(r).unwrap_or(&"ann"),
                FIRST_SUFFIX.choose(r).unwrap_or(&"")
            );
            let last = format!(
                "{}{}",
                LAST.choose(r).unwrap_or(&"lee"),
                LAST_SUFFIX.choose(r).unwrap_or(&"")
            );
            let handle = format!("{first}.{last}{i}");
            (
                format!("{} {}", capitalise(&first), capitalise(&last)),
                handle,
            )
        };
        let domain = *["gmail.com", "outlook.com", "school.edu", "example.org"]
            .choose(r)
            .unwrap_or(&"example.org");
        let email = Some(format!("{handle}@{domain}"));
        let phone = maybe(r, 0.4, |_| format!("+1202{:07}", i % 10_000_000));
        let held = r.random_range(1..=3);
        let mut roles: Vec<String> = ROLES
            .choose_multiple(r, held)
            .map(|s| (*s).to_owned())
            .collect();
        roles.sort();
        let last_login_at = maybe(r, 0.75, |r| {
            let since = (now - created_at).num_seconds().max(1) as f64;
            // Skewed towards now: most active users logged in recently.
            now - Duration::seconds((since * r.random::<f64>().powi(3)) as i64)
        });
        let profile = Profile {
            avatar_url: maybe(r, fill[0], |_| format!("https://cdn.example.org/a/{i}.jpg")),
            bio: maybe(r, fill[9], |_| "Lifelong learner.".to_owned()),
            country: maybe(r, 0.7, |r| COUNTRIES[zipf(r, &countries)].to_owned()),
            city: maybe(r, fill[3], |r| {
                (*CITIES.choose(r).unwrap_or(&"Paris")).to_owned()
            }),
            state: maybe(r, fill[4], |_| "State".to_owned()),
            continent: None,
            timezone: maybe(r, fill[5], |r| {
                (*TIMEZONES.choose(r).unwrap_or(&"UTC")).to_owned()
            }),
            locale: maybe(r, fill[6], |r| {
                (*LOCALES.choose(r).unwrap_or(&"en-US")).to_owned()
            }),
            gender: maybe(r, fill[7], |r| {
                *Gender::ALL.choose(r).unwrap_or(&Gender::Other)
            }),
            designation: maybe(r, fill[8], |r| {
                (*DESIGNATIONS.choose(r).unwrap_or(&"Student")).to_owned()
            }),
            expertise: if r.random_bool(fill[2]) {
                let n = r.random_range(1..=3);
                EXPERTISE
                    .choose_multiple(r, n)
                    .map(|s| (*s).to_owned())
                    .collect()
            } else {
                Vec::new()
            },
            date_of_birth: maybe(r, fill[1], |r| {
                NaiveDate::from_ymd_opt(1955, 1, 1).unwrap_or_default()
                    + Duration::days(r.random_range(0..18_000))
            }),
        };
        let email_verified = status != Status::PendingVerification && r.random_bool(0.9);
        let mut user = User {
            id: deterministic_id(r, created_at),
            tenant_id: tenant.clone(),
            name,
            email,
            phone: phone.clone(),
            username: maybe(r, 0.5, |_| handle.replace('.', "_")),
            unique_id: maybe(r, 0.3, |_| format!("STU-{i:07}")),
            status,
            is_admin,
            is_instructor,
            is_learner,
            roles,
            permissions: Vec::new(),
            email_verified,
            phone_verified: phone.is_some() && r.random_bool(0.5),
            auth_method: AuthMethod::Email,
            oauth_providers: Vec::new(),
            has_password: true,
            profile,
            profile_completeness: 0,
            created_at,
            updated_at: created_at,
            last_login_at,
            deleted_at: (status == Status::Deleted)
                .then(|| now - Duration::days(r.random_range(1..300))),
            failed_login_attempts: if r.random_bool(0.05) {
                r.random_range(1..6)
            } else {
                0
            },
            locked_until: None,
            version: 1,
        };
        user.refresh_derived();
        let enrollments = (0..r.random_range(0..=10))
            .map(|_| {
                let program = zipf(r, &programs);
                let status = *EnrollmentStatus::ALL
                    .choose(r)
                    .unwrap_or(&EnrollmentStatus::Active);
                Enrollment {
                    user_id: user.id,
                    program_id: format!("prog-{program:04}"),
                    program_type: PROGRAM_TYPES[program % PROGRAM_TYPES.len()].to_owned(),
                    status,
                    progress: r.random_range(0..=100),
                    time_spent_seconds: r.random_range(0..200_000),
                    last_activity_at: maybe(r, 0.8, |r| {
                        now - Duration::seconds(r.random_range(0..365 * 86_400))
                    }),
                }
            })
            .collect();
        GeneratedUser {
            new: NewUser {
                user,
                password_hash: Some(hash.clone()),
                oauth_links: Vec::new(),
            },
            enrollments,
        }
    })
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn sample(n: usize) -> Vec<GeneratedUser> {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        users(5, TenantId::new("t").unwrap(), n, now).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_users() {
        let (a, b) = (sample(50), sample(50));
        assert!(a.iter().zip(&b).all(|(x, y)| x.new.user == y.new.user));
    }

    #[test]
    fn distributions_are_close_to_the_documented_shares() {
        let users = sample(20_000);
        let share = |pred: &dyn Fn(&GeneratedUser) -> bool| {
            users.iter().filter(|u| pred(u)).count() as f64 / users.len() as f64
        };
        let near = |got: f64, want: f64| (got - want).abs() < 0.015;
        assert!(near(share(&|u| u.new.user.status == Status::Active), 0.78));
        assert!(near(share(&|u| u.new.user.status == Status::Deleted), 0.02));
        assert!(near(share(&|u| u.new.user.is_learner), 0.90));
        assert!(near(share(&|u| u.new.user.is_admin), 0.02));
        assert!(near(share(&|u| u.new.user.last_login_at.is_none()), 0.25));
        assert!(near(share(&|u| !u.new.user.name.is_ascii()), 0.05));
        let us = share(&|u| u.new.user.profile.country.as_deref() == Some("US"));
        let fi = share(&|u| u.new.user.profile.country.as_deref() == Some("FI"));
        assert!(us > 10.0 * fi, "Zipf: US {us} vs FI {fi}");
        let per_user =
            users.iter().map(|u| u.enrollments.len()).sum::<usize>() as f64 / users.len() as f64;
        assert!((per_user - 5.0).abs() < 0.2, "{per_user}");
        assert!(
            users
                .iter()
                .all(|u| (1..=3).contains(&u.new.user.roles.len()))
        );
        let mut emails: Vec<_> = users.iter().map(|u| u.new.user.email.clone()).collect();
        emails.sort();
        emails.dedup();
        assert_eq!(emails.len(), users.len(), "emails are unique");
    }
}
