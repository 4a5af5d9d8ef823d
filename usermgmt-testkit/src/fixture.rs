//! A ready-to-use service over a store: a tenant, a super-admin, a manual clock.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use usermgmt_core::model::{Permission, PermissionRegistry, PermissionSet, TenantId, User};
use usermgmt_core::notify::DevNotifier;
use usermgmt_core::password::{Password, PasswordPolicy};
use usermgmt_core::service::{
    ClientInfo, CreateRole, CreateUser, LoginOutcome, LoginRequest, ThrottlePolicy,
};
use usermgmt_core::{Principal, ServiceConfig, UserService};

use crate::store::{ManualClock, TestStore};

/// The password every fixture user gets.
pub const PASSWORD: &str = "correct horse battery";

/// A service over a fresh store with a super-admin in tenant `t1`.
pub struct Fixture {
    /// The service (fast argon2 parameters, manual clock).
    pub service: UserService,
    /// The super-admin of `t1`.
    pub admin: Principal,
    /// The super-admin's id.
    pub admin_id: uuid::Uuid,
    /// Tenant `t1`.
    pub tenant: TenantId,
    /// The clock the service reads.
    pub clock: Arc<ManualClock>,
    /// The store (kept alive).
    pub store: TestStore,
    /// The account-flow messages the service sent.
    pub notifier: Arc<DevNotifier>,
}

/// The host application's permissions every fixture registers: an LMS's `course.view`
/// (reading), `course.create` and `grade.edit` (writing).
pub fn host_permissions() -> PermissionRegistry {
    PermissionRegistry::new()
        .register("course.view", "See courses")
        .and_then(|r| r.register_writing("course.create", "Create courses"))
        .and_then(|r| r.register_writing("grade.edit", "Edit grades"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A tenant id known to be valid.
pub fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap_or_else(|_| TenantId::default_tenant())
}

impl Fixture {
    /// Builds the fixture: clock at 2026-06-15 12:00 UTC, super-admin `admin@t1.test`.
    pub async fn new(store: TestStore) -> Self {
        let start = Utc
            .with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let clock = Arc::new(ManualClock::new(start));
        let config = ServiceConfig {
            password: PasswordPolicy::insecure_fast_for_tests(),
            // Every fixture login comes from one address: the per-client budget is tested
            // on its own.
            throttle: ThrottlePolicy {
                client_burst: 10_000,
                ..ThrottlePolicy::default()
            },
            permissions: host_permissions(),
            ..ServiceConfig::default()
        };
        let notifier = Arc::new(DevNotifier::default());
        let service = UserService::with_config(store.storage.clone(), config)
            .with_clock(clock.clone())
            .with_notifier(notifier.clone());
        let tenant = tenant("t1");
        let admin = service
            .bootstrap_super_admin(
                &tenant,
                "Root Admin",
                "admin@t1.test",
                Password::new(PASSWORD),
            )
            .await
            .unwrap_or_else(|e| panic!("bootstrap failed: {e}"));
        Self {
            service,
            admin: Principal::user(tenant.clone(), admin.id),
            admin_id: admin.id,
            tenant,
            clock,
            store,
            notifier,
        }
    }

    /// A minimal valid learner.
    pub fn learner(name: &str, email: &str) -> CreateUser {
        CreateUser {
            name: name.into(),
            email: Some(email.into()),
            is_learner: true,
            ..Default::default()
        }
    }

    /// Runs the start-up bootstrap of `t1`'s configured administrator again.
    pub async fn bootstrap_again(&self) -> User {
        self.service
            .bootstrap_super_admin(
                &self.tenant,
                "Root Admin",
                "admin@t1.test",
                Password::new(PASSWORD),
            )
            .await
            .unwrap_or_else(|e| panic!("bootstrap failed: {e}"))
    }

    /// Bootstraps the super-admin of a second tenant, `t2` ("Admin Two", admin@t2.test).
    pub async fn second_tenant_admin(&self) -> User {
        self.service
            .bootstrap_super_admin(
                &tenant("t2"),
                "Admin Two",
                "admin@t2.test",
                Password::new("password-two"),
            )
            .await
            .unwrap_or_else(|e| panic!("bootstrap of t2 failed: {e}"))
    }

    /// Creates a learner as the super-admin.
    pub async fn create(&self, name: &str, email: &str) -> User {
        self.service
            .create_user(&self.admin, Self::learner(name, email))
            .await
            .unwrap_or_else(|e| panic!("create {email}: {e}"))
    }

    /// A user principal in `tenant` holding exactly `permissions` through a fresh role.
    pub async fn principal_with(
        &self,
        label: &str,
        permissions: &[Permission],
    ) -> (Principal, User) {
        let role = self
            .service
            .create_role(
                &self.admin,
                CreateRole {
                    name: format!("{label}-role"),
                    description: None,
                    permissions: permissions.to_vec(),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("role {label}: {e}"));
        let input = CreateUser {
            name: label.into(),
            email: Some(format!("{label}@t1.test")),
            is_admin: true,
            roles: vec![role.name],
            ..Default::default()
        };
        let user = self
            .service
            .create_user(&self.admin, input)
            .await
            .unwrap_or_else(|e| panic!("user {label}: {e}"));
        (Principal::user(self.tenant.clone(), user.id), user)
    }

    /// Creates an active learner with a password (and the given username and phone).
    pub async fn create_with_password(
        &self,
        name: &str,
        email: &str,
        username: &str,
        phone: &str,
    ) -> User {
        let input = CreateUser {
            username: Some(username.into()),
            phone: Some(phone.into()),
            password: Some(Password::new(PASSWORD)),
            ..Self::learner(name, email)
        };
        self.service
            .create_user(&self.admin, input)
            .await
            .unwrap_or_else(|e| panic!("create {email}: {e}"))
    }

    /// Logs in to `t1` from a fixed client.
    pub async fn login(
        &self,
        identifier: &str,
        password: &str,
    ) -> usermgmt_core::Result<LoginOutcome> {
        let request = LoginRequest {
            identifier: identifier.into(),
            password: Password::new(password),
        };
        self.service
            .login(&self.tenant, request, Self::client())
            .await
    }

    /// The client every fixture login comes from.
    pub fn client() -> ClientInfo {
        ClientInfo {
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Testkit".into()),
            ip: "203.0.113.7".parse().ok(),
        }
    }

    /// Every permission the fixture's service knows (built-ins and [`host_permissions`]).
    pub fn all_permissions() -> PermissionSet {
        host_permissions().all()
    }

    /// A host permission the fixture registers (`course.view`, `course.create`,
    /// `grade.edit`).
    pub fn host(name: &str) -> Permission {
        Permission::new(name).unwrap_or_else(|e| panic!("{e}"))
    }
}
