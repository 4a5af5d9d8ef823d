//! The service itself: its configuration and the state every operation shares.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::count::{CountOptions, Counter};
use crate::filter::DEFAULT_MAX_PAGE_SIZE;
use crate::model::{GeoResolver, NoGeoResolver, PermissionRegistry};
use crate::password::PasswordPolicy;
use crate::storage::{EnrollmentSource, Storage};
use crate::validate::ValidationRules;

use super::pattern::UniqueIdPattern;
use super::throttle::{LoginGuard, ThrottlePolicy};
use crate::password::PasswordHash;

/// The hash verified against when a login names no account, so the answer takes as long.
pub(crate) type DummyHash = tokio::sync::OnceCell<PasswordHash>;

/// Lockout after failed logins.
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    /// Consecutive failures that lock the account (default 5).
    pub max_failed_attempts: u32,
    /// How long the lock lasts (default 15 minutes).
    pub lock_duration: chrono::Duration,
    /// A client address the user signed in from within this window (default 30 days) may
    /// pass the lock with the right password.
    pub known_client_window: chrono::Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        Self {
            max_failed_attempts: 5,
            lock_duration: chrono::Duration::minutes(15),
            known_client_window: chrono::Duration::days(30),
        }
    }
}

/// Session lifetimes.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    /// How long a login session lasts (default 7 days).
    pub lifetime: chrono::Duration,
    /// How long an impersonation session lasts (default 1 hour).
    pub impersonation_lifetime: chrono::Duration,
    /// `last_seen_at` is refreshed at most this often (default 1 minute).
    pub touch_interval: chrono::Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            lifetime: chrono::Duration::days(7),
            impersonation_lifetime: chrono::Duration::hours(1),
            touch_interval: chrono::Duration::minutes(1),
        }
    }
}

/// How account-flow tokens behave and where their links point (see [`UserService::send_password_reset`]).
#[derive(Debug, Clone)]
pub struct FlowOptions {
    /// How long an invitation works (default 7 days).
    pub invitation_ttl: chrono::Duration,
    /// How long a password-reset link works (default 1 hour).
    pub reset_ttl: chrono::Duration,
    /// How long a verification link works (default 24 hours).
    pub verification_ttl: chrono::Duration,
    /// How long an SMS verification code works (default 15 minutes).
    pub code_ttl: chrono::Duration,
    /// Wrong attempts after which a code is void (default 5).
    pub code_attempts: u32,
    /// Wrong attempts, over all of a user's codes in a day, after which no code of theirs is
    /// accepted until the day has passed (default 20).
    pub code_failures_per_day: u32,
    /// The public base URL links start with, e.g. `https://lms.example.com/admin` (default
    /// empty: links are paths). A link is `{link_base}/account/{kind}?token=…`, where the
    /// admin UI serves the page that completes the flow.
    pub link_base: String,
}

impl Default for FlowOptions {
    fn default() -> Self {
        Self {
            invitation_ttl: chrono::Duration::days(7),
            reset_ttl: chrono::Duration::hours(1),
            verification_ttl: chrono::Duration::hours(24),
            code_ttl: chrono::Duration::minutes(15),
            code_attempts: 5,
            code_failures_per_day: 20,
            link_base: String::new(),
        }
    }
}

impl FlowOptions {
    pub(crate) fn ttl(&self, kind: crate::model::TokenKind) -> chrono::Duration {
        match kind {
            crate::model::TokenKind::Invitation => self.invitation_ttl,
            crate::model::TokenKind::PasswordReset => self.reset_ttl,
            crate::model::TokenKind::Verification => self.verification_ttl,
        }
    }
}

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Password length rules and argon2id cost.
    pub password: PasswordPolicy,
    /// Rules that depend on deployment (default phone region).
    pub validation: ValidationRules,
    /// Largest accepted `page_size` (default 500).
    pub max_page_size: u32,
    /// Most ids one bulk delete accepts (default 10,000).
    pub max_bulk_ids: usize,
    /// Failed-login lockout.
    pub login: LoginPolicy,
    /// Session lifetimes.
    pub sessions: SessionPolicy,
    /// Pattern of generated unique IDs (default `ID-{YYYY}-{SEQ:6}`).
    pub unique_id_pattern: UniqueIdPattern,
    /// Bounds on concurrent password hashing and on login attempts per client.
    pub throttle: ThrottlePolicy,
    /// The counting index that answers totals (see [`crate::count`]).
    pub counting: CountOptions,
    /// Every permission the service knows: the built-ins and the host application's.
    pub permissions: PermissionRegistry,
    /// Account-flow token lifetimes and link base.
    pub flows: FlowOptions,
    /// Webhook delivery and outbox retention.
    pub webhooks: crate::events::WebhookPolicy,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            password: PasswordPolicy::default(),
            validation: ValidationRules {
                default_phone_region: None,
            },
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
            max_bulk_ids: 10_000,
            login: LoginPolicy::default(),
            sessions: SessionPolicy::default(),
            unique_id_pattern: UniqueIdPattern::default(),
            throttle: ThrottlePolicy::default(),
            counting: CountOptions::default(),
            permissions: PermissionRegistry::new(),
            flows: FlowOptions::default(),
            webhooks: crate::events::WebhookPolicy::default(),
        }
    }
}

/// The user-management service over a storage backend.
///
/// Cheap to clone; share one per process.
#[derive(Clone)]
pub struct UserService {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) config: Arc<ServiceConfig>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(super) geo: Arc<dyn GeoResolver>,
    pub(super) dummy_hash: Arc<DummyHash>,
    pub(super) guard: Arc<LoginGuard>,
    /// Serialises changes that remove a super admin (see `guards.rs`).
    pub(super) super_admin_changes: Arc<tokio::sync::Mutex<()>>,
    pub(super) enrollments: Option<(Arc<dyn EnrollmentSource>, EnrollmentOptions)>,
    pub(super) strict_pushdown: bool,
    /// Totals from the in-memory counting index.
    pub(super) counter: Arc<Counter>,
    /// Delivers account-flow messages.
    pub(super) notifier: Arc<dyn crate::notify::Notifier>,
    /// One import at a time (an import is one long write).
    pub(super) imports: Arc<tokio::sync::Semaphore>,
}

/// How the service treats its enrollment source.
#[derive(Debug, Clone)]
pub struct EnrollmentOptions {
    /// Longest wait for the source (default 2 s); slower answers count as failures.
    pub timeout: std::time::Duration,
    /// Fail the request (`enrollment_source_unavailable`) instead of skipping the enrollment
    /// filters when the source fails (default false).
    pub strict: bool,
}

impl Default for EnrollmentOptions {
    fn default() -> Self {
        Self {
            timeout: std::time::Duration::from_secs(2),
            strict: false,
        }
    }
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl UserService {
    /// A service with the given storage and default settings.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self::with_config(storage, ServiceConfig::default())
    }

    /// A service with the given storage and settings.
    pub fn with_config(storage: Arc<dyn Storage>, config: ServiceConfig) -> Self {
        Self {
            storage,
            guard: Arc::new(LoginGuard::new(&config.throttle, &config.password)),
            imports: Arc::new(tokio::sync::Semaphore::new(1)),
            counter: Arc::new(Counter::new(config.counting.clone())),
            super_admin_changes: Arc::new(tokio::sync::Mutex::new(())),
            config: Arc::new(config),
            clock: Arc::new(SystemClock),
            geo: Arc::new(NoGeoResolver),
            dummy_hash: Arc::new(DummyHash::new()),
            enrollments: None,
            strict_pushdown: false,
            notifier: Arc::new(crate::notify::DevNotifier::default()),
        }
    }

    /// Delivers account-flow messages (invitations, password resets, verifications) with
    /// `notifier` (default: a [`crate::notify::DevNotifier`], which only keeps them in
    /// memory).
    pub fn with_notifier(mut self, notifier: Arc<dyn crate::notify::Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the IP geolocation resolver used for new sessions (default: none).
    pub fn with_geo_resolver(mut self, geo: Arc<dyn GeoResolver>) -> Self {
        self.geo = geo;
        self
    }

    /// Evaluates the cross-service (enrollment) filters with `source`. Without a source they
    /// are skipped and named in `skipped_filters`; so they are when the source fails or is
    /// slower than `options.timeout`, unless `options.strict`.
    pub fn with_enrollment_source(
        mut self,
        source: Arc<dyn EnrollmentSource>,
        options: EnrollmentOptions,
    ) -> Self {
        self.enrollments = Some((source, options));
        self
    }

    /// Sets how enrollment failures are treated when the storage evaluates the enrollment
    /// filters itself (push-down) and no source is configured: `strict` makes them errors.
    pub fn with_enrollment_strictness(mut self, strict: bool) -> Self {
        self.strict_pushdown = strict;
        self
    }

    /// Refuses a `permission` filter that names a permission the registry does not hold
    /// (400 naming it): the stored grants of such a name are dormant and match nobody.
    pub(crate) fn check_permission_filter(
        &self,
        filters: &crate::filter::UserFilters,
    ) -> crate::error::Result<()> {
        match &filters.permission {
            Some(p) if !self.config.permissions.contains(p) => Err(crate::error::Error::invalid(
                "permission",
                format!("`{p}` is not a registered permission"),
            )),
            _ => Ok(()),
        }
    }

    /// Checks the plan's `permission` filter ([`UserService::check_permission_filter`]) and
    /// resolves its cross-service filters through the enrollment source (into
    /// `plan.enrollment`), or removes them; returns the names of skipped filters.
    pub(crate) async fn resolve_filters(
        &self,
        tenant: &crate::model::TenantId,
        plan: &mut crate::filter::ListPlan,
    ) -> crate::error::Result<Vec<String>> {
        self.check_permission_filter(&plan.filters)?;
        if !plan.filters.uses_cross_service() {
            return Ok(Vec::new());
        }
        if self.storage.pushes_down_enrollments() {
            return Ok(Vec::new());
        }
        let Some((source, options)) = &self.enrollments else {
            return Ok(plan.filters.skip_cross_service());
        };
        let failure = match tokio::time::timeout(
            options.timeout,
            source.matching_users(tenant, &plan.filters),
        )
        .await
        {
            Ok(Ok(matched)) => {
                plan.enrollment = Some(matched);
                plan.filters = std::mem::take(&mut plan.filters).without_cross_service();
                return Ok(Vec::new());
            }
            Ok(Err(error)) => format!(
                "{error}: {}",
                std::error::Error::source(&error)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            ),
            Err(_) => format!("no answer within {:?}", options.timeout),
        };
        tracing::warn!(reason = %failure, "enrollment source failed");
        if options.strict {
            return Err(crate::error::Error::EnrollmentSourceUnavailable(failure));
        }
        Ok(plan.filters.skip_cross_service())
    }

    /// Whether enrollment failures are errors rather than skipped filters.
    pub(crate) fn strict_enrollments(&self) -> bool {
        self.strict_pushdown
            || self
                .enrollments
                .as_ref()
                .is_some_and(|(_, options)| options.strict)
    }

    /// The settings in force.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Builds a tenant's counting index ahead of its first counted request (a server calls
    /// it at start-up); false when the store keeps no change feed.
    pub async fn warm_counts(&self, tenant: &crate::model::TenantId) -> crate::error::Result<bool> {
        let warm = self.counter.warm(self.storage.as_ref(), tenant).await?;
        self.warm_enrollments(tenant).await;
        Ok(warm)
    }

    /// The size of a tenant's counting index, once built.
    pub fn count_index_size(
        &self,
        tenant: &crate::model::TenantId,
    ) -> Option<crate::count::IndexSize> {
        self.counter.size(tenant)
    }

    /// Field errors for a `page` (from 1) and `page_size` (1 to the configured maximum).
    pub(crate) fn check_page(&self, page: u32, page_size: u32) -> crate::error::FieldErrors {
        let mut errors = crate::error::FieldErrors::new();
        if page == 0 || page > crate::filter::MAX_PAGE {
            errors.add(
                "page",
                format!("must be between 1 and {}", crate::filter::MAX_PAGE),
            );
        }
        if page_size == 0 || page_size > self.config.max_page_size {
            errors.add(
                "page_size",
                format!("must be between 1 and {}", self.config.max_page_size),
            );
        }
        errors
    }

    /// Hashes a password off the executor, within the bound on concurrent hashing.
    pub(crate) async fn hash_password(
        &self,
        password: &crate::password::Password,
    ) -> crate::error::Result<crate::password::PasswordHash> {
        let plain = password.clone();
        self.with_hashing("hashing a password", move |policy, memory| {
            policy.hash_blocking(&plain, memory)
        })
        .await?
    }

    /// Verifies a password off the executor, within the bound on concurrent hashing.
    pub(crate) async fn verify_password(
        &self,
        password: &crate::password::Password,
        hash: &crate::password::PasswordHash,
    ) -> crate::error::Result<bool> {
        let (plain, hash) = (password.clone(), hash.clone());
        self.with_hashing("verifying a password", move |policy, memory| {
            policy.verify_blocking(&plain, &hash, memory)
        })
        .await
    }

    /// Runs argon2 work on the blocking pool while holding a hashing slot, in that slot's
    /// reused working memory.
    pub(super) async fn with_hashing<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl FnOnce(&crate::password::PasswordPolicy, &mut crate::password::HashMemory) -> T
        + Send
        + 'static,
    ) -> crate::error::Result<T> {
        let _slot = self.guard.hashing_slot().await?;
        let mut memory = self.guard.take_memory();
        let policy = self.config.password.clone();
        let (output, memory) = tokio::task::spawn_blocking(move || {
            let output = work(&policy, &mut memory);
            (output, memory)
        })
        .await
        .map_err(|e| crate::error::Error::Storage(crate::error::StorageError::new(what, e)))?;
        self.guard.return_memory(memory);
        Ok(output)
    }

    /// How many password hashes may run at once (from [`ThrottlePolicy::hashing_memory_mib`]
    /// and the argon2 memory cost).
    pub fn hashing_slots(&self) -> usize {
        self.guard.hashing_slots()
    }

    /// The underlying storage.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }
}
