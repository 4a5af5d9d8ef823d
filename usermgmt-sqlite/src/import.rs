//! `ImportStore` on SQLite: the import runs on one connection of the blocking pool, in an
//! immediate transaction (SQLite's single writer: other writes wait while it runs).

use async_trait::async_trait;
use tokio::sync::mpsc;
use usermgmt_core::model::{AuditEvent, TenantId};
use usermgmt_core::storage::{ImportCommand, ImportStore, ImportWrite, NewUser, WriteOutcome};
use usermgmt_core::{Error, Result};

use crate::SqliteStorage;
use crate::insert_many::insert_many;
use crate::pool::{commit, immediate};
use crate::users::replace_one;

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
                            let outcomes = write_rows(&tx, &tenant, &rows)?;
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

/// Writes rows in order: each run of new users as multi-row inserts, each replacement on its
/// own. The checks run in this transaction, so they also see the rows written before; a
/// refused row writes nothing (the checks come before any write, and SQLite has one writer).
fn write_rows(
    tx: &rusqlite::Transaction<'_>,
    tenant: &TenantId,
    rows: &[ImportWrite],
) -> Result<Vec<WriteOutcome>> {
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut run = Vec::new();
    let flush = |run: &mut Vec<(&NewUser, &AuditEvent)>, outcomes: &mut Vec<WriteOutcome>| {
        let written = insert_many(tx, run)?;
        outcomes.extend(written.into_iter().map(|taken| match taken {
            None => WriteOutcome::Written,
            Some(fields) => WriteOutcome::Taken(fields),
        }));
        run.clear();
        Ok::<(), Error>(())
    };
    for row in rows {
        match row {
            ImportWrite::Insert(new, audit) => {
                usermgmt_core::storage::ensure_tenant(tenant, &new.user.tenant_id)?;
                run.push((new, audit));
            }
            ImportWrite::Replace(change) => {
                flush(&mut run, &mut outcomes)?;
                outcomes.push(match replace_one(tx, tenant.as_str(), change) {
                    Ok(()) => WriteOutcome::Written,
                    Err(Error::Conflict { fields }) => WriteOutcome::Taken(fields),
                    Err(Error::VersionConflict { .. } | Error::NotFound(_)) => {
                        WriteOutcome::Changed
                    }
                    Err(other) => return Err(other),
                });
            }
        }
    }
    flush(&mut run, &mut outcomes)?;
    Ok(outcomes)
}
