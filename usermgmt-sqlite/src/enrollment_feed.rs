//! The learning database's change feed, so the counting index can hold every enrollment
//! ([`EnrollmentFeed`]): triggers on the learning table write the tenant and user of each
//! changed row to `usermgmt_enrollment_changes`, numbered by an `AUTOINCREMENT` key (SQLite
//! commits one writer at a time, so numbers follow commit order). The triggers keep the last
//! [`KEPT_CHANGES`] entries; a reader further behind rebuilds.

use async_trait::async_trait;
use chrono::TimeZone;
use rusqlite::params;
use usermgmt_core::model::{Enrollment, TenantId};
use usermgmt_core::storage::{Batches, EnrollmentFeed, FeedChanges, MAX_FEED_IDS};
use usermgmt_core::{Error, Result, StorageError};
use uuid::Uuid;

use crate::enrollment_source::SqliteEnrollmentSource;
use crate::error::map_err;

/// Feed entries the triggers keep.
pub(crate) const KEPT_CHANGES: i64 = 200_000;

/// Enrollments per batch of a full read.
const BATCH: usize = 4_096;

const FEED: &str = "usermgmt_enrollment_changes";

impl SqliteEnrollmentSource {
    /// Installs the change feed in the learning database (a table and three triggers on the
    /// learning table; installing again replaces them, and every reader rebuilds). Afterwards the counting index keeps the enrollments in
    /// memory, follows every write (whichever program makes it) and answers enrollment
    /// filters without querying the table. Opens the file read-write for this once.
    pub fn install_change_feed(&self) -> Result<()> {
        let conn = rusqlite::Connection::open(self.path())
            .map_err(map_err("opening the learning database"))?;
        let layout = self.layout();
        let q = |name: &str| format!("\"{name}\"");
        let tenant = |row: &str| {
            layout
                .tenant_id
                .as_ref()
                .map_or("NULL".to_owned(), |c| format!("{row}.{}", q(c)))
        };
        let user = |row: &str| format!("{row}.{}", q(&layout.user_id));
        let record = |rows: &[&str]| {
            let rows: Vec<String> = rows
                .iter()
                .map(|row| format!("SELECT {} AS t, {} AS u", tenant(row), user(row)))
                .collect();
            // Rows without a user concern nobody; the oldest entries past the kept number go.
            format!(
                "INSERT INTO {FEED} (tenant_id, user_id) SELECT t, u FROM ({}) \
                 WHERE u IS NOT NULL; \
                 DELETE FROM {FEED} WHERE seq <= (SELECT max(seq) FROM {FEED}) - {KEPT_CHANGES};",
                rows.join(" UNION ALL ")
            )
        };
        let table = q(&layout.table);
        let mut ddl = format!(
            "BEGIN; CREATE TABLE IF NOT EXISTS {FEED} (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
             tenant_id TEXT, user_id TEXT NOT NULL);"
        );
        // Replaced, not kept: a changed layout gets triggers that write its columns.
        for (event, rows) in [
            ("INSERT", &["NEW"][..]),
            ("UPDATE", &["OLD", "NEW"][..]),
            ("DELETE", &["OLD"][..]),
        ] {
            let name = q(&trigger_name(&layout.table, event));
            ddl.push_str(&format!(
                " DROP TRIGGER IF EXISTS {name}; \
                 CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {} END;",
                record(rows)
            ));
        }
        // Every reader starts over: writes made while the feed was missing were not recorded.
        // (The entries go and the numbering moves on, so each reader finds a gap.)
        ddl.push_str(&format!(
            " INSERT INTO {FEED} (tenant_id, user_id) VALUES (NULL, ''); DELETE FROM {FEED}; COMMIT;"
        ));
        conn.execute_batch(&ddl)
            .map_err(map_err("installing the enrollment feed"))
    }

    /// Runs `work` on a connection of the pool, on a blocking thread.
    async fn with_conn<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let pool = self.pool().clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(|e| {
                Error::Storage(StorageError::new("opening the learning database", e))
            })?;
            work(&mut conn)
        })
        .await
        .map_err(|e| Error::Storage(StorageError::new("reading the learning database", e)))?
    }
}

/// Reads the rows of a [`usermgmt_sql::rows_query`], calling `each` per batch; false from
/// `each` stops.
fn read_rows(
    conn: &rusqlite::Connection,
    sql: &usermgmt_sql::Sql,
    mut each: impl FnMut(Vec<Enrollment>) -> bool,
) -> Result<()> {
    let mut statement = conn
        .prepare(&sql.text())
        .map_err(map_err("reading enrollments"))?;
    let mut rows = statement
        .query(crate::query::args(sql))
        .map_err(map_err("reading enrollments"))?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next().map_err(map_err("reading enrollments"))? {
        let text = |i: usize| {
            row.get_ref(i)
                .ok()
                .and_then(|v| v.as_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let number = |i: usize| row.get_ref(i).ok().and_then(|v| v.as_i64().ok());
        let activity = number(6).and_then(|s| chrono::Utc.timestamp_opt(s, 0).single());
        batch.extend(usermgmt_sql::enrollment_row(
            &text(0),
            text(1),
            text(2),
            &text(3),
            number(4).unwrap_or(0),
            number(5).unwrap_or(0),
            activity,
        )?);
        if batch.len() == BATCH && !each(std::mem::replace(&mut batch, Vec::with_capacity(BATCH))) {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        each(batch);
    }
    Ok(())
}

#[async_trait]
impl EnrollmentFeed for SqliteEnrollmentSource {
    async fn enrollment_feed_position(&self, _tenant: &TenantId) -> Result<Option<u64>> {
        let table = self.layout().table.clone();
        self.with_conn(move |conn| {
            if !installed(conn, &table)? {
                return Ok(None);
            }
            let position = position(conn)?;
            Ok(Some(u64::try_from(position).unwrap_or(0)))
        })
        .await
    }

    async fn enrollment_feed_changes(&self, tenant: &TenantId, since: u64) -> Result<FeedChanges> {
        let tenant = self
            .layout()
            .tenant_id
            .as_ref()
            .map(|_| tenant.as_str().to_owned());
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        let table = self.layout().table.clone();
        self.with_conn(move |conn| {
            // One read transaction: the position and the ids come from one snapshot.
            let tx = conn
                .transaction()
                .map_err(map_err("reading the enrollment feed"))?;
            if !installed(&tx, &table)? {
                return Ok(FeedChanges::Gap);
            }
            let position = position(&tx)?;
            let first: Option<i64> = tx
                .query_row(&format!("SELECT min(seq) FROM {FEED}"), [], |row| {
                    row.get(0)
                })
                .map_err(map_err("reading the enrollment feed"))?;
            // Entries after `since` were dropped, or the file went back (a restore).
            let first = first.unwrap_or(position.saturating_add(1));
            if position < since || first > since.saturating_add(1) {
                return Ok(FeedChanges::Gap);
            }
            let limit = i64::try_from(MAX_FEED_IDS).unwrap_or(i64::MAX) + 1;
            let mut statement = tx
                .prepare(&format!(
                    "SELECT DISTINCT user_id FROM {FEED} WHERE seq > ?1 AND seq <= ?2 \
                     AND (?3 IS NULL OR tenant_id = ?3) LIMIT ?4"
                ))
                .map_err(map_err("reading the enrollment feed"))?;
            let texts = statement
                .query_map(params![since, position, tenant, limit], |row| {
                    row.get::<_, String>(0)
                })
                .map_err(map_err("reading the enrollment feed"))?
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(map_err("reading the enrollment feed"))?;
            if texts.len() > MAX_FEED_IDS {
                return Ok(FeedChanges::Gap);
            }
            Ok(FeedChanges::Changed {
                position: u64::try_from(position).unwrap_or(0),
                ids: usermgmt_sql::feed_user_ids(&texts)?,
            })
        })
        .await
    }

    fn all_enrollments(&self, tenant: &TenantId) -> Batches<Enrollment> {
        let sql =
            usermgmt_sql::rows_query(&crate::query::Lite, self.layout(), tenant.as_str(), None);
        let source = self.clone();
        Batches::spawn(move |sink| async move {
            source
                .with_conn(move |conn| read_rows(conn, &sql, |batch| sink.send_blocking(batch)))
                .await
        })
    }

    async fn enrollments_of(&self, tenant: &TenantId, users: &[Uuid]) -> Result<Vec<Enrollment>> {
        let sql = usermgmt_sql::rows_query(
            &crate::query::Lite,
            self.layout(),
            tenant.as_str(),
            Some(users),
        );
        self.with_conn(move |conn| {
            let mut all = Vec::new();
            read_rows(conn, &sql, |batch| {
                all.extend(batch);
                true
            })?;
            Ok(all)
        })
        .await
    }
}

/// The name of the feed's trigger on `table` for `event`.
fn trigger_name(table: &str, event: &str) -> String {
    format!("usermgmt_feed_{table}_{}", event.to_lowercase())
}

/// Whether the feed is in place: its table and its three triggers on the learning table (a
/// table rebuilt by a migration loses its triggers: the feed would go quiet).
fn installed(conn: &rusqlite::Connection, table: &str) -> Result<bool> {
    let names: Vec<String> = ["INSERT", "UPDATE", "DELETE"]
        .iter()
        .map(|event| trigger_name(table, event))
        .collect();
    conn.query_row(
        "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1) \
              + (SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?2 \
                 AND name IN (?3, ?4, ?5)) = 4",
        rusqlite::params![FEED, table, names[0], names[1], names[2]],
        |row| row.get(0),
    )
    .map_err(map_err("reading the enrollment feed"))
}

/// The highest number the feed has given (0 before any).
fn position(conn: &rusqlite::Connection) -> Result<i64> {
    conn.query_row(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0)",
        [FEED],
        |row| row.get(0),
    )
    .map_err(map_err("reading the enrollment feed"))
}
