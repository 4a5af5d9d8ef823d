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

/// The ids (as text) of the users an enrollment filter set concerns, as SQL over the layout's
/// table (in `schema` when given, e.g. an attached database).
pub(crate) enum EnrollmentSql {
    /// Nobody matches (`has_enrollments=false` with other enrollment filters).
    Nobody,
    /// The users the query selects are the ones left (`except` false) or the ones removed
    /// (`except` true, for `has_enrollments=false`).
    Users {
        /// `SELECT <user id as text> FROM … WHERE …`.
        sql: String,
        /// Its parameters.
        params: Vec<Value>,
        /// Whether the selected users are the ones to leave out.
        except: bool,
    },
}

/// Builds the enrollment query implementing [`UserFilters::matches_enrollments`].
pub(crate) fn users_query(
    layout: &EnrollmentLayout,
    schema: Option<&str>,
    tenant: &str,
    filters: &UserFilters,
) -> EnrollmentSql {
    if filters.enrollment_filters_unsatisfiable() {
        return EnrollmentSql::Nobody;
    }
    let q = |name: &str| format!("\"{name}\"");
    let table = match schema {
        Some(schema) => format!("{}.{}", q(schema), q(&layout.table)),
        None => q(&layout.table),
    };
    let distinct = if filters.total_time_spent_min.is_some() {
        ""
    } else {
        "DISTINCT "
    };
    let mut sql = format!(
        "SELECT {distinct}{} AS uid FROM {table} WHERE 1 = 1",
        q(&layout.user_id)
    );
    let mut params: Vec<Value> = Vec::new();
    if let Some(column) = &layout.tenant_id {
        sql.push_str(&format!(" AND {} = ?", q(column)));
        params.push(Value::Text(tenant.to_owned()));
    }
    let mut any_of = |sql: &mut String, column: &str, values: Vec<String>| {
        if !values.is_empty() {
            let marks = vec!["?"; values.len()].join(", ");
            sql.push_str(&format!(" AND {} IN ({marks})", q(column)));
            params.extend(values.into_iter().map(Value::Text));
        }
    };
    any_of(
        &mut sql,
        &layout.status,
        filters
            .enrollment_status
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
    );
    any_of(
        &mut sql,
        &layout.program_type,
        filters.enrolled_program_type.clone(),
    );
    any_of(
        &mut sql,
        &layout.program_id,
        filters.enrolled_program_ids.clone(),
    );
    if let Some(min) = filters.progress_min {
        sql.push_str(&format!(" AND {} >= ?", q(&layout.progress)));
        params.push(Value::Integer(i64::from(min)));
    }
    if let Some(max) = filters.progress_max {
        sql.push_str(&format!(" AND {} <= ?", q(&layout.progress)));
        params.push(Value::Integer(i64::from(max)));
    }
    if let Some(after) = filters.last_learning_activity_after {
        // Whole seconds in the table: a time within a second compares by its floor.
        sql.push_str(&format!(
            " AND {} * 1000000 >= ?",
            q(&layout.last_activity_at)
        ));
        params.push(Value::Integer(after.timestamp_micros()));
    }
    if let Some(min) = filters.total_time_spent_min {
        sql.push_str(&format!(
            " GROUP BY {} HAVING sum({}) >= ?",
            q(&layout.user_id),
            q(&layout.time_spent_seconds)
        ));
        params.push(Value::Integer(i64::try_from(min).unwrap_or(i64::MAX)));
    }
    EnrollmentSql::Users {
        sql,
        params,
        except: filters.has_enrollments == Some(false),
    }
}

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
}

#[async_trait]
impl EnrollmentSource for SqliteEnrollmentSource {
    async fn matching_users(
        &self,
        tenant: &TenantId,
        filters: &UserFilters,
    ) -> Result<EnrollmentMatch> {
        let (sql, params, except) = match users_query(&self.layout, None, tenant.as_str(), filters)
        {
            EnrollmentSql::Nobody => return Ok(EnrollmentMatch::Only(Vec::new())),
            EnrollmentSql::Users {
                sql,
                params,
                except,
            } => (sql, params, except),
        };
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
        Ok(if except {
            EnrollmentMatch::Except(ids)
        } else {
            EnrollmentMatch::Only(ids)
        })
    }
}
