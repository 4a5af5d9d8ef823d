//! The storage's side of an import (or of any many-row change): one transaction fed batch
//! by batch, started with the first rows to write.

use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::storage::ImportCommand;

/// A task's outcome, its panic or cancellation as a storage error.
pub(super) fn joined(
    outcome: std::result::Result<Result<()>, tokio::task::JoinError>,
    what: &'static str,
) -> Result<()> {
    outcome.map_err(|e| Error::Storage(crate::error::StorageError::new(what, e)))?
}

/// The storage's side of an import, started with the first rows to write.
pub(super) struct Writer {
    storage: std::sync::Arc<dyn crate::storage::Storage>,
    tenant: crate::model::TenantId,
    running: Option<(
        mpsc::Sender<ImportCommand>,
        tokio::task::JoinHandle<Result<()>>,
    )>,
}

impl Writer {
    pub(super) fn idle(
        storage: std::sync::Arc<dyn crate::storage::Storage>,
        tenant: crate::model::TenantId,
    ) -> Self {
        Self {
            storage,
            tenant,
            running: None,
        }
    }

    /// Sends a command, starting the storage's import first if needed; a writer that
    /// stopped answers with its own error.
    pub(super) async fn send(&mut self, command: ImportCommand) -> Result<()> {
        let (commands, _) = self.running.get_or_insert_with(|| {
            let (commands, received) = mpsc::channel(2);
            let (storage, tenant) = (self.storage.clone(), self.tenant.clone());
            let task = tokio::spawn(async move { storage.import_users(&tenant, received).await });
            (commands, task)
        });
        if commands.send(command).await.is_err() {
            return Err(self.failure().await);
        }
        Ok(())
    }

    /// Why the writer stopped: its own error, or a generic one.
    pub(super) async fn failure(&mut self) -> Error {
        match self.running.take() {
            Some((_, task)) => match joined(task.await, "writing an import") {
                Err(error) => error,
                Ok(()) => Error::Storage(crate::error::StorageError::new(
                    "importing",
                    "the import's writer stopped",
                )),
            },
            None => Error::Storage(crate::error::StorageError::new(
                "importing",
                "the import's writer stopped",
            )),
        }
    }

    /// Ends the import: commit or roll back, and wait for the storage.
    pub(super) async fn finish(mut self, commit: bool) -> Result<()> {
        let Some((commands, task)) = self.running.take() else {
            return Ok(());
        };
        // A writer that already stopped reports its own error below.
        let _ = commands.send(ImportCommand::Finish { commit }).await;
        drop(commands);
        joined(task.await, "writing an import")
    }
}
