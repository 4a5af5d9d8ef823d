//! Export on PostgreSQL: every matching user in one repeatable-read snapshot, streamed in
//! batches.

use chrono::{DateTime, Utc};
use usermgmt_core::Result;
use usermgmt_core::filter::ListPlan;
use usermgmt_core::model::{TenantId, User};
use usermgmt_core::storage::BatchSink;

use crate::PgStorage;
use crate::codec::user_from_row;
use crate::error::map_err;
use crate::query::{Pg, USER_COLUMNS, build};

impl PgStorage {
    /// Reads an export plan into `sink` (see [`UserQueries::export_users`]).
    pub(crate) async fn export_into(
        &self,
        tenant: &TenantId,
        plan: ListPlan,
        now: DateTime<Utc>,
        batch: u32,
        sink: BatchSink,
    ) -> Result<()> {
        let batch = batch.max(1) as usize;
        // One repeatable-read transaction: the whole export sees one snapshot. The related
        // lists come with each row (the `lists` column, migration 14).
        let mut tx = self.begin().await?;
        // A slow reader leaves the connection idle inside its transaction: a server's
        // idle-in-transaction timeout must not end the export.
        sqlx::raw_sql(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
             SET LOCAL idle_in_transaction_session_timeout = 0",
        )
        .execute(&mut *tx)
        .await
        .map_err(map_err("starting an export"))?;
        let pushdown = self
            .pushdown_for(&plan.filters)
            .map(|layout| usermgmt_sql::Pushdown {
                layout,
                schema: None,
            });
        let m = usermgmt_sql::Matching::plan(tenant.as_str(), &plan, now).pushdown(pushdown);
        let from = usermgmt_sql::users_table(&Pg);
        let mut sql = build(&usermgmt_sql::page_query(
            &Pg,
            USER_COLUMNS,
            &from,
            &plan,
            &m,
        ));
        let mut rows = sql.build().persistent(false).fetch(&mut *tx);
        loop {
            let users = next_batch(&mut rows, batch).await?;
            if users.is_empty() || !sink.send(users).await {
                return Ok(()); // done, or the reader is gone
            }
        }
    }
}

/// Up to `size` users from an export's row stream (fewer at its end).
async fn next_batch(
    rows: &mut (impl futures_util::Stream<Item = sqlx::Result<sqlx::postgres::PgRow>> + Unpin),
    size: usize,
) -> Result<Vec<User>> {
    use futures_util::TryStreamExt;
    let mut users = Vec::with_capacity(size);
    while users.len() < size {
        match rows.try_next().await.map_err(map_err("exporting users"))? {
            Some(row) => users.push(user_from_row(&row)?),
            None => break,
        }
    }
    Ok(users)
}
