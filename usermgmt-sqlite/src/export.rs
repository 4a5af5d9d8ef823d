//! Export on SQLite: every matching user in one read transaction, in batches with their
//! related lists, through a connection set up for a long read.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use usermgmt_core::Result;
use usermgmt_core::filter::ListPlan;
use usermgmt_core::model::{TenantId, User};
use usermgmt_core::storage::BatchSink;

use crate::SqliteStorage;
use crate::codec::{USER_COLUMNS, user_from_row};
use crate::error::map_err;
use crate::query::{Lite, RolesForm, SearchMode, args, search_mode};
use crate::users::attach_learning;

impl SqliteStorage {
    /// Reads an export plan into `sink` (see [`UserQueries::export_users`]).
    pub(crate) async fn export_into(
        &self,
        tenant: &TenantId,
        plan: ListPlan,
        now: DateTime<Utc>,
        batch: u32,
        sink: BatchSink,
    ) -> Result<()> {
        let tenant = tenant.as_str().to_owned();
        let threshold = self.options.search_scan_threshold;
        let batch = batch.max(1) as usize;
        let attached = self.options.attached_enrollments.clone();
        self.pool
            .run_blocking(move |conn| {
                // A small page cache for the export (restored after, on every path): the data
                // are read through the memory map, so memory stays flat however large the table
                // (the cache would otherwise fill to its 32 MB with pages past the map).
                conn.execute_batch(EXPORT_PRAGMAS)
                    .map_err(map_err("starting an export"))?;
                let _restore = RestorePragmas(conn);
                export_rows(
                    conn,
                    &tenant,
                    &plan,
                    now,
                    threshold,
                    batch,
                    attached.as_ref(),
                    &sink,
                )
            })
            .await
    }
}

/// The connection settings of an export: a page cache of 2 MB (released), the largest map.
const EXPORT_PRAGMAS: &str =
    "PRAGMA cache_size = -2048; PRAGMA shrink_memory; PRAGMA mmap_size = 4294967296;";

/// Puts a connection's usual settings back when dropped (after an export, even one that
/// failed or panicked); a failure is logged, the export's outcome stands.
struct RestorePragmas<'a>(&'a Connection);

impl Drop for RestorePragmas<'_> {
    fn drop(&mut self) {
        if let Err(error) = self.0.execute_batch(crate::pool::CONNECTION_PRAGMAS) {
            tracing::warn!(%error, "restoring a connection's settings after an export");
        }
    }
}

/// The rows of an export plan into `sink`, in one read transaction.
#[allow(clippy::too_many_arguments)]
fn export_rows(
    conn: &Connection,
    tenant: &str,
    plan: &ListPlan,
    now: DateTime<Utc>,
    threshold: u32,
    batch: usize,
    attached: Option<&crate::AttachedEnrollments>,
    sink: &BatchSink,
) -> Result<()> {
    // One read transaction: the whole export sees one snapshot.
    let tx = conn
        .unchecked_transaction()
        .map_err(map_err("starting an export"))?;
    let pushdown = attach_learning(&tx, attached, &plan.filters)?;
    let mode = match &plan.filters.search {
        Some(term) => {
            search_mode(&tx, term, threshold).map_err(map_err("probing the search index"))?
        }
        None => SearchMode::Scan,
    };
    let m = usermgmt_sql::Matching::plan(tenant, plan, now)
        .pushdown(pushdown)
        .roles(RolesForm::Holders);
    let from = crate::query::from(&mode, None);
    let sql = usermgmt_sql::page_query(&Lite, USER_COLUMNS, &from, plan, &m);
    let mut stmt = tx
        .prepare(&sql.text())
        .map_err(map_err("preparing an export"))?;
    let mut rows = stmt.query(args(&sql)).map_err(map_err("exporting users"))?;
    let mut pending: Vec<(i64, User)> = Vec::with_capacity(batch);
    loop {
        let row = rows.next().map_err(map_err("exporting users"))?;
        if let Some(row) = row {
            pending.push(user_from_row(row).map_err(map_err("reading a user row"))??);
        }
        let done = row.is_none();
        if pending.len() == batch || (done && !pending.is_empty()) {
            let users = pending.drain(..).map(|(_, user)| user).collect();
            if !sink.send_blocking(users) {
                return Ok(()); // the reader is gone
            }
        }
        if done {
            return Ok(());
        }
    }
}
