//! An [`EnrollmentSource`] reading another service's learning database on SQLite (a separate
//! file, opened read-only), with a configurable table layout.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::OpenFlags;
use rusqlite::types::Value;
use usermgmt_core::filter::{EnrollmentMatch, UserFilters};
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{EnrollmentLayout, EnrollmentSource};
use usermgmt_core::{Error, Result, StorageError};
use uuid::Uuid;

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

    fn query(&self, filters: &UserFilters) -> (String, Vec<Value>, Option<u64>) {
        let l = &self.layout;
        let q = |name: &str| format!("\"{name}\"");
        let mut sql = format!(
            "SELECT DISTINCT {} FROM {} WHERE 1 = 1",
            q(&l.user_id),
            q(&l.table)
        );
        let mut params: Vec<Value> = Vec::new();
        let mut any_of = |sql: &mut String, column: &str, values: Vec<String>| {
            if !values.is_empty() {
                let marks = vec!["?"; values.len()].join(", ");
                sql.push_str(&format!(" AND {} IN ({marks})", q(column)));
                params.extend(values.into_iter().map(Value::Text));
            }
        };
        any_of(
            &mut sql,
            &l.status,
            filters
                .enrollment_status
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
        );
        any_of(
            &mut sql,
            &l.program_type,
            filters.enrolled_program_type.clone(),
        );
        any_of(
            &mut sql,
            &l.program_id,
            filters.enrolled_program_ids.clone(),
        );
        if let Some(min) = filters.progress_min {
            sql.push_str(&format!(" AND {} >= ?", q(&l.progress)));
            params.push(Value::Integer(i64::from(min)));
        }
        if let Some(max) = filters.progress_max {
            sql.push_str(&format!(" AND {} <= ?", q(&l.progress)));
            params.push(Value::Integer(i64::from(max)));
        }
        if let Some(after) = filters.last_learning_activity_after {
            // Whole seconds in the table: a time within a second compares by its floor.
            sql.push_str(&format!(" AND {} * 1000000 >= ?", q(&l.last_activity_at)));
            params.push(Value::Integer(after.timestamp_micros()));
        }
        (sql, params, filters.total_time_spent_min)
    }
}

#[async_trait]
impl EnrollmentSource for SqliteEnrollmentSource {
    async fn matching_users(
        &self,
        tenant: &TenantId,
        filters: &UserFilters,
    ) -> Result<EnrollmentMatch> {
        let conditions =
            filters.has_enrollment_conditions() || filters.total_time_spent_min.is_some();
        if filters.has_enrollments == Some(false) && conditions {
            return Ok(EnrollmentMatch::Only(Vec::new()));
        }
        let (mut sql, mut params, total_min) = self.query(filters);
        if let Some(column) = &self.layout.tenant_id {
            sql.push_str(&format!(" AND \"{column}\" = ?"));
            params.push(Value::Text(tenant.as_str().to_owned()));
        }
        if let Some(min) = total_min {
            let user = format!("\"{}\"", self.layout.user_id);
            sql = sql.replacen("SELECT DISTINCT", "SELECT", 1);
            sql.push_str(&format!(
                " GROUP BY {user} HAVING sum(\"{}\") >= ?",
                self.layout.time_spent_seconds
            ));
            params.push(Value::Integer(i64::try_from(min).unwrap_or(i64::MAX)));
        }
        let pool = self.pool.clone();
        let (handle_tx, handle_rx) = tokio::sync::oneshot::channel();
        let task = tokio::task::spawn_blocking(move || -> Result<Vec<Uuid>> {
            let conn = pool.get().map_err(|e| {
                Error::Storage(StorageError::new("opening the learning database", e))
            })?;
            let _ = handle_tx.send(conn.get_interrupt_handle());
            let mut stmt = conn
                .prepare_cached(&sql)
                .map_err(map_err("querying enrollments"))?;
            let texts = stmt
                .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                    r.get::<_, String>(0)
                })
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
                .map_err(map_err("querying enrollments"))?;
            Ok(texts.iter().filter_map(|t| t.parse().ok()).collect())
        });
        // If this future is dropped (the service's timeout), the guard interrupts the query so
        // the read stops at once instead of running on in the background.
        let _guard = InterruptOnDrop(handle_rx.await.ok());
        let ids = task
            .await
            .map_err(|e| Error::Storage(StorageError::new("querying enrollments", e)))??;
        Ok(if filters.has_enrollments == Some(false) {
            EnrollmentMatch::Except(ids)
        } else {
            EnrollmentMatch::Only(ids)
        })
    }
}
