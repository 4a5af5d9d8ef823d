//! `ImportStore` on SQLite: the import runs on one connection of the blocking pool, in an
//! immediate transaction (SQLite's single writer: other writes wait while it runs).

use async_trait::async_trait;
use tokio::sync::mpsc;
use usermgmt_core::model::TenantId;
use usermgmt_core::storage::{ImportCommand, ImportStore, ImportWrite, WriteOutcome};
use usermgmt_core::{Error, Result};

use crate::SqliteStorage;
use crate::pool::{commit, immediate};
use crate::users::{insert_one, replace_one};

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
                        Some(ImportCommand::Write { rows, reply }) => {
                            let mut outcomes = Vec::with_capacity(rows.len());
                            for row in &rows {
                                // The checks run in this transaction, so they also see the
                                // rows written before; a refused row writes nothing (the
                                // checks come before any write, and SQLite has one writer).
                                let written = match row {
                                    ImportWrite::Insert(new, audit) => {
                                        usermgmt_core::storage::ensure_tenant(
                                            &tenant,
                                            &new.user.tenant_id,
                                        )?;
                                        insert_one(&tx, new, audit)
                                    }
                                    ImportWrite::Replace(change) => {
                                        replace_one(&tx, tenant.as_str(), change)
                                    }
                                };
                                outcomes.push(match written {
                                    Ok(()) => WriteOutcome::Written,
                                    Err(Error::Conflict { fields }) => WriteOutcome::Taken(fields),
                                    Err(Error::VersionConflict { .. } | Error::NotFound(_)) => {
                                        WriteOutcome::Changed
                                    }
                                    Err(other) => return Err(other),
                                });
                            }
                            // A dropped receiver means the service gave up: it finishes or
                            // closes the channel next.
                            let _ = reply.send(outcomes);
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
