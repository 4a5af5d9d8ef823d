//! # usermgmt-postgres
//!
//! The production [`Storage`](usermgmt_core::storage::Storage) backend of `usermgmt`, on
//! PostgreSQL through sqlx (postgres feature only; no sqlx type appears in this API).
//!
//! - A connection pool; versioned migrations embedded in the crate and applied on connect.
//! - Substring search over one lower-cased column indexed with `pg_trgm` (the migration
//!   creates the extension); the planner chooses between the index and a scan.
//! - Case-insensitive per-tenant uniqueness by unique indexes, reported as `Conflict{field}`
//!   by constraint name.
//! - Every table carries `tenant_id` and every primary key and unique index includes it, so
//!   the schema can be distributed by tenant (Citus-style).
//!
//! ```no_run
//! # async fn demo() -> usermgmt_core::Result<()> {
//! use std::sync::Arc;
//! let storage = usermgmt_postgres::PgStorage::connect("postgres://localhost/usermgmt").await?;
//! let service = usermgmt_core::UserService::new(Arc::new(storage));
//! # Ok(()) }
//! ```

mod audit;
mod auth;
mod codec;
mod copy;
mod enrollment_feed;
mod enrollment_source;
mod error;
mod events;
mod export;
mod feed;
mod import;
mod insights;
mod notes;
mod oauth;
mod provisioning;
mod query;
mod read;
mod roles;
mod sessions;
mod tokens;
mod tx;
mod users;
mod webhooks;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use usermgmt_core::{Error, Result, StorageError};

pub use crate::enrollment_source::PgEnrollmentSource;
use crate::error::map_err;
pub use usermgmt_core::storage::EnrollmentLayout;

/// Options for connecting.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most pooled connections (default 10).
    pub max_connections: u32,
    /// How long to wait for a pooled connection (default 10 s).
    pub acquire_timeout: Duration,
    /// The learning data's enrollments table in this same database: the enrollment filters
    /// are then evaluated inside the list query (push-down).
    pub enrollments_in_database: Option<EnrollmentLayout>,
    /// With push-down, a list query running longer is cancelled and the service answers
    /// without the enrollment filters (default 2 s).
    pub enrollments_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
            enrollments_in_database: None,
            enrollments_timeout: Duration::from_secs(2),
        }
    }
}

/// A session-level advisory lock held by its own connection; dropping it closes the
/// connection (in the background when a runtime is at hand), which releases the lock.
pub(crate) struct AdvisoryLock(pub(crate) Option<sqlx::PgConnection>);

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = sqlx::Connection::close(conn).await;
            });
        }
    }
}

/// The PostgreSQL storage backend.
#[derive(Clone, Debug)]
pub struct PgStorage {
    pool: PgPool,
    pushdown: Option<EnrollmentLayout>,
    pushdown_timeout: Duration,
    /// The learning table pushed down to, as the counting index follows it.
    learning: Option<PgEnrollmentSource>,
}

impl PgStorage {
    /// Connects with default options and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, PgOptions::default()).await
    }

    /// Connects with explicit options and applies pending migrations.
    pub async fn connect_with(url: &str, options: PgOptions) -> Result<Self> {
        let connect: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| {
            Error::Storage(StorageError::new("parsing the database URL", e))
        })?;
        // Statements are prepared once per connection, and after five runs PostgreSQL may
        // switch to a generic plan that ignores the bound values (a filter on
        // `status = 'active'` planned as if selective: 1.7× slower counts at 1M users). So
        // every query whose plan depends on its values — lists, counts, statistics, facets,
        // the change feed — is sent unnamed (`persistent(false)`) and planned with its values
        // at each run, while look-ups by key (sessions, grants, one user) stay prepared: with
        // `plan_cache_mode = force_custom_plan` for everything, planning cost a guarded
        // request ~0.5 ms (`benches/guard.rs`).
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(true)
            .connect_with(connect)
            .await
            .map_err(map_err("connecting to PostgreSQL"))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| Error::Storage(StorageError::new("applying migrations", e)))?;
        if let Some(layout) = &options.enrollments_in_database {
            layout.validate()?;
        }
        let learning = options
            .enrollments_in_database
            .clone()
            .map(|layout| PgEnrollmentSource::over(pool.clone(), layout));
        Ok(Self {
            pool,
            pushdown: options.enrollments_in_database,
            pushdown_timeout: options.enrollments_timeout,
            learning,
        })
    }

    /// Whether this storage's connections to PostgreSQL are encrypted (TLS). The URL's
    /// `sslmode` decides: `disable`; `prefer` (the default: TLS when the server offers it,
    /// certificate unchecked); `require` (TLS, certificate unchecked); `verify-ca` (TLS, the
    /// certificate chains to `sslrootcert` or a public root); `verify-full` (also the host
    /// name). `sslrootcert=PATH` names the CA file; `sslcert`/`sslkey` a client certificate.
    pub async fn uses_tls(&self) -> Result<bool> {
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err("reading the connection's TLS state"))
    }

    /// The highest applied migration version.
    pub async fn schema_version(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err("reading the schema version"))
    }
}
