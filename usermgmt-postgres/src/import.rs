//! `ImportStore` on PostgreSQL: one transaction (or one per batch); runs of new users are
//! checked for taken values in one query per field and written thousands at a time; a change
//! to a stored user runs under a savepoint, so a refused one is undone alone.

use async_trait::async_trait;
use tokio::sync::mpsc;
use usermgmt_core::model::{AuditEvent, TenantId};
use usermgmt_core::storage::{ImportCommand, ImportStore, ImportWrite, NewUser, WriteOutcome};
use usermgmt_core::{Error, Result};

use crate::PgStorage;
use crate::error::map_err;
use crate::read::{Claimed, taken_in_batch};
use crate::tx::commit;
use crate::users::replace_one;

async fn savepoint(tx: &mut sqlx::PgConnection, sql: &'static str) -> Result<()> {
    sqlx::query(sql)
        .execute(tx)
        .await
        .map_err(map_err("an import savepoint"))?;
    Ok(())
}

/// New users accepted and not yet written: written together once there are
/// [`FLUSH_ROWS`], or before anything that must see them (a change to a stored user, a
/// commit) — large statements, so the per-statement cost is paid per thousands of users.
#[derive(Default)]
struct Buffered {
    rows: Vec<(NewUser, AuditEvent)>,
    claimed: Claimed,
    /// Users this transaction wrote, and how many it had written at its last `ANALYZE`.
    written: usize,
    analyzed_at: usize,
}

/// Users written in one transaction before the first `ANALYZE` of it.
const ANALYZE_FROM: usize = 10_000;

/// Rows written per flush of the buffer.
const FLUSH_ROWS: usize = 5_000;

impl Buffered {
    async fn flush(&mut self, tx: &mut sqlx::PgConnection) -> Result<()> {
        if !self.rows.is_empty() {
            crate::copy::insert_users(&mut *tx, &self.rows).await?;
            self.written += self.rows.len();
        }
        // The planner's statistics describe the table before the import: a table grown
        // tenfold inside this transaction is still planned as its old size, and the
        // uniqueness queries then read the whole tenant (O(n) each: 2,550 rows/s at 1M).
        // `ANALYZE` inside the transaction counts its own rows; it runs each time the users
        // written have doubled, so about log2(n / 10,000) times.
        if self.written >= ANALYZE_FROM.max(self.analyzed_at * 2) {
            sqlx::query("ANALYZE users")
                .execute(&mut *tx)
                .await
                .map_err(map_err("analyzing users during an import"))?;
            self.analyzed_at = self.written;
        }
        self.rows.clear();
        // Written now: the stored users answer for these values from here on.
        self.claimed.clear();
        Ok(())
    }
}

/// Accepts a run of new users: one uniqueness query per field for the run (against stored
/// users, buffered ones and the run's earlier rows); the free ones join the buffer.
async fn insert_run(
    tx: &mut sqlx::PgConnection,
    tenant: &TenantId,
    run: Vec<(NewUser, AuditEvent)>,
    buffered: &mut Buffered,
) -> Result<Vec<WriteOutcome>> {
    if run.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<&usermgmt_core::model::User> = run.iter().map(|(new, _)| &new.user).collect();
    let taken = taken_in_batch(&mut *tx, tenant.as_str(), &users, &mut buffered.claimed).await?;
    let mut outcomes = Vec::with_capacity(run.len());
    for (row, fields) in run.into_iter().zip(taken) {
        if fields.is_empty() {
            buffered.rows.push(row);
            outcomes.push(WriteOutcome::Written);
        } else {
            outcomes.push(WriteOutcome::Taken(fields));
        }
    }
    if buffered.rows.len() >= FLUSH_ROWS {
        buffered.flush(tx).await?;
    }
    Ok(outcomes)
}

/// Replaces one user under a savepoint, so a refused change is undone alone.
async fn replace_row(
    tx: &mut sqlx::PgConnection,
    tenant: &TenantId,
    change: &usermgmt_core::storage::UserReplace,
) -> Result<WriteOutcome> {
    savepoint(&mut *tx, "SAVEPOINT import_row").await?;
    let outcome = match replace_one(&mut *tx, tenant.as_str(), change).await {
        Ok(()) => WriteOutcome::Written,
        Err(Error::Conflict { fields }) => WriteOutcome::Taken(fields),
        Err(Error::VersionConflict { .. } | Error::NotFound(_)) => WriteOutcome::Changed,
        Err(other) => return Err(other),
    };
    let end = if outcome == WriteOutcome::Written {
        "RELEASE SAVEPOINT import_row"
    } else {
        "ROLLBACK TO SAVEPOINT import_row"
    };
    savepoint(&mut *tx, end).await?;
    Ok(outcome)
}

#[async_trait]
impl ImportStore for PgStorage {
    async fn import_users(
        &self,
        tenant: &TenantId,
        mut commands: mpsc::Receiver<ImportCommand>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut buffered = Buffered::default();
        loop {
            match commands.recv().await {
                Some(ImportCommand::Write { rows, reply }) => {
                    let mut outcomes = Vec::with_capacity(rows.len());
                    let mut inserts = Vec::new();
                    for row in rows {
                        match row {
                            ImportWrite::Insert(new, audit) => {
                                usermgmt_core::storage::ensure_tenant(tenant, &new.user.tenant_id)?;
                                inserts.push((new, audit));
                            }
                            ImportWrite::Replace(change) => {
                                let run = std::mem::take(&mut inserts);
                                outcomes
                                    .extend(insert_run(&mut tx, tenant, run, &mut buffered).await?);
                                // The change is checked against every user written before it.
                                buffered.flush(&mut tx).await?;
                                outcomes.push(replace_row(&mut tx, tenant, &change).await?);
                            }
                        }
                    }
                    outcomes.extend(insert_run(&mut tx, tenant, inserts, &mut buffered).await?);
                    // A dropped receiver means the service gave up: it finishes or closes
                    // the channel next.
                    let _ = reply.send(outcomes);
                }
                Some(ImportCommand::Checkpoint) => {
                    buffered.flush(&mut tx).await?;
                    commit(tx).await?;
                    tx = self.begin().await?;
                }
                Some(ImportCommand::Finish { commit: true }) => {
                    buffered.flush(&mut tx).await?;
                    return commit(tx).await;
                }
                Some(ImportCommand::Finish { commit: false }) | None => {
                    return tx
                        .rollback()
                        .await
                        .map_err(map_err("rolling an import back"));
                }
            }
        }
    }
}
