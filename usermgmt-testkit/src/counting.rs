//! Totals under interleaved writes (issue 16): two service instances, each over its own
//! storage handle on one database, take turns writing — creates, edits of every counted
//! attribute, status changes, deletes, bulk deletes, role grants and renames, provider links,
//! sign-ins, failed logins, the clock moving, the change feed pruned — and after every write
//! both count random filters. Each total must equal the reference model's count over the
//! users as stored: an instance's counting index must never miss a write, its own or the
//! other's.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use usermgmt_core::filter::{ListPlan, UserFilters, reference_list};
use usermgmt_core::model::{
    AuthMethod, Gender, OAuthProvider, Status, StatusGroup, TenantId, User, UserStats, ValueField,
};
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::service::{
    BulkDeleteRequest, ClientInfo, LinkOAuth, LoginRequest, UpdateRole, UpdateUser,
};
use usermgmt_core::storage::Storage;
use usermgmt_core::{Principal, ServiceConfig, UserService};
use uuid::Uuid;

use crate::dataset::{
    self, CITIES, COUNTRIES, DESIGNATIONS, EXPERTISE, LOCALES, ROLES, STATES, TIMEZONES,
};
use crate::store::{ManualClock, TestStore};

/// Users each case starts with.
const USERS: usize = 40;
/// Writes per case.
const WRITES: usize = 14;
/// Queries counted by each instance after each write.
const QUERIES: usize = 3;

/// One case's tenant, seen by two service instances.
struct Case {
    services: [UserService; 2],
    storage: Arc<dyn Storage>,
    clock: Arc<ManualClock>,
    admin: Principal,
    tenant: TenantId,
    ids: Vec<Uuid>,
    /// Counted totals compared (for the non-vacuity check).
    compared: usize,
}

fn pick<'a>(rng: &mut StdRng, pool: &[&'a str]) -> &'a str {
    pool.choose(rng).copied().unwrap_or("x")
}

fn maybe(rng: &mut StdRng, value: impl FnOnce(&mut StdRng) -> String) -> Option<String> {
    rng.random_bool(0.75).then(|| value(rng))
}

/// A patch changing a random selection of counted attributes.
fn patch(rng: &mut StdRng) -> UpdateUser {
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

impl Case {
    async fn new(
        storages: [Arc<dyn Storage>; 2],
        seed: u64,
        now: DateTime<Utc>,
    ) -> Result<Self, TestCaseError> {
        // Unique per run: shrinking runs a seed again.
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tenant = TenantId::new(format!("count{run}x{seed:x}"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let clock = Arc::new(ManualClock::new(now));
        let config = ServiceConfig {
            password: PasswordPolicy::insecure_fast_for_tests(),
            ..ServiceConfig::default()
        };
        let services = storages
            .clone()
            .map(|s| UserService::with_config(s, config.clone()).with_clock(clock.clone()));
        let users = dataset::load(storages[0].as_ref(), seed, &tenant, USERS, now).await;
        let admin = services[0]
            .bootstrap_super_admin(
                &tenant,
                "Count Admin",
                "admin@count.test",
                Password::new("password-1"),
            )
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        ids.push(admin.id);
        let [storage, _] = storages;
        Ok(Self {
            services,
            storage,
            clock,
            admin: Principal::user(tenant.clone(), admin.id),
            tenant,
            ids,
            compared: 0,
        })
    }

    /// Every user of the tenant as stored, deleted ones included.
    async fn stored(&self) -> Result<Vec<User>, TestCaseError> {
        let everyone = UserFilters {
            statuses: Status::ALL.to_vec(),
            ..Default::default()
        };
        let mut batches = self.storage.export_users(
            &self.tenant,
            ListPlan::export(&everyone, None),
            usermgmt_core::Clock::now(self.clock.as_ref()),
            200,
        );
        let mut users = Vec::new();
        while let Some(batch) = batches.next().await {
            users.extend(batch.map_err(|e| TestCaseError::fail(e.to_string()))?);
        }
        Ok(users)
    }

    /// One random write through instance `by`; refusals (e.g. deleting oneself) are fine.
    async fn write(&mut self, rng: &mut StdRng) -> Result<(), TestCaseError> {
        let by = rng.random_range(0..2);
        let service = &self.services[by];
        let target = *self.ids.choose(rng).unwrap_or(&self.admin_id());
        let now = usermgmt_core::Clock::now(self.clock.as_ref());
        match rng.random_range(0..11) {
            0 => {
                let seed = rng.random::<u64>();
                let new = dataset::users(seed, &self.tenant, 1, now);
                for user in new {
                    let event = dataset::seed_event(
                        &self.tenant,
                        user.user.id,
                        usermgmt_core::model::AuditTargetKind::User,
                        now,
                    );
                    let id = user.user.id;
                    if self
                        .storage
                        .insert_user(&self.tenant, user, event)
                        .await
                        .is_ok()
                    {
                        self.ids.push(id);
                    }
                }
            }
            1..=3 => {
                let _ = service.update_user(&self.admin, target, patch(rng)).await;
            }
            4 => {
                let _ = service.delete_user(&self.admin, target).await;
            }
            5 => {
                let targets = (0..rng.random_range(1..5))
                    .filter_map(|_| self.ids.choose(rng).copied())
                    .collect();
                let _ = service
                    .bulk_delete(&self.admin, BulkDeleteRequest::UserIds(targets))
                    .await;
            }
            6 => {
                let roles = service
                    .list_roles(&self.admin)
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let renamable: Vec<_> = roles
                    .iter()
                    .filter(|r| ROLES.contains(&r.name.as_str()) || r.name.starts_with("renamed"))
                    .collect();
                if let Some(role) = renamable.choose(rng) {
                    let name = if role.name.starts_with("renamed") {
                        pick(rng, ROLES).to_owned()
                    } else {
                        format!("renamed-{}", role.name)
                    };
                    let input = UpdateRole {
                        name: Some(name),
                        ..Default::default()
                    };
                    let _ = service.update_role(&self.admin, role.id, input).await;
                }
            }
            9 => {
                // Link or unlink a provider (has_oauth, oauth_provider).
                let provider = *OAuthProvider::ALL
                    .choose(rng)
                    .unwrap_or(&OAuthProvider::ALL[0]);
                if rng.random_bool(0.6) {
                    let input = LinkOAuth {
                        provider,
                        provider_user_id: format!("p-{}", rng.random::<u32>()),
                    };
                    let _ = service.link_oauth(&self.admin, target, input).await;
                } else {
                    let _ = service.unlink_oauth(&self.admin, target, provider).await;
                }
            }
            10 => {
                // Give a user a password, then sign in (last_login_at, failed attempts reset).
                let set = UpdateUser {
                    password: Some(Some(Password::new("a fine password 9"))),
                    ..Default::default()
                };
                if let Ok(user) = service.update_user(&self.admin, target, set).await
                    && let Some(email) = user.email
                {
                    let request = LoginRequest {
                        identifier: email,
                        password: Password::new("a fine password 9"),
                    };
                    let client = ClientInfo::default();
                    let _ = service.login(&self.tenant, request, client).await;
                }
            }
            7 => {
                let lock_until = now + Duration::minutes(rng.random_range(-5..30));
                let _ = self
                    .storage
                    .record_login_failure(&self.tenant, target, now, 3, lock_until)
                    .await;
            }
            _ => {
                if rng.random_bool(0.5) {
                    self.clock.advance(Duration::hours(rng.random_range(1..72)));
                } else {
                    let _ = self.storage.prune_feed(std::time::Duration::ZERO).await;
                }
            }
        }
        Ok(())
    }

    fn admin_id(&self) -> Uuid {
        self.admin.user_id().unwrap_or_default()
    }

    /// Both instances count random filters; each total must match the reference.
    async fn compare(&mut self, rng: &mut StdRng) -> Result<(), TestCaseError> {
        let stored = self.stored().await?;
        let now = usermgmt_core::Clock::now(self.clock.as_ref());
        for _ in 0..QUERIES {
            let mut query = crate::differential::random_query(rng.random(), now);
            query.filters.enrollment = Default::default();
            if rng.random_bool(0.8) {
                query.filters.search = None;
            }
            query.include_total = true;
            let Ok(plan) = query.clone().plan(500) else {
                continue;
            };
            let (_, expected) = reference_list(&stored, &self.tenant, &plan, now);
            for (i, service) in self.services.iter().enumerate() {
                let page = service
                    .list_users(&self.admin, query.clone())
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(
                    page.total,
                    Some(expected),
                    "instance {} miscounted {:?}",
                    i,
                    plan.filters
                );
                self.compared += 1;
            }
            // Statistics over the same filters (the list's enrollment handling aside).
            // No filter at all: the statistics of everyone, deleted users included.
            let filters = if query.filters.is_empty() {
                UserFilters {
                    statuses: Status::ALL.to_vec(),
                    ..Default::default()
                }
            } else {
                plan.filters.clone()
            };
            let expected = UserStats::from_groups(&reference_groups(&stored, &filters, now));
            for (i, service) in self.services.iter().enumerate() {
                let stats = service
                    .stats_filtered(&self.admin, query.filters.clone())
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&stats, &expected, "instance {} statistics", i);
            }
        }
        let everyone = UserFilters {
            statuses: Status::ALL.to_vec(),
            ..Default::default()
        };
        let expected = UserStats::from_groups(&reference_groups(&stored, &everyone, now));
        let field = *ValueField::ALL.choose(rng).unwrap_or(&ValueField::City);
        let roles = self.services[0]
            .list_roles(&self.admin)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let names: Vec<String> = roles.into_iter().map(|r| r.name).collect();
        let values = reference_values(&stored, field, &names);
        for (i, service) in self.services.iter().enumerate() {
            let stats = service
                .stats(&self.admin)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&stats, &expected, "instance {} statistics", i);
            let page = service
                .field_values(&self.admin, field.as_str(), None, 1, 500)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got: BTreeMap<String, u64> = page
                .items
                .iter()
                .map(|v| (key(field, &v.value), v.count))
                .collect();
            prop_assert_eq!(&got, &values, "instance {} values of {}", i, field);
            prop_assert_eq!(page.total, Some(values.len() as u64));
            let counts: Vec<u64> = page.items.iter().map(|v| v.count).collect();
            prop_assert!(counts.windows(2).all(|w| w[0] >= w[1]), "most common first");
        }
        Ok(())
    }
}

/// A value's identity: fields compared ignoring ASCII case group their spellings.
fn key(field: ValueField, value: &str) -> String {
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
fn reference_groups(
    users: &[User],
    filters: &UserFilters,
    now: DateTime<Utc>,
) -> BTreeMap<Status, StatusGroup> {
    let mut groups: BTreeMap<Status, StatusGroup> = BTreeMap::new();
    for user in users.iter().filter(|u| filters.matches(u, now)) {
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
fn reference_values(users: &[User], field: ValueField, roles: &[String]) -> BTreeMap<String, u64> {
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

/// Runs `cases` random write sequences; `stores` gives a store and a second, independent
/// storage handle over the same database (the second application instance).
pub fn run<F, Fut>(runtime: &tokio::runtime::Runtime, stores: F, cases: u32)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<(TestStore, Arc<dyn Storage>)>>,
{
    let Some((store, second)) = runtime.block_on(stores()) else {
        return;
    };
    let now = Utc
        .with_ymd_and_hms(2026, 3, 1, 9, 30, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let compared = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&any::<u64>(), |seed| {
        runtime.block_on(async {
            let rng = &mut StdRng::seed_from_u64(seed);
            let mut case = Case::new([store.storage.clone(), second.clone()], seed, now).await?;
            case.compare(rng).await?;
            for _ in 0..WRITES {
                case.write(rng).await?;
                case.compare(rng).await?;
            }
            prop_assert!(
                case.services[1].count_index_size(&case.tenant).is_some(),
                "the second instance counted from its index"
            );
            compared.fetch_add(case.compared, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let compared = compared.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        compared >= cases as usize * WRITES * QUERIES,
        "only {compared} totals compared"
    );
}
