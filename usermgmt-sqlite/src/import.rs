//! `ImportStore` on SQLite: the import runs on one connection of the blocking pool, in an
//! immediate transaction (SQLite's single writer: other writes wait while it runs).

use async_trait::async_trait;
use tokio::sync::mpsc;
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{ImportCommand, ImportStore};
use usermgmt_core::{Error, Result};

use crate::SqliteStorage;
use crate::pool::{commit, immediate};
use crate::users::insert_one;

#[async_trait]
impl ImportStore for SqliteStorage {
    async fn import_users(
        &self,
        tenant: &TenantId,
        mut commands: mpsc::Receiver<ImportCommand>,
    ) -> Result<()> {
        let tenant = tenant.clone();
        self.pool
            .run_blocking(move |conn| {
                let mut tx = immediate(conn)?;
                loop {
                    match commands.blocking_recv() {
                        Some(ImportCommand::Insert { rows, reply }) => {
                            let mut taken = Vec::with_capacity(rows.len());
                            for (new, audit) in &rows {
                                usermgmt_core::storage::ensure_tenant(
                                    &tenant,
                                    &new.user.tenant_id,
                                )?;
                                // The check runs in this transaction, so it also sees the rows
                                // inserted before it; a conflict writes nothing.
                                match insert_one(&tx, new, audit) {
                                    Ok(()) => taken.push(Vec::new()),
                                    Err(Error::Conflict { fields }) => taken.push(fields),
                                    Err(other) => return Err(other),
                                }
                            }
                            // A dropped receiver means the service gave up: it finishes or
                            // closes the channel next.
                            let _ = reply.send(taken);
                        }
                        Some(ImportCommand::Checkpoint) => {
                            commit(tx)?;
                            tx = immediate(conn)?;
                        }
                        Some(ImportCommand::Finish { commit: true }) => return commit(tx),
                        Some(ImportCommand::Finish { commit: false }) | None => {
                            return tx
                                .rollback()
                                .map_err(crate::error::map_err("rolling an import back"));
                        }
                    }
                }
            })
            .await
    }
}
