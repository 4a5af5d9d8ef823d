//! Bulk import (SPEC §11): one long write the service feeds batch by batch, inside one
//! transaction (all-or-nothing, and a dry run that rolls back) or one per batch.

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::users::{NewUser, UserReplace};
use crate::error::Result;
use crate::model::{AuditEvent, TenantId};

/// One row's write in an import.
#[derive(Debug)]
pub enum ImportWrite {
    /// A new user and its creation event.
    Insert(NewUser, AuditEvent),
    /// A change to a stored user (an upsert's match), guarded by its version.
    Replace(UserReplace),
}

/// What became of one row's write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written.
    Written,
    /// Not written: these unique fields are taken (by stored users or earlier rows).
    Taken(Vec<String>),
    /// Not written: the user changed (or went) since the row was checked.
    Changed,
}

/// What the service asks of a running import.
#[derive(Debug)]
pub enum ImportCommand {
    /// Write these rows in order, each after checking its unique values (against stored
    /// users and the rows before it) and, for a replace, its version. The reply holds each
    /// row's outcome; a row not written changed nothing.
    Write {
        /// The rows.
        rows: Vec<ImportWrite>,
        /// Per row, what became of it.
        reply: oneshot::Sender<Vec<WriteOutcome>>,
    },
    /// Commit what was written so far and go on in a new transaction (per-batch mode).
    Checkpoint,
    /// The end: commit, or roll back everything not yet committed.
    Finish {
        /// Whether to commit.
        commit: bool,
    },
}

/// Bulk import.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Runs an import into `tenant`: takes commands until [`ImportCommand::Finish`]; if the
    /// channel closes first, rolls back what was not committed. On SQLite the import holds
    /// the write lock while it runs.
    async fn import_users(
        &self,
        tenant: &TenantId,
        commands: mpsc::Receiver<ImportCommand>,
    ) -> Result<()>;
}
