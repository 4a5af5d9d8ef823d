//! Bulk import (SPEC §11): one long write the service feeds batch by batch, inside one
//! transaction (all-or-nothing, and a dry run that rolls back) or one per batch.

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::users::NewUser;
use crate::error::Result;
use crate::model::{AuditEvent, TenantId};

/// What the service asks of a running import.
#[derive(Debug)]
pub enum ImportCommand {
    /// Insert these users in order, each after checking its unique values (against stored
    /// users and those inserted before it in the import). The reply holds, per row, the
    /// fields already taken: empty when the row was inserted, else it was not.
    Insert {
        /// The users and their audit events.
        rows: Vec<(NewUser, AuditEvent)>,
        /// Per row, the taken fields.
        reply: oneshot::Sender<Vec<Vec<String>>>,
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
