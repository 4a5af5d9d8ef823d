//! # usermgmt-sqlite
//!
//! The embedded default [`Storage`](usermgmt_core::storage::Storage) backend of `usermgmt`,
//! on SQLite (rusqlite, bundled SQLite with FTS5).
//!
//! - Versioned migrations are embedded and applied when the database is opened.
//! - WAL journal; a pool of connections whose work runs on the blocking thread pool, so
//!   SQLite never blocks the async executor.
//! - Substring search uses an FTS5 trigram index over one lower-cased search column: when
//!   a term's trigrams occur together in fewer than `search_scan_threshold` rows, those
//!   candidates drive the query and are re-checked exactly; otherwise (and for one- or
//!   two-character terms) the list scans, so neither case falls off a cliff.
//! - Unique values (email, phone, username, unique ID) are unique per tenant, ignoring case,
//!   enforced by unique indexes and reported as `Conflict` naming the field.
//!
//! ```no_run
//! # async fn demo() -> usermgmt_core::Result<()> {
//! use std::sync::Arc;
//! let storage = usermgmt_sqlite::SqliteStorage::open("users.db").await?;
//! let service = usermgmt_core::UserService::new(Arc::new(storage));
//! # Ok(()) }
//! ```

mod audit;
mod auth;
mod checkpoint;
mod codec;
mod enrollment_feed;
mod enrollment_source;
mod error;
mod events;
mod events_prune;
mod export;
mod feed;
mod import;
mod insert_many;
mod insights;
mod migrations;
mod notes;
mod oauth;
mod pool;
mod provisioning;
mod query;
mod read;
mod roles;
mod sessions;
mod tokens;
mod user_rows;
mod users;
mod webhooks;

use std::path::{Path, PathBuf};

use usermgmt_core::{Error, Result, StorageError};

pub use crate::enrollment_source::SqliteEnrollmentSource;
use crate::error::map_err;
use crate::pool::ConnectionPool;
pub use usermgmt_core::storage::EnrollmentLayout;

/// Options for opening a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Connections in the pool (default 8). Readers run in parallel under WAL; writers take
    /// turns.
    pub pool_size: u32,
    /// A learning database to evaluate the enrollment filters in the list query itself
    /// (push-down): attached read-only to every connection as `learning` when first needed.
    pub attached_enrollments: Option<AttachedEnrollments>,
    /// A search whose trigrams occur together in at least this many rows is answered by a
    /// scan instead of from the trigram index (default 10,000).
    pub search_scan_threshold: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            pool_size: 8,
            search_scan_threshold: 10_000,
            attached_enrollments: None,
        }
    }
}

/// A learning database file the storage attaches for enrollment push-down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedEnrollments {
    /// The learning database file (opened read-only).
    pub path: PathBuf,
    /// Where the enrollments are in it.
    pub layout: EnrollmentLayout,
    /// A list query evaluating enrollment filters that runs longer is interrupted, and the
    /// service answers without those filters (or fails, when strict).
    pub timeout: std::time::Duration,
}

/// The SQLite storage backend.
#[derive(Clone)]
pub struct SqliteStorage {
    pool: ConnectionPool,
    options: SqliteOptions,
    path: PathBuf,
    /// Serialises changes that take away a super admin across every service over this store
    /// (one process: SQLite is embedded).
    super_admin_changes: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The attached learning database, as the counting index follows it.
    learning: Option<SqliteEnrollmentSource>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish()
    }
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file at `path` with default options and
    /// applies pending migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the database with explicit options.
    pub async fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if options.pool_size == 0 {
            return Err(Error::invalid("pool_size", "must be at least 1"));
        }
        let setup_path = path.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut conn =
                rusqlite::Connection::open(&setup_path).map_err(map_err("opening the database"))?;
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .map_err(map_err("configuring the database"))?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(map_err("enabling WAL"))?;
            migrations::migrate(&mut conn).map_err(map_err("applying migrations"))?;
            Ok(())
        })
        .await
        .map_err(|e| Error::Storage(StorageError::new("opening the database", e)))??;
        let pool = ConnectionPool::open(&path, options.pool_size)?;
        let learning = match &options.attached_enrollments {
            Some(attached) => Some(SqliteEnrollmentSource::new(
                &attached.path,
                attached.layout.clone(),
            )?),
            None => None,
        };
        Ok(Self {
            pool,
            options,
            path,
            super_admin_changes: Default::default(),
            learning,
        })
    }

    /// The schema version of the open database.
    pub async fn schema_version(&self) -> Result<i64> {
        self.pool
            .run(|conn| {
                conn.query_row("PRAGMA user_version", [], |r| r.get(0))
                    .map_err(map_err("reading the schema version"))
            })
            .await
    }

    /// The schema version this crate migrates to.
    pub const LATEST_SCHEMA_VERSION: i64 = migrations::LATEST;

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
