//! An [`EnrollmentSource`] reading another service's learning database on SQLite (a separate
//! file, opened read-only), with a configurable table layout.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::OpenFlags;
use usermgmt_core::filter::{EnrollmentMatch, UserFilters};
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{EnrollmentLayout, EnrollmentSource};
use usermgmt_core::{Error, Result, StorageError};

use crate::error::map_err;

/// Interrupts a running SQLite query when dropped (harmless once the query has finished).
struct InterruptOnDrop(Option<rusqlite::InterruptHandle>);

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.interrupt();
        }
    }
}

/// Enrollments from a learning database file, read-only. Connections open on first use, so a
/// missing file or table only makes the queries fail (and the service skip the filters).
#[derive(Clone)]
pub struct SqliteEnrollmentSource {
    pool: Pool<SqliteConnectionManager>,
    layout: EnrollmentLayout,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteEnrollmentSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteEnrollmentSource")
            .field("path", &self.path)
            .field("layout", &self.layout)
            .finish()
    }
}

impl SqliteEnrollmentSource {
    /// A source over the learning database at `path` with this layout.
    pub fn new(path: impl AsRef<Path>, layout: EnrollmentLayout) -> Result<Self> {
        layout.validate()?;
        let path = path.as_ref().to_path_buf();
        let manager = SqliteConnectionManager::file(&path).with_flags(
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        );
        // Opening a local file works at once or not at all: do not retry for long.
        let pool = Pool::builder()
            .max_size(4)
            .min_idle(Some(0))
            .connection_timeout(std::time::Duration::from_millis(500))
            .build_unchecked(manager);
        Ok(Self { pool, layout, path })
    }

    /// The learning database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the enrollments are in it.
    pub fn layout(&self) -> &EnrollmentLayout {
        &self.layout
    }

    pub(crate) fn pool(&self) -> &Pool<SqliteConnectionManager> {
        &self.pool
    }
}

#[async_trait]
impl EnrollmentSource for SqliteEnrollmentSource {
    async fn matching_users(
        &self,
        tenant: &TenantId,
        filters: &UserFilters,
    ) -> Result<EnrollmentMatch> {
        let Some((sql, except)) = usermgmt_sql::source_query(
            &crate::query::Lite,
            &self.layout,
            tenant.as_str(),
            &filters.enrollment,
        ) else {
            return Ok(EnrollmentMatch::Only(Vec::new()));
        };
        let pool = self.pool.clone();
        let (handle_tx, handle_rx) = tokio::sync::oneshot::channel();
        let task = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            let conn = pool.get().map_err(|e| {
                Error::Storage(StorageError::new("opening the learning database", e))
            })?;
            let _ = handle_tx.send(conn.get_interrupt_handle());
            let mut stmt = conn
                .prepare_cached(&sql.text())
                .map_err(map_err("querying enrollments"))?;
            let texts = stmt
                .query_map(crate::query::args(&sql), |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(map_err("querying enrollments"))?;
            Ok(texts)
        });
        // If this future is dropped (the service's timeout), the guard interrupts the query so
        // the read stops at once instead of running on in the background.
        let _guard = InterruptOnDrop(handle_rx.await.ok());
        let texts = task
            .await
            .map_err(|e| Error::Storage(StorageError::new("querying enrollments", e)))??;
        Ok(EnrollmentMatch::from_texts(except, &texts))
    }

    fn feed(&self) -> Option<std::sync::Arc<dyn usermgmt_core::storage::EnrollmentFeed>> {
        Some(std::sync::Arc::new(self.clone()))
    }
}
