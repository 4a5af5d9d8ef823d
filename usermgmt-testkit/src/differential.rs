//! The differential property test: random filter/sort/page combinations against a store
//! filled with generated users must return exactly what core's reference model returns —
//! the same ids, in the same order, with the same total — by offset and by cursor. Random
//! enrollment writes to the learning data come between the queries.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use usermgmt_core::filter::{
    ListPlan, ListQuery, SortBy, SortOrder, UserFilters, Window, reference_list,
};
use usermgmt_core::model::{
    AuthMethod, Continent, EnrollmentStatus, Gender, OAuthProvider, Permission, SUPER_ADMIN_ROLE,
    Status, TenantId, User,
};
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::{Principal, ServiceConfig, UserService};
use uuid::Uuid;

use crate::dataset::{
    self, CITIES, COUNTRIES, DESIGNATIONS, EXPERTISE, LOCALES, ROLES, SEARCH_TERMS, STATES,
    TIMEZONES,
};
use crate::store::{ManualClock, TestStore};

/// Users generated per dataset (plus the admin, plus a decoy tenant of 40).
pub const USERS_PER_DATASET: usize = 240;

/// A loaded dataset and a service over it.
pub struct World {
    service: UserService,
    admin: Principal,
    tenant: TenantId,
    users: Vec<User>,
    enrollments: std::sync::Mutex<Vec<usermgmt_core::model::Enrollment>>,
    learning: Arc<dyn crate::enrollments::LearningWriter>,
    now: DateTime<Utc>,
    non_empty_pages: std::sync::atomic::AtomicUsize,
    _store: TestStore,
}

impl World {
    /// Loads `USERS_PER_DATASET` users generated from `seed` into `store`, with generated
    /// enrollments served by the source `source` builds from them.
    pub async fn load(store: TestStore, seed: u64, source: &SourceFactory) -> Self {
        let now = Utc
            .with_ymd_and_hms(2026, 3, 1, 9, 30, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let tenant = TenantId::new("diff").unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let config = ServiceConfig {
            password: PasswordPolicy::insecure_fast_for_tests(),
            permissions: crate::fixture::host_permissions(),
            ..ServiceConfig::default()
        };
        let mut users = dataset::load(
            store.storage.as_ref(),
            seed,
            &tenant,
            USERS_PER_DATASET,
            now,
        )
        .await;
        let enrollments = crate::enrollments::generate(seed, &users, now);
        let learning = source(&tenant, &enrollments);
        let service = UserService::with_config(store.storage.clone(), config)
            .with_clock(clock)
            .with_enrollment_source(
                learning.source,
                usermgmt_core::service::EnrollmentOptions::default(),
            );
        let decoy = TenantId::new("decoy").unwrap();
        dataset::load(store.storage.as_ref(), seed ^ 0xdead, &decoy, 40, now).await;
        let admin = service
            .bootstrap_super_admin(
                &tenant,
                "Zz Admin",
                "admin@diff.test",
                Password::new("password-1"),
            )
            .await
            .unwrap();
        users.push(admin.clone());
        // Builds the counting index (and the enrollments', when the learning data has a feed).
        service.warm_counts(&tenant).await.unwrap();
        Self {
            service,
            admin: Principal::user(tenant.clone(), admin.id),
            tenant,
            users,
            enrollments: std::sync::Mutex::new(enrollments),
            learning: learning.writer,
            now,
            non_empty_pages: Default::default(),
            _store: store,
        }
    }

    fn expected(&self, plan: &ListPlan) -> (Vec<Uuid>, u64) {
        let mut plan = plan.clone();
        if plan.filters.uses_cross_service() {
            let enrollments = self.enrollments.lock().unwrap_or_else(|e| e.into_inner());
            plan.enrollment = Some(plan.filters.enrollment.enrollment_match(&enrollments));
        }
        plan.filters = plan.filters.without_cross_service();
        // Effective permissions: direct grants and the dataset's roles' (the admin's
        // super-admin role holds every registered permission).
        let roles = dataset::roles(&self.tenant, self.now);
        let holds = |user: &User, wanted: &Permission| {
            user.permissions.contains(wanted)
                || user.roles.iter().any(|name| {
                    name == SUPER_ADMIN_ROLE
                        || roles
                            .iter()
                            .any(|r| &r.name == name && r.permissions.contains(wanted))
                })
        };
        reference_list(&self.users, &self.tenant, &plan, self.now, holds)
    }

    /// Replaces the enrollments of up to two random users (one in ten not a user at all) in
    /// the learning data and in the model, as another service would between requests.
    async fn write_enrollments(&self, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x1ea2);
        for _ in 0..rng.random_range(0..=2) {
            let user = match self.users.choose(&mut rng) {
                Some(user) if rng.random_bool(0.9) => user.id,
                _ => Uuid::from_u128(rng.random()),
            };
            let list = crate::enrollments::generate_for(rng.random(), [user], self.now);
            self.learning.replace(&self.tenant, user, &list).await;
            let mut all = self.enrollments.lock().unwrap_or_else(|e| e.into_inner());
            all.retain(|e| e.user_id != user);
            all.extend(list);
        }
    }

    /// Runs one query (and up to three follow-up cursor pages) against the store and the model,
    /// after random enrollment writes.
    pub async fn check(&self, query: ListQuery, seed: u64) -> Result<(), TestCaseError> {
        self.write_enrollments(seed).await;
        let plan = query.clone().plan(500);
        let page = self.service.list_users(&self.admin, query.clone()).await;
        let plan = match (plan, page.as_ref()) {
            (Err(_), Err(_)) => return Ok(()),
            (Ok(plan), Ok(_)) => plan,
            (plan, page) => {
                return Err(TestCaseError::fail(format!(
                    "validation differs: {plan:?} vs {page:?}"
                )));
            }
        };
        let mut page = page.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(
            page.skipped_filters.is_empty(),
            "the enrollment source answered: {:?}",
            page.skipped_filters
        );
        let mut plan = plan;
        for step in 0..4 {
            let (mut ids, total) = self.expected(&plan);
            let has_more = ids.len() > query.page_size as usize;
            ids.truncate(query.page_size as usize);
            let got: Vec<Uuid> = page.items.iter().map(|u| u.id).collect();
            if !ids.is_empty() {
                self.non_empty_pages
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            prop_assert_eq!(&got, &ids, "ids differ at step {} for {:?}", step, plan);
            if plan.include_total {
                prop_assert_eq!(page.total, Some(total), "total differs for {:?}", plan);
            }
            prop_assert_eq!(page.next_cursor.is_some(), has_more);
            let Some(cursor) = page.next_cursor.clone() else {
                break;
            };
            let next = ListQuery {
                cursor: Some(cursor),
                ..query.clone()
            };
            plan = next
                .clone()
                .plan(500)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(matches!(plan.window, Window::After(_)));
            page = self
                .service
                .list_users(&self.admin, next)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        Ok(())
    }
}

fn some<T>(rng: &mut StdRng, value: impl FnOnce(&mut StdRng) -> T) -> Option<T> {
    if rng.random_bool(0.12) {
        Some(value(rng))
    } else {
        None
    }
}

fn several<T: Clone>(rng: &mut StdRng, pool: &[T]) -> Vec<T> {
    if !rng.random_bool(0.12) {
        return Vec::new();
    }
    let n = rng.random_range(1..=3);
    (0..n).filter_map(|_| pool.choose(rng).cloned()).collect()
}

/// Sometimes one to three identity values of the dataset's first 40 users.
fn identities(rng: &mut StdRng, value: impl Fn(u32, &mut StdRng) -> String) -> Vec<String> {
    if !rng.random_bool(0.12) {
        return Vec::new();
    }
    let n = rng.random_range(1..=3);
    (0..n)
        .map(|_| {
            let i = rng.random_range(0..40);
            value(i, rng)
        })
        .collect()
}

fn strings(rng: &mut StdRng, pool: &[&str]) -> Vec<String> {
    several(rng, pool).into_iter().map(str::to_owned).collect()
}

fn instant(rng: &mut StdRng, now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::seconds(rng.random_range(-3_600..3 * 365 * 86_400))
}

/// A random query over every filter, sort key, direction, page and page size.
pub fn random_query(seed: u64, now: DateTime<Utc>) -> ListQuery {
    let rng = &mut StdRng::seed_from_u64(seed);
    let filters = UserFilters {
        search: some(rng, |r| {
            (*SEARCH_TERMS.choose(r).unwrap_or(&"a")).to_owned()
        }),
        // Identity values the dataset gives its first users, in another case (they match
        // ignoring case); ids are random, so the SCIM property test covers them.
        ids: Vec::new(),
        email: identities(rng, |i, r| {
            let domain = ["Example.com", "TEST.io", "mail.test"]
                .choose(r)
                .unwrap_or(&"x");
            format!("User{i}@{domain}")
        }),
        username: identities(rng, |i, _| format!("USER_{i}")),
        unique_id: identities(rng, |i, _| format!("id-{i}")),
        status: some(rng, |r| *Status::ALL.choose(r).unwrap_or(&Status::Active)),
        statuses: several(rng, Status::ALL),
        is_admin: some(rng, |r| r.random_bool(0.5)),
        is_instructor: some(rng, |r| r.random_bool(0.5)),
        is_learner: some(rng, |r| r.random_bool(0.5)),
        email_verified: some(rng, |r| r.random_bool(0.5)),
        phone_verified: some(rng, |r| r.random_bool(0.5)),
        auth_method: several(rng, AuthMethod::ALL),
        has_oauth: some(rng, |r| r.random_bool(0.5)),
        oauth_provider: several(rng, OAuthProvider::ALL),
        has_password: some(rng, |r| r.random_bool(0.5)),
        roles: strings(rng, ROLES),
        permission: some(rng, |r| {
            let all: Vec<Permission> = crate::fixture::host_permissions()
                .all()
                .into_iter()
                .collect();
            all.choose(r).cloned().unwrap_or(Permission::USER_LIST)
        }),
        profile_complete: some(rng, |r| r.random_bool(0.5)),
        has_avatar: some(rng, |r| r.random_bool(0.5)),
        has_bio: some(rng, |r| r.random_bool(0.5)),
        has_location: some(rng, |r| r.random_bool(0.5)),
        country: strings(rng, COUNTRIES),
        city: strings(rng, CITIES),
        state: strings(rng, STATES),
        continent: several(rng, Continent::ALL),
        timezone: strings(rng, TIMEZONES),
        locale: strings(rng, LOCALES),
        gender: several(rng, Gender::ALL),
        designation: strings(rng, DESIGNATIONS),
        expertise: strings(rng, EXPERTISE),
        age_min: some(rng, |r| r.random_range(0..80)),
        age_max: some(rng, |r| r.random_range(10..90)),
        created_after: some(rng, |r| instant(r, now)),
        created_before: some(rng, |r| instant(r, now)),
        created_in_last_days: some(rng, |r| r.random_range(0..800)),
        last_login_after: some(rng, |r| instant(r, now)),
        last_login_before: some(rng, |r| instant(r, now)),
        active_in_last_days: some(rng, |r| r.random_range(0..800)),
        inactive_for_days: some(rng, |r| r.random_range(0..800)),
        is_locked: some(rng, |r| r.random_bool(0.5)),
        failed_login_attempts_min: some(rng, |r| r.random_range(0..7)),
        failed_login_attempts_max: some(rng, |r| r.random_range(0..7)),
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            has_enrollments: some(rng, |r| r.random_bool(0.5)),
            enrollment_status: several(rng, EnrollmentStatus::ALL),
            enrolled_program_type: strings(rng, crate::enrollments::PROGRAM_TYPES),
            enrolled_program_ids: strings(rng, crate::enrollments::PROGRAM_IDS),
            progress_min: some(rng, |r| r.random_range(0..=100)),
            progress_max: some(rng, |r| r.random_range(0..=100)),
            total_time_spent_min: some(rng, |r| r.random_range(0..40_000)),
            last_learning_activity_after: some(rng, |r| instant(r, now)),
        },
    };
    ListQuery {
        filters,
        sort_by: *SortBy::ALL.choose(rng).unwrap_or(&SortBy::CreatedAt),
        sort_order: if rng.random_bool(0.5) {
            SortOrder::Asc
        } else {
            SortOrder::Desc
        },
        page: if rng.random_bool(0.6) {
            1
        } else {
            rng.random_range(1..6)
        },
        page_size: *[1u32, 2, 5, 7, 20, 50].choose(rng).unwrap_or(&20),
        cursor: None,
        include_total: rng.random_bool(0.8),
    }
}

/// A data set's learning data: the source its queries go through and how the test writes to
/// it.
pub struct Learning {
    /// The enrollment source the service asks (unused in push-down mode).
    pub source: Arc<dyn usermgmt_core::storage::EnrollmentSource>,
    /// Where random enrollment writes go.
    pub writer: Arc<dyn crate::enrollments::LearningWriter>,
}

/// Builds a dataset's learning data from its enrollments.
pub type SourceFactory = dyn Fn(&TenantId, &[usermgmt_core::model::Enrollment]) -> Learning;

/// Runs `cases` random queries against each dataset seed, each dataset in a fresh store, with
/// enrollments answered by the in-memory reference source (the first data set by its queries,
/// the others by the counting index following its feed).
pub fn run<F, Fut, S>(runtime: &tokio::runtime::Runtime, factory: F, seeds: &[u64], cases: u32)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: crate::store::IntoTestStore,
{
    let made = std::sync::atomic::AtomicUsize::new(0);
    let memory: Box<SourceFactory> = Box::new(move |tenant, enrollments| {
        let mut memory =
            crate::enrollments::MemoryEnrollmentSource::new(tenant.clone(), enrollments.to_vec());
        // The first data set asks the source; the others keep the enrollments in the counting
        // index, following the source's feed.
        if made.fetch_add(1, std::sync::atomic::Ordering::Relaxed) > 0 {
            memory = memory.with_feed();
        }
        Learning {
            source: Arc::new(memory.clone()),
            writer: Arc::new(memory),
        }
    });
    run_with_source(runtime, factory, &*memory, seeds, cases);
}

/// [`run`] with enrollments answered by the source `source` builds (e.g. a learning database
/// the factory fills with the enrollments).
pub fn run_with_source<F, Fut, S>(
    runtime: &tokio::runtime::Runtime,
    factory: F,
    source: &SourceFactory,
    seeds: &[u64],
    cases: u32,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: crate::store::IntoTestStore,
{
    for &seed in seeds {
        let Some(store) = runtime.block_on(async { factory().await.into_test_store() }) else {
            return;
        };
        let world = runtime.block_on(async { World::load(store, seed, source).await });
        let now = world.now;
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&any::<u64>(), |query_seed| {
            runtime.block_on(world.check(random_query(query_seed, now), query_seed))
        });
        if let Err(failure) = result {
            panic!("dataset seed {seed}: {failure}");
        }
        // Guard against a vacuous run where every random query matches nothing.
        let non_empty = world
            .non_empty_pages
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            non_empty as u32 >= cases / 4,
            "only {non_empty} non-empty pages in {cases} cases"
        );
    }
}
