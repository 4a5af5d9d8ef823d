//! `ImportStore` on PostgreSQL: one transaction (or one per batch), each row under a savepoint
//! so a row whose unique values are taken is undone alone.

use async_trait::async_trait;
use tokio::sync::mpsc;
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{ImportCommand, ImportStore};
use usermgmt_core::{Error, Result};

use crate::PgStorage;
use crate::error::map_err;
use crate::tx::commit;
use crate::users::insert_one;

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
                Some(ImportCommand::Insert { rows, reply }) => {
                    let mut taken = Vec::with_capacity(rows.len());
                    for (new, audit) in &rows {
                        usermgmt_core::storage::ensure_tenant(tenant, &new.user.tenant_id)?;
                        savepoint(&mut tx, "SAVEPOINT import_row").await?;
                        match insert_one(&mut tx, new, audit).await {
                            Ok(()) => {
                                savepoint(&mut tx, "RELEASE SAVEPOINT import_row").await?;
                                taken.push(Vec::new());
                            }
                            Err(Error::Conflict { fields }) => {
                                savepoint(&mut tx, "ROLLBACK TO SAVEPOINT import_row").await?;
                                taken.push(fields);
                            }
                            Err(other) => return Err(other),
                        }
                    }
                    // A dropped receiver means the service gave up: it finishes or closes
                    // the channel next.
                    let _ = reply.send(taken);
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
