//! `ImportStore` on PostgreSQL: one transaction (or one per batch), each row under a savepoint
//! so a row whose unique values are taken is undone alone.

use async_trait::async_trait;
use tokio::sync::mpsc;
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{ImportCommand, ImportStore, ImportWrite, WriteOutcome};
use usermgmt_core::{Error, Result};

use crate::PgStorage;
use crate::error::map_err;
use crate::tx::commit;
use crate::users::{insert_one, replace_one};

async fn savepoint(tx: &mut sqlx::PgConnection, sql: &'static str) -> Result<()> {
    sqlx::query(sql)
        .execute(tx)
        .await
        .map_err(map_err("an import savepoint"))?;
    Ok(())
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
                    for row in &rows {
                        savepoint(&mut tx, "SAVEPOINT import_row").await?;
                        let written = match row {
                            ImportWrite::Insert(new, audit) => {
                                usermgmt_core::storage::ensure_tenant(tenant, &new.user.tenant_id)?;
                                insert_one(&mut tx, new, audit).await
                            }
                            ImportWrite::Replace(change) => {
                                replace_one(&mut tx, tenant.as_str(), change).await
                            }
                        };
                        let outcome = match written {
                            Ok(()) => WriteOutcome::Written,
                            Err(Error::Conflict { fields }) => WriteOutcome::Taken(fields),
                            Err(Error::VersionConflict { .. } | Error::NotFound(_)) => {
                                WriteOutcome::Changed
                            }
                            Err(other) => return Err(other),
                        };
                        let end = if outcome == WriteOutcome::Written {
                            "RELEASE SAVEPOINT import_row"
                        } else {
                            "ROLLBACK TO SAVEPOINT import_row"
                        };
                        savepoint(&mut tx, end).await?;
                        outcomes.push(outcome);
                    }
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
