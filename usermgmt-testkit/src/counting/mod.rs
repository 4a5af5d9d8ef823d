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

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use usermgmt_core::filter::{ListPlan, UserFilters, reference_list};
use usermgmt_core::model::{OAuthProvider, Status, TenantId, User, UserStats, ValueField};
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::service::{
    BulkDeleteRequest, ClientInfo, LinkOAuth, LoginRequest, UpdateRole, UpdateUser,
};
use usermgmt_core::storage::Storage;
use usermgmt_core::{Principal, ServiceConfig, UserService};
use uuid::Uuid;

use crate::dataset::{self, ROLES};
use crate::store::{ManualClock, TestStore};

mod model;

use model::{key, patch, pick, reference_groups, reference_values};

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
            // Not kept in the index (counted in SQL, which the differential test covers).
            query.filters.permission = None;
            if rng.random_bool(0.8) {
                query.filters.search = None;
            }
            query.include_total = true;
            let Ok(plan) = query.clone().plan(500) else {
                continue;
            };
            let (_, expected) = reference_list(&stored, &self.tenant, &plan, now, |_, _| false);
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
