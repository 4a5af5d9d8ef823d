//! `ImportStore` on PostgreSQL: one transaction (or one per batch); runs of new users are
//! checked for taken values in one query per field and written with one COPY; a change to a
//! stored user runs under a savepoint, so a refused one is undone alone.

use async_trait::async_trait;
use tokio::sync::mpsc;
use usermgmt_core::model::{AuditEvent, TenantId};
use usermgmt_core::storage::{ImportCommand, ImportStore, ImportWrite, NewUser, WriteOutcome};
use usermgmt_core::{Error, Result};

use crate::PgStorage;
use crate::error::map_err;
use crate::read::taken_in_batch;
use crate::tx::commit;
use crate::users::replace_one;

async fn savepoint(tx: &mut sqlx::PgConnection, sql: &'static str) -> Result<()> {
    sqlx::query(sql)
        .execute(tx)
        .await
        .map_err(map_err("an import savepoint"))?;
    Ok(())
}

/// Inserts a run of new users at once: one uniqueness query per field for the run (against
/// stored users and the run's earlier rows), then one COPY of the free ones.
async fn insert_run(
    tx: &mut sqlx::PgConnection,
    tenant: &TenantId,
    run: Vec<(NewUser, AuditEvent)>,
) -> Result<Vec<WriteOutcome>> {
    if run.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<&usermgmt_core::model::User> = run.iter().map(|(new, _)| &new.user).collect();
    let taken = taken_in_batch(&mut *tx, tenant.as_str(), &users).await?;
    let mut free = Vec::with_capacity(run.len());
    let mut outcomes = Vec::with_capacity(run.len());
    for (row, fields) in run.into_iter().zip(taken) {
        if fields.is_empty() {
            free.push(row);
            outcomes.push(WriteOutcome::Written);
        } else {
            outcomes.push(WriteOutcome::Taken(fields));
        }
    }
    crate::copy::insert_users(&mut *tx, &free).await?;
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
                                outcomes.extend(insert_run(&mut tx, tenant, run).await?);
                                outcomes.push(replace_row(&mut tx, tenant, &change).await?);
                            }
                        }
                    }
                    outcomes.extend(insert_run(&mut tx, tenant, inserts).await?);
                    // A dropped receiver means the service gave up: it finishes or closes
                    // the channel next.
                    let _ = reply.send(outcomes);
                }
                Some(ImportCommand::Checkpoint) => {
                    commit(tx).await?;
                    tx = self.begin().await?;
                }
                Some(ImportCommand::Finish { commit: true }) => return commit(tx).await,
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
