//! Security invariants under random operation sequences (issue 14): random actors with random
//! permission sets (and the sessions they open, impersonations included) create, edit, grant,
//! suspend, delete, bulk delete by ids and by filters, edit roles, impersonate, masquerade,
//! log out, end sessions and ask the host application's check. Permissions are drawn from the
//! built-in ones and the host's (`course.view`, `course.create`, `grade.edit`). After every
//! step:
//!
//! 1. a tenant that had an active super admin still has one;
//! 2. nobody gained a permission the acting user did not hold (no escalation);
//! 3. a read-only impersonation session changed nothing;
//! 4. a refused operation changed nothing;
//! 5. no session of a non-active user resolves, nor an impersonation whose impersonator is
//!    not active, lacks `user.impersonate` or no longer outranks the user;
//! 6. no other tenant changed;
//! 7. the host check admitted only an active user holding the permission, and never a
//!    permission registered as writing in a read-only impersonation session.
//!
//! Each proptest case is a fresh tenant in one store (so earlier cases are the "other
//! tenants" too); failures shrink to a short sequence of operations.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use usermgmt_core::filter::{ListPlan, UserFilters, Window};
use usermgmt_core::model::{
    ImpersonationMode, Permission, PermissionSet, Role, SUPER_ADMIN_ROLE, SessionToken, Status,
    TenantId, User,
};
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::service::{
    BulkDeleteRequest, ClientInfo, CreateRole, CreateUser, ImpersonateRequest, LoginRequest,
    ThrottlePolicy, UpdateRole, UpdateUser,
};
use usermgmt_core::{Error, Principal, ServiceConfig, UserService};
use uuid::Uuid;

use crate::store::ManualClock;

const PASSWORD: &str = "correct horse battery";
/// Roles each case starts with (besides `super_admin`).
const ROLES: usize = 3;
/// Users each case starts with (besides the root super admin).
const USERS: usize = 4;

/// Who performs an operation: a user acting directly, or whatever a session token resolves to.
#[derive(Debug, Clone, Copy)]
enum Who {
    /// The user at this index (modulo the number of users).
    User(usize),
    /// The session at this index (modulo the number of sessions opened).
    Session(usize),
}

/// One random operation; indices are taken modulo the current number of users, roles or
/// sessions, so every generated sequence is meaningful.
#[derive(Debug, Clone)]
enum Op {
    /// Create a user with these roles and direct permissions (bit i = the i-th of
    /// [`all_permissions`]: built-in and host ones).
    Create {
        who: Who,
        roles: Vec<usize>,
        perms: u16,
    },
    /// Replace a user's roles.
    SetRoles {
        who: Who,
        target: usize,
        roles: Vec<usize>,
    },
    /// Replace a user's direct permissions.
    SetPerms { who: Who, target: usize, perms: u16 },
    /// Change a user's status.
    SetStatus {
        who: Who,
        target: usize,
        status: usize,
    },
    /// Soft-delete a user.
    Delete { who: Who, target: usize },
    /// Bulk delete by ids.
    BulkIds { who: Who, targets: Vec<usize> },
    /// Bulk delete by one of a few filters (some of which select everyone).
    BulkFilter { who: Who, filter: usize },
    /// Replace a role's permissions.
    EditRole { who: Who, role: usize, perms: u16 },
    /// Start an impersonation (read-only) or masquerade session.
    Impersonate {
        who: Who,
        target: usize,
        masquerade: bool,
    },
    /// Log out of a session.
    Logout { session: usize },
    /// End every session of a user.
    EndSessions { who: Who, target: usize },
    /// The host application's check of one permission (the i-th of [`all_permissions`]).
    Check { who: Who, permission: usize },
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        3 => (0..8usize).prop_map(Who::User),
        2 => (0..8usize).prop_map(Who::Session),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let index = 0..12usize;
    let roles = proptest::collection::vec(0..ROLES + 1, 0..3);
    prop_oneof![
        1 => (who(), roles.clone(), any::<u16>())
            .prop_map(|(who, roles, perms)| Op::Create { who, roles, perms }),
        1 => (who(), index.clone(), roles)
            .prop_map(|(who, target, roles)| Op::SetRoles { who, target, roles }),
        1 => (who(), index.clone(), any::<u16>())
            .prop_map(|(who, target, perms)| Op::SetPerms { who, target, perms }),
        1 => (who(), index.clone(), 0..5usize)
            .prop_map(|(who, target, status)| Op::SetStatus { who, target, status }),
        1 => (who(), index.clone()).prop_map(|(who, target)| Op::Delete { who, target }),
        1 => (who(), proptest::collection::vec(index.clone(), 1..4))
            .prop_map(|(who, targets)| Op::BulkIds { who, targets }),
        1 => (who(), 0..FILTERS).prop_map(|(who, filter)| Op::BulkFilter { who, filter }),
        1 => (who(), 0..ROLES + 1, any::<u16>())
            .prop_map(|(who, role, perms)| Op::EditRole { who, role, perms }),
        2 => (who(), index.clone(), any::<bool>())
            .prop_map(|(who, target, masquerade)| Op::Impersonate { who, target, masquerade }),
        1 => (0..8usize).prop_map(|session| Op::Logout { session }),
        1 => (who(), index).prop_map(|(who, target)| Op::EndSessions { who, target }),
        2 => (who(), 0..64usize).prop_map(|(who, permission)| Op::Check { who, permission }),
    ]
}

/// How many bulk-delete filters [`filter`] knows.
const FILTERS: usize = 6;

fn filter(index: usize) -> UserFilters {
    match index {
        0 => UserFilters {
            search: Some("   ".into()),
            ..Default::default()
        },
        1 => UserFilters {
            statuses: Status::ALL.to_vec(),
            ..Default::default()
        },
        2 => UserFilters {
            is_admin: Some(true),
            ..Default::default()
        },
        3 => UserFilters {
            roles: vec![SUPER_ADMIN_ROLE.into()],
            ..Default::default()
        },
        4 => UserFilters {
            statuses: vec![Status::Suspended, Status::Inactive],
            ..Default::default()
        },
        _ => UserFilters {
            search: Some("inv-user".into()),
            ..Default::default()
        },
    }
}

/// Every permission the service under test knows, built-in and host ones, by name.
fn all_permissions() -> Vec<Permission> {
    crate::fixture::host_permissions()
        .all()
        .into_iter()
        .collect()
}

fn permissions(bits: u16) -> Vec<Permission> {
    all_permissions()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, p)| p)
        .collect()
}

/// The permission a [`Op::Check`] asks for.
fn checked(index: usize) -> Permission {
    let all = all_permissions();
    all[index % all.len()].clone()
}

/// Everything of a tenant the invariants compare.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    users: Vec<User>,
    roles: Vec<Role>,
    grants: BTreeMap<Uuid, (Status, PermissionSet)>,
}

impl Snapshot {
    fn has_super_admin(&self) -> bool {
        self.users
            .iter()
            .any(|u| u.status == Status::Active && u.roles.iter().any(|r| r == SUPER_ADMIN_ROLE))
    }

    fn permissions_of(&self, id: Uuid) -> PermissionSet {
        self.grants
            .get(&id)
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    }

    fn active(&self, id: Uuid) -> bool {
        self.grants
            .get(&id)
            .is_some_and(|(s, _)| *s == Status::Active)
    }
}

/// One case's tenant: its users (index 0 is the root super admin), roles and sessions.
struct Case<'a> {
    service: &'a UserService,
    tenant: TenantId,
    root: Principal,
    users: Vec<Uuid>,
    roles: Vec<String>,
    sessions: Vec<SessionToken>,
    created: usize,
    /// Operations that succeeded, and all operations run.
    outcomes: (u32, u32),
}

fn check(condition: bool, message: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if condition {
        Ok(())
    } else {
        Err(TestCaseError::fail(message()))
    }
}

async fn snapshot(service: &UserService, tenant: &TenantId) -> Snapshot {
    let storage = service.storage();
    let plan = ListPlan {
        filters: UserFilters {
            statuses: Status::ALL.to_vec(),
            ..Default::default()
        },
        sort_by: Default::default(),
        sort_order: Default::default(),
        window: Window::Offset(0),
        limit: 1_000,
        include_total: false,
        enrollment: None,
        order_first: false,
    };
    let (users, _) = storage
        .list_users(tenant, &plan, Utc::now())
        .await
        .expect("snapshot users");
    let roles = storage.list_roles(tenant).await.expect("snapshot roles");
    let mut grants = BTreeMap::new();
    for user in &users {
        if let Some(g) = storage.actor_grants(tenant, user.id).await.expect("grants") {
            grants.insert(user.id, (g.status, g.permissions));
        }
    }
    Snapshot {
        users,
        roles,
        grants,
    }
}

impl<'a> Case<'a> {
    async fn new(service: &'a UserService, tenant: TenantId, role_perms: &[u16]) -> Case<'a> {
        let root = service
            .bootstrap_super_admin(&tenant, "Root", "root@inv.test", Password::new(PASSWORD))
            .await
            .expect("bootstrap");
        let root_principal = Principal::user(tenant.clone(), root.id);
        let mut roles = Vec::new();
        for (i, bits) in role_perms.iter().enumerate() {
            let role = service
                .create_role(
                    &root_principal,
                    CreateRole {
                        name: format!("role-{i}"),
                        description: None,
                        permissions: permissions(*bits),
                    },
                )
                .await
                .expect("role");
            roles.push(role.name);
        }
        roles.push(SUPER_ADMIN_ROLE.to_owned());
        let mut case = Case {
            service,
            tenant,
            root: root_principal,
            users: vec![root.id],
            roles,
            sessions: Vec::new(),
            created: 0,
            outcomes: (0, 0),
        };
        for i in 0..USERS {
            let roles = vec![case.roles[i % ROLES].clone()];
            let user = case
                .service
                .create_user(&case.root.clone(), case.user_input(roles, i % 2 == 0, 0))
                .await
                .expect("user");
            case.users.push(user.id);
        }
        // Every starting user signs in once: sessions to act through, end and log out of.
        for email in ["root@inv.test".to_owned(), "inv-user-0@inv.test".to_owned()]
            .into_iter()
            .chain((1..USERS).map(|i| format!("inv-user-{i}@inv.test")))
        {
            let outcome = case
                .service
                .login(
                    &case.tenant,
                    LoginRequest {
                        identifier: email,
                        password: Password::new(PASSWORD),
                    },
                    ClientInfo::default(),
                )
                .await
                .expect("login");
            case.sessions.push(outcome.token);
        }
        case
    }

    fn user_input(&mut self, roles: Vec<String>, admin: bool, perms: u16) -> CreateUser {
        let n = self.created;
        self.created += 1;
        CreateUser {
            name: format!("Inv User {n}"),
            email: Some(format!("inv-user-{n}@inv.test")),
            password: Some(Password::new(PASSWORD)),
            is_admin: admin || !roles.is_empty(),
            is_learner: true,
            roles,
            permissions: permissions(perms),
            ..Default::default()
        }
    }

    fn user(&self, index: usize) -> Uuid {
        self.users[index % self.users.len()]
    }

    fn role_names(&self, indices: &[usize]) -> Vec<String> {
        let mut names: Vec<String> = indices
            .iter()
            .map(|i| self.roles[i % self.roles.len()].clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The principal behind `who`, or `None` when its session does not resolve.
    async fn principal(&self, who: Who) -> Option<Principal> {
        match who {
            Who::User(i) => Some(Principal::user(self.tenant.clone(), self.user(i))),
            Who::Session(i) => {
                // Counted from the newest, so the impersonation sessions opened during the
                // sequence act as often as the sign-ins of the start.
                let newest = self.sessions.len().checked_sub(1)?;
                let token = self.sessions.get(newest - i % self.sessions.len())?;
                self.service.authenticate(token).await.ok().map(|(p, _)| p)
            }
        }
    }

    /// Runs one operation; answers whether it succeeded.
    async fn apply(&mut self, op: &Op, principal: &Principal) -> Result<(), Error> {
        let service = self.service;
        match op {
            Op::Create { roles, perms, .. } => {
                let roles = self.role_names(roles);
                let input = self.user_input(roles, false, *perms);
                let user = service.create_user(principal, input).await?;
                self.users.push(user.id);
            }
            Op::SetRoles { target, roles, .. } => {
                let patch = UpdateUser {
                    roles: Some(self.role_names(roles)),
                    ..Default::default()
                };
                service
                    .update_user(principal, self.user(*target), patch)
                    .await?;
            }
            Op::SetPerms { target, perms, .. } => {
                let patch = UpdateUser {
                    permissions: Some(permissions(*perms)),
                    ..Default::default()
                };
                service
                    .update_user(principal, self.user(*target), patch)
                    .await?;
            }
            Op::SetStatus { target, status, .. } => {
                let patch = UpdateUser {
                    status: Some(Status::ALL[status % Status::ALL.len()]),
                    ..Default::default()
                };
                service
                    .update_user(principal, self.user(*target), patch)
                    .await?;
            }
            Op::Delete { target, .. } => {
                service.delete_user(principal, self.user(*target)).await?;
            }
            Op::BulkIds { targets, .. } => {
                let ids = targets.iter().map(|t| self.user(*t)).collect();
                service
                    .bulk_delete(principal, BulkDeleteRequest::UserIds(ids))
                    .await?;
            }
            Op::BulkFilter { filter: f, .. } => {
                let request = BulkDeleteRequest::Filters(Box::new(filter(*f)));
                service.bulk_delete(principal, request).await?;
            }
            Op::EditRole { role, perms, .. } => {
                let name = &self.roles[role % self.roles.len()];
                let roles = service.list_roles(principal).await?;
                let role = roles
                    .iter()
                    .find(|r| &r.name == name)
                    .ok_or(Error::NotFound("role"))?;
                let change = UpdateRole {
                    permissions: Some(permissions(*perms)),
                    ..Default::default()
                };
                service.update_role(principal, role.id, change).await?;
            }
            Op::Impersonate {
                target, masquerade, ..
            } => {
                let mode = if *masquerade {
                    ImpersonationMode::Masquerade
                } else {
                    ImpersonationMode::Impersonate
                };
                let request = ImpersonateRequest {
                    mode,
                    reason: "property test".into(),
                };
                let outcome = service
                    .impersonate(
                        principal,
                        self.user(*target),
                        request,
                        ClientInfo::default(),
                    )
                    .await?;
                self.sessions.push(outcome.token);
            }
            Op::Logout { .. } => service.logout(principal).await?,
            Op::EndSessions { target, .. } => {
                service
                    .terminate_all_sessions(principal, self.user(*target))
                    .await?;
            }
            Op::Check { permission, .. } => {
                service
                    .check_permission(principal, &checked(*permission))
                    .await?;
            }
        }
        Ok(())
    }

    async fn step(
        &mut self,
        op: &Op,
        others: &[(TenantId, Snapshot)],
    ) -> Result<(), TestCaseError> {
        let before = snapshot(self.service, &self.tenant).await;
        let who = match op {
            Op::Logout { session } => Who::Session(*session),
            Op::Create { who, .. }
            | Op::SetRoles { who, .. }
            | Op::SetPerms { who, .. }
            | Op::SetStatus { who, .. }
            | Op::Delete { who, .. }
            | Op::BulkIds { who, .. }
            | Op::BulkFilter { who, .. }
            | Op::EditRole { who, .. }
            | Op::Impersonate { who, .. }
            | Op::EndSessions { who, .. }
            | Op::Check { who, .. } => *who,
        };
        let principal = self.principal(who).await;
        let result = match &principal {
            Some(principal) => self.apply(op, principal).await,
            None => Err(Error::Unauthenticated("session does not resolve".into())),
        };
        let after = snapshot(self.service, &self.tenant).await;
        self.outcomes.0 += u32::from(result.is_ok());
        self.outcomes.1 += 1;
        let what = || format!("{op:?} as {principal:?} → {result:?}");

        if let Err(error) = &result {
            check(!matches!(error, Error::Storage(_)), || {
                format!("storage error: {}", what())
            })?;
            check(after == before, || {
                format!("a refused operation changed data: {}", what())
            })?;
        }
        check(!before.has_super_admin() || after.has_super_admin(), || {
            format!("the tenant lost its last super admin: {}", what())
        })?;
        let read_only = principal
            .as_ref()
            .and_then(Principal::impersonation)
            .is_some_and(|i| i.mode == ImpersonationMode::Impersonate);
        if read_only && !matches!(op, Op::Logout { .. }) {
            check(after == before, || {
                format!("a read-only session changed data: {}", what())
            })?;
        }
        let acting = principal
            .as_ref()
            .and_then(Principal::user_id)
            .map(|id| before.permissions_of(id))
            .unwrap_or_default();
        if let (Op::Check { permission, .. }, Ok(())) = (op, &result) {
            let wanted = checked(*permission);
            let writes = crate::fixture::host_permissions().writes(&wanted);
            let user = principal.as_ref().and_then(Principal::user_id);
            check(
                acting.contains(&wanted)
                    && !(read_only && writes)
                    && user.is_some_and(|u| before.active(u)),
                || format!("the host check let through {wanted}: {}", what()),
            )?;
        }
        for (id, (_, now)) in &after.grants {
            let had = before.permissions_of(*id);
            let gained: Vec<_> = now.difference(&had).collect();
            check(gained.iter().all(|p| acting.contains(p)), || {
                format!(
                    "{id} gained {gained:?} beyond the actor's {acting:?}: {}",
                    what()
                )
            })?;
        }
        for token in &self.sessions {
            if let Ok((principal, session)) = self.service.authenticate(token).await {
                let user = session.user_id;
                check(after.active(user), || {
                    format!("a session of non-active {user} resolves: {}", what())
                })?;
                if let Some(imp) = principal.impersonation() {
                    let admin = imp.impersonator_id;
                    let admin_perms = after.permissions_of(admin);
                    check(
                        after.active(admin)
                            && admin_perms.contains(&Permission::USER_IMPERSONATE)
                            && after.permissions_of(user).is_subset(&admin_perms),
                        || format!("an impersonation by {admin} outlives its right: {}", what()),
                    )?;
                }
            }
        }
        for (tenant, snap) in others {
            let now = snapshot(self.service, tenant).await;
            check(&now == snap, || {
                format!("tenant {tenant} changed: {}", what())
            })?;
        }
        Ok(())
    }
}

/// [`run`] on a runtime of its own, with `USERMGMT_INVARIANT_CASES` cases (default 64) of up to
/// 24 operations: what [`crate::conformance_suite!`] stamps out for every backend.
pub fn run_from_env<F, Fut, S>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: crate::store::IntoTestStore,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cases = std::env::var("USERMGMT_INVARIANT_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64);
    run(&runtime, factory, cases, 24);
}

/// Runs `cases` random operation sequences (up to `max_ops` each) on one store from `factory`.
pub fn run<F, Fut, S>(runtime: &tokio::runtime::Runtime, factory: F, cases: u32, max_ops: usize)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: crate::store::IntoTestStore,
{
    let Some(store) = runtime.block_on(async { factory().await.into_test_store() }) else {
        return;
    };
    let start = Utc
        .with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let config = ServiceConfig {
        password: PasswordPolicy::insecure_fast_for_tests(),
        throttle: ThrottlePolicy {
            client_burst: 0,
            ..ThrottlePolicy::default()
        },
        permissions: crate::fixture::host_permissions(),
        ..ServiceConfig::default()
    };
    let service = UserService::with_config(store.storage.clone(), config)
        .with_clock(Arc::new(ManualClock::new(start)));
    // A bystander tenant, and every earlier case's tenant, must never change.
    let decoy = TenantId::new("inv-decoy").expect("tenant");
    runtime.block_on(Case::new(&service, decoy.clone(), &[0xff, 0x0f, 0x01]));
    let others = std::sync::Mutex::new(vec![(
        decoy.clone(),
        runtime.block_on(snapshot(&service, &decoy)),
    )]);
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let outcomes = std::sync::Mutex::new((0u32, 0u32));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        proptest::collection::vec(any::<u16>(), ROLES..=ROLES),
        proptest::collection::vec(op(), 1..=max_ops),
    );
    let result = runner.run(&strategy, |(role_perms, ops)| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tenant = TenantId::new(format!("inv-{n}")).expect("tenant");
        let others_now = others.lock().map(|o| o.clone()).unwrap_or_default();
        runtime.block_on(async {
            let mut case = Case::new(&service, tenant.clone(), &role_perms).await;
            for op in &ops {
                case.step(op, &others_now).await?;
            }
            if let Ok(mut total) = outcomes.lock() {
                total.0 += case.outcomes.0;
                total.1 += case.outcomes.1;
            }
            let snap = snapshot(&service, &tenant).await;
            if let Ok(mut o) = others.lock() {
                // The bystanders: the decoy and the latest finished case's tenant (each costs
                // a snapshot per step).
                o.truncate(1);
                o.push((tenant, snap));
            }
            Ok(())
        })
    });
    drop(store);
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // Guard against a vacuous run where (nearly) every operation is refused.
    let (succeeded, total) = outcomes.lock().map(|o| *o).unwrap_or_default();
    eprintln!("invariants: {cases} cases, {total} operations, {succeeded} succeeded");
    assert!(
        succeeded * 5 >= total,
        "only {succeeded} of {total} operations succeeded"
    );
}
