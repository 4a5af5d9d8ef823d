//! Seeded generators of users with deliberately small value pools, so filters overlap, sort
//! keys tie and every branch of every filter is exercised.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use usermgmt_core::model::{
    AuditAction, AuditActor, AuditEvent, AuditTargetKind, AuthMethod, Gender, OAuthLink,
    OAuthProvider, Permission, Profile, Role, Status, TenantId, User,
};
use usermgmt_core::password::PasswordHash;
use usermgmt_core::storage::{NewUser, Storage};
use uuid::Uuid;

use crate::fixture::Fixture;
pub use crate::values::small::{
    CITIES, COUNTRIES, DESIGNATIONS, EXPERTISE, LOCALES, NAMES, ROLES, SEARCH_TERMS, STATES,
    TIMEZONES,
};
use crate::values::{maybe, pick, role};

/// The dataset's roles: `editor`, `viewer`, `support` with assorted permissions.
pub fn roles(tenant: &TenantId, now: DateTime<Utc>) -> Vec<Role> {
    let grants: [&[Permission]; 3] = [
        &[Permission::USER_LIST, Permission::USER_UPDATE],
        &[Permission::USER_LIST, Permission::USER_VIEW],
        &[Permission::USER_VIEW],
    ];
    ROLES
        .iter()
        .zip(grants)
        .map(|(name, permissions)| {
            let permissions = permissions.iter().cloned().collect();
            role(Uuid::now_v7(), tenant, name, None, permissions, now)
        })
        .collect()
}

/// `count` users of `tenant`, reproducible from `seed`, relative to `now`.
pub fn users(seed: u64, tenant: &TenantId, count: usize, now: DateTime<Utc>) -> Vec<NewUser> {
    let mut rng = StdRng::seed_from_u64(seed);
    let shared_instants: Vec<DateTime<Utc>> = (0..5)
        .map(|i| now - Duration::days(30 * i + 1) - Duration::seconds(i * 7))
        .collect();
    (0..count)
        .map(|i| {
            let created_at = if rng.random_bool(0.3) {
                *shared_instants.choose(&mut rng).unwrap_or(&now)
            } else {
                now - Duration::seconds(rng.random_range(0..3 * 365 * 86_400))
            };
            let status = *[
                Status::Active,
                Status::Active,
                Status::Active,
                Status::Inactive,
                Status::Suspended,
                Status::PendingVerification,
                Status::Deleted,
            ]
            .choose(&mut rng)
            .unwrap_or(&Status::Active);
            let mut flags = [
                rng.random_bool(0.2),
                rng.random_bool(0.2),
                rng.random_bool(0.7),
            ];
            if !flags.iter().any(|f| *f) {
                flags[2] = true;
            }
            let email = maybe(&mut rng, 0.85, |r| {
                format!(
                    "user{i}@{}",
                    pick(r, &["example.com", "test.io", "mail.test"])
                )
            });
            let phone = if email.is_none() || rng.random_bool(0.4) {
                Some(format!("+1415555{:04}", 1000 + i))
            } else {
                None
            };
            let mut role_names: Vec<String> = ROLES
                .iter()
                .filter(|_| rng.random_bool(0.3))
                .map(|r| (*r).to_owned())
                .collect();
            role_names.sort();
            let mut expertise: Vec<String> = EXPERTISE
                .iter()
                .filter(|_| rng.random_bool(0.25))
                .map(|e| (*e).to_owned())
                .collect();
            expertise.shuffle(&mut rng);
            let last_login_at = maybe(&mut rng, 0.75, |r| {
                let span = (now - created_at).num_seconds().max(1);
                if r.random_bool(0.2) {
                    shared_instants[0]
                } else {
                    now - Duration::seconds(r.random_range(0..span))
                }
            });
            let profile = Profile {
                avatar_url: maybe(&mut rng, 0.5, |_| format!("https://img.test/{i}.png")),
                bio: maybe(&mut rng, 0.4, |_| "Bio".to_owned()),
                country: maybe(&mut rng, 0.6, |r| pick(r, COUNTRIES).to_owned()),
                city: maybe(&mut rng, 0.5, |r| pick(r, CITIES).to_owned()),
                state: maybe(&mut rng, 0.4, |r| pick(r, STATES).to_owned()),
                continent: None,
                timezone: maybe(&mut rng, 0.6, |r| pick(r, TIMEZONES).to_owned()),
                locale: maybe(&mut rng, 0.6, |r| pick(r, LOCALES).to_owned()),
                gender: maybe(&mut rng, 0.6, |r| {
                    *Gender::ALL.choose(r).unwrap_or(&Gender::Other)
                }),
                designation: maybe(&mut rng, 0.5, |r| pick(r, DESIGNATIONS).to_owned()),
                expertise,
                date_of_birth: maybe(&mut rng, 0.7, |r| {
                    NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default()
                        + Duration::days(r.random_range(0..24_000))
                }),
            };
            let mut user = User {
                id: Uuid::now_v7(),
                tenant_id: tenant.clone(),
                name: format!(
                    "{} {}",
                    pick(&mut rng, NAMES),
                    if rng.random_bool(0.5) {
                        i.to_string()
                    } else {
                        String::new()
                    }
                )
                .trim()
                .to_owned(),
                email: email.clone(),
                phone: phone.clone(),
                username: maybe(&mut rng, 0.5, |_| format!("user_{i}")),
                unique_id: maybe(&mut rng, 0.4, |_| format!("ID-{i}")),
                status,
                is_admin: flags[0],
                is_instructor: flags[1],
                is_learner: flags[2],
                roles: role_names,
                // Sorted by name, as the domain keeps them.
                permissions: Fixture::all_permissions()
                    .into_iter()
                    .filter(|_| rng.random_bool(0.1))
                    .collect(),
                email_verified: email.is_some() && rng.random_bool(0.6),
                phone_verified: phone.is_some() && rng.random_bool(0.5),
                auth_method: if email.is_some() && rng.random_bool(0.8) {
                    AuthMethod::Email
                } else if phone.is_some() {
                    AuthMethod::Phone
                } else {
                    AuthMethod::Oauth
                },
                oauth_providers: OAuthProvider::ALL
                    .iter()
                    .cloned()
                    .filter(|_| rng.random_bool(0.15))
                    .collect(),
                has_password: rng.random_bool(0.6),
                profile,
                profile_completeness: 0,
                created_at,
                updated_at: created_at,
                last_login_at,
                deleted_at: (status == Status::Deleted).then_some(now - Duration::days(1)),
                failed_login_attempts: rng.random_range(0..7),
                locked_until: maybe(&mut rng, 0.2, |r| {
                    now + Duration::minutes(r.random_range(-30..30))
                }),
                version: 1,
            };
            user.refresh_derived();
            let password_hash = user
                .has_password
                .then(|| PasswordHash::from_phc("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
            let oauth_links = user
                .oauth_providers
                .iter()
                .map(|&provider| OAuthLink {
                    provider,
                    provider_user_id: format!("{provider}-{}", user.id),
                    linked_at: now,
                })
                .collect();
            NewUser {
                user,
                password_hash,
                oauth_links,
            }
        })
        .collect()
}

/// Inserts the roles and users straight into storage (bypassing the service, so timestamps
/// and security state can be anything) and returns the users as stored.
pub async fn load(
    storage: &dyn Storage,
    seed: u64,
    tenant: &TenantId,
    count: usize,
    now: DateTime<Utc>,
) -> Vec<User> {
    insert_roles(storage, tenant, roles(tenant, now), now).await;
    let mut stored = Vec::with_capacity(count);
    for new in users(seed, tenant, count, now) {
        let event = seed_event(tenant, new.user.id, AuditTargetKind::User, now);
        stored.push(storage.insert_user(tenant, new, event).await.unwrap());
    }
    stored
}

/// Like [`load`] but inserts in transactions of `chunk` users and returns only the users' ids
/// and statuses: for data sets of millions of users.
pub async fn load_bulk(
    storage: &dyn Storage,
    seed: u64,
    tenant: &TenantId,
    count: usize,
    now: DateTime<Utc>,
    chunk: usize,
) -> Vec<(Uuid, Status)> {
    let mut loaded = Vec::with_capacity(count);
    let generated = users(seed, tenant, count, now)
        .into_iter()
        .inspect(|new| loaded.push((new.user.id, new.user.status)));
    insert_chunked(storage, tenant, roles(tenant, now), generated, now, chunk).await;
    loaded
}

/// Inserts `roles`, then `users` in transactions of `chunk` users, each with a seed audit
/// event: how generated data sets of any size are loaded.
pub async fn insert_chunked(
    storage: &dyn Storage,
    tenant: &TenantId,
    roles: Vec<Role>,
    users: impl Iterator<Item = NewUser>,
    now: DateTime<Utc>,
    chunk: usize,
) {
    insert_roles(storage, tenant, roles, now).await;
    let mut batch = Vec::with_capacity(chunk);
    for new in users {
        let event = seed_event(tenant, new.user.id, AuditTargetKind::User, now);
        batch.push((new, event));
        if batch.len() == chunk {
            storage
                .insert_users(tenant, std::mem::take(&mut batch))
                .await
                .unwrap();
        }
    }
    if !batch.is_empty() {
        storage.insert_users(tenant, batch).await.unwrap();
    }
}

async fn insert_roles(
    storage: &dyn Storage,
    tenant: &TenantId,
    roles: Vec<Role>,
    now: DateTime<Utc>,
) {
    for role in roles {
        let event = seed_event(tenant, role.id, AuditTargetKind::Role, now);
        storage.insert_role(tenant, &role, event).await.unwrap();
    }
}

/// Users with their creation events, ready for [`Storage::insert_users`].
pub fn with_events(
    tenant: &TenantId,
    users: impl IntoIterator<Item = NewUser>,
    now: DateTime<Utc>,
) -> Vec<(NewUser, AuditEvent)> {
    users
        .into_iter()
        .map(|new| {
            let event = seed_event(tenant, new.user.id, AuditTargetKind::User, now);
            (new, event)
        })
        .collect()
}

/// A system audit event recording the creation of generated data.
pub fn seed_event(
    tenant: &TenantId,
    target_id: Uuid,
    target_kind: AuditTargetKind,
    now: DateTime<Utc>,
) -> AuditEvent {
    let action = if target_kind == AuditTargetKind::Role {
        AuditAction::RoleCreated
    } else {
        AuditAction::UserCreated
    };
    AuditEvent {
        id: Uuid::now_v7(),
        tenant_id: tenant.clone(),
        target_kind,
        target_id,
        actor: AuditActor::System,
        impersonator_id: None,
        action,
        changes: BTreeMap::new(),
        created_at: now,
    }
}
