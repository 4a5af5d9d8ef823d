//! Bulk import (SPEC §11): users from CSV (the export's own columns, so an export
//! re-imports) or JSON Lines (the user JSON), read as a stream, validated like a create,
//! permission-checked like a create (no escalation through imported roles), and written by
//! the storage in one transaction (all-or-nothing; a dry run rolls it back) or one per batch.

use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncRead;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::access::Actor;
use super::core::UserService;
use super::import_rows::{ImportOptions, ParsedRow, Secret, read_rows};
use super::inputs::CreateUser;
use super::new_user::new_user_record;
use crate::error::{Error, FieldErrors, Result};
use crate::model::{FieldChange, Permission, Status};
use crate::password::{Password, PasswordHash};
use crate::principal::Principal;
use crate::storage::{ImportCommand, NewUser};

/// Rows the service hands the storage at a time (and commits at a time, per batch).
pub const IMPORT_BATCH: usize = 500;

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RowReport {
    /// The row's line in the input (1 is a CSV file's header).
    pub line: u64,
    /// The new user's id when the row is valid (created once the import commits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The row's errors by field, when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub errors: Option<FieldErrors>,
}

/// The outcome of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportSummary {
    /// The id every created user's audit event carries (`import`).
    pub batch_id: Uuid,
    /// Rows read.
    pub rows: u64,
    /// Users written (0 for a dry run, or when an all-or-nothing import had an error).
    pub created: u64,
    /// Rows with errors.
    pub invalid: u64,
    /// Whether the valid rows were committed.
    pub committed: bool,
    /// Whether it was a dry run.
    pub dry_run: bool,
}

/// The longest wait for the next row before an import is given up (and rolled back).
pub const IMPORT_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

/// A task's outcome, its panic or cancellation as a storage error.
fn joined(
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
    fn idle(
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
    async fn send(&mut self, command: ImportCommand) -> Result<()> {
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
    async fn failure(&mut self) -> Error {
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
    async fn finish(mut self, commit: bool) -> Result<()> {
        let Some((commands, task)) = self.running.take() else {
            return Ok(());
        };
        // A writer that already stopped reports its own error below.
        let _ = commands.send(ImportCommand::Finish { commit }).await;
        drop(commands);
        joined(task.await, "writing an import")
    }
}

impl UserService {
    /// Imports users from `input` (CSV or JSON Lines, read as a stream: memory does not grow
    /// with the file) into the caller's tenant. Every row is validated and permission-checked
    /// like a create (roles by name; unknown roles and grants beyond the caller's reach are
    /// row errors), and audited `user.created` by the caller with the import's `batch_id`.
    /// `on_row` hears every row's outcome as it is decided. Requires `user.create`.
    ///
    /// Errors of the whole import: a malformed file (CSV header, unknown column, broken
    /// encoding, a line over [`MAX_IMPORT_ROW`]) is [`Error::Validation`] on `file`; with
    /// `per_batch`, the batches before it stay committed.
    pub async fn import_users<R>(
        &self,
        principal: &Principal,
        input: R,
        options: ImportOptions,
        mut on_row: impl FnMut(&RowReport) + Send,
    ) -> Result<ImportSummary>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        let actor = self
            .authorize_write(principal, Permission::USER_CREATE)
            .await?;
        let _one_at_a_time = self
            .imports
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Busy {
                retry_after: std::time::Duration::from_secs(10),
            })?;
        let mut summary = ImportSummary {
            batch_id: Uuid::now_v7(),
            rows: 0,
            created: 0,
            invalid: 0,
            committed: false,
            dry_run: options.dry_run,
        };
        let (row_tx, mut row_rx) = mpsc::channel(IMPORT_BATCH);
        let mut reader = Some(tokio::spawn(read_rows(input, options, row_tx)));
        // The storage's transaction opens with the first valid rows, not before.
        let mut writer = Writer::idle(self.storage.clone(), actor.tenant_id.clone());
        let mut pending = 0u64;
        let mut batch: Vec<ParsedRow> = Vec::with_capacity(IMPORT_BATCH);
        let mut failed = None;
        loop {
            let row = match tokio::time::timeout(IMPORT_IDLE, row_rx.recv()).await {
                Ok(row) => row,
                Err(_) => {
                    failed = Some(Error::invalid(
                        "file",
                        format!("no row arrived for {} seconds", IMPORT_IDLE.as_secs()),
                    ));
                    break;
                }
            };
            let end = row.is_none();
            if let Some(row) = row {
                batch.push(row);
            } else if let Some(reading) = reader.take() {
                // The input ended: a broken file stops here, before its last batch is written.
                if let Err(error) = joined(reading.await, "reading an import") {
                    failed = Some(error);
                    break;
                }
            }
            if batch.len() == IMPORT_BATCH || (end && !batch.is_empty()) {
                let rows = std::mem::take(&mut batch);
                let checked = self
                    .import_batch(principal, &actor, &summary, rows, &mut writer, &mut on_row)
                    .await;
                match checked {
                    Ok((valid, invalid)) => {
                        summary.rows += valid + invalid;
                        summary.invalid += invalid;
                        pending += valid;
                    }
                    Err(error) => {
                        failed = Some(error);
                        break;
                    }
                }
                if options.per_batch && !options.dry_run && pending > 0 {
                    if let Err(error) = writer.send(ImportCommand::Checkpoint).await {
                        failed = Some(error);
                        break;
                    }
                    summary.created += pending;
                    pending = 0;
                }
            }
            if end {
                break;
            }
        }
        // Stop reading at once: a slow or stalled client holds nothing open.
        if let Some(reading) = reader.take() {
            reading.abort();
        }
        drop(row_rx);
        let commit =
            failed.is_none() && !options.dry_run && (options.per_batch || summary.invalid == 0);
        let written = writer.finish(commit).await;
        if let Some(error) = failed {
            return Err(match error {
                Error::Validation(mut fields) if summary.created > 0 => {
                    fields.add(
                        "file",
                        format!(
                            "{} users from earlier batches were committed",
                            summary.created
                        ),
                    );
                    Error::Validation(fields)
                }
                other => other,
            });
        }
        written?;
        if commit {
            summary.created += pending;
            summary.committed = true;
        } else if !options.per_batch {
            summary.created = 0;
        }
        Ok(summary)
    }

    /// Validates one batch, hands its valid rows to the writer, and reports every row:
    /// answers how many were valid (written, or to be) and how many had errors.
    async fn import_batch(
        &self,
        principal: &Principal,
        actor: &Actor,
        summary: &ImportSummary,
        rows: Vec<ParsedRow>,
        writer: &mut Writer,
        on_row: &mut (impl FnMut(&RowReport) + Send),
    ) -> Result<(u64, u64)> {
        let now = self.clock.now();
        let mut reports = Vec::with_capacity(rows.len());
        let mut writes: Vec<(NewUser, crate::model::AuditEvent)> = Vec::new();
        let mut written_at = Vec::new();
        for row in rows {
            match self
                .import_record(principal, actor, summary.batch_id, row.input, now)
                .await?
            {
                Ok(record) => {
                    written_at.push(reports.len());
                    reports.push(RowReport {
                        line: row.line,
                        id: Some(record.0.user.id),
                        errors: None,
                    });
                    writes.push(record);
                }
                Err(errors) => reports.push(RowReport {
                    line: row.line,
                    id: None,
                    errors: Some(errors),
                }),
            }
        }
        if !writes.is_empty() {
            let (reply, answer) = oneshot::channel();
            writer
                .send(ImportCommand::Insert {
                    rows: writes,
                    reply,
                })
                .await?;
            let taken = match answer.await {
                Ok(taken) => taken,
                Err(_) => return Err(writer.failure().await),
            };
            for (at, fields) in written_at.into_iter().zip(taken) {
                if !fields.is_empty() {
                    let mut errors = FieldErrors::new();
                    for field in fields {
                        errors.add(&field, "is already taken");
                    }
                    if let Some(report) = reports.get_mut(at) {
                        report.id = None;
                        report.errors = Some(errors);
                    }
                }
            }
        }
        let invalid = reports.iter().filter(|r| r.errors.is_some()).count() as u64;
        for report in &reports {
            on_row(report);
        }
        Ok((reports.len() as u64 - invalid, invalid))
    }

    /// One row's stored form, or its errors: validated like a create, its grants within the
    /// actor's reach, its password hashed (plain text) or kept (another system's hash).
    async fn import_record(
        &self,
        principal: &Principal,
        actor: &Actor,
        batch_id: Uuid,
        input: std::result::Result<(CreateUser, Secret), FieldErrors>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<std::result::Result<(NewUser, crate::model::AuditEvent), FieldErrors>> {
        let (input, secret) = match input {
            Ok(parsed) => parsed,
            Err(errors) => return Ok(Err(errors)),
        };
        let mut draft = input.draft();
        let mut errors = match draft.validate(&self.config.validation, now.date_naive()) {
            Ok(()) => FieldErrors::new(),
            Err(errors) => errors,
        };
        if draft.status == Status::Deleted {
            errors.add("status", "a user cannot be created deleted");
        }
        if let Secret::Plain(password) = &secret {
            self.config
                .password
                .check(password, "password", &mut errors);
        }
        let granted = self.check_grants(actor, &draft, None, &mut errors).await?;
        if actor.require_reach(&granted).is_err() {
            errors.add("roles", "grants permissions you do not hold");
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let hash = match secret {
            Secret::None => None,
            Secret::Hash(hash) => Some(hash),
            Secret::Plain(password) => Some(self.hash_for_import(&password).await?),
        };
        let (new, mut audit) = new_user_record(principal, draft, hash, now);
        audit.changes.insert(
            "import".to_owned(),
            FieldChange {
                old: Value::Null,
                new: Value::from(batch_id.to_string()),
            },
        );
        Ok(Ok((new, audit)))
    }

    /// Hashes an imported plain-text password, waiting out [`Error::Busy`] (sign-ins come
    /// first; an import is not failed by their load).
    async fn hash_for_import(&self, password: &Password) -> Result<PasswordHash> {
        for _ in 0..20 {
            match self.hash_password(password).await {
                Err(Error::Busy { retry_after }) => {
                    tokio::time::sleep(retry_after.min(std::time::Duration::from_secs(1))).await
                }
                other => return other,
            }
        }
        self.hash_password(password).await
    }

    /// Replaces an imported hash (another system's format) with an argon2id hash of the
    /// password that just matched it, audited as done by the user. Best effort: a failure is
    /// logged and the next sign-in tries again.
    pub(super) async fn rehash_imported(
        &self,
        user: &crate::model::User,
        password: &crate::password::Password,
        old: &crate::password::PasswordHash,
    ) {
        let format = crate::password::HashFormat::of(old.as_phc())
            .map_or_else(|| "unknown".to_owned(), |f| format!("{f:?}"));
        let result = async {
            let hash = self.hash_password(password).await?;
            let now = self.clock.now();
            let by_user = Principal::user(user.tenant_id.clone(), user.id);
            let mut changes = std::collections::BTreeMap::new();
            changes.insert(
                "password_hash".to_owned(),
                crate::model::FieldChange {
                    old: format.clone().into(),
                    new: "Argon2id".into(),
                },
            );
            let audit = crate::service::audit::event(
                &by_user,
                crate::model::AuditTargetKind::User,
                user.id,
                crate::model::AuditAction::PasswordRehashed,
                changes,
                now,
            );
            let mut next = user.clone();
            next.updated_at = now;
            let change = crate::storage::UserReplace {
                user: next,
                password: crate::storage::PasswordChange::Set(hash),
                expected_version: user.version,
                audit: vec![audit],
                end_sessions: None,
            };
            self.storage.replace_user(&user.tenant_id, change).await
        };
        if let Err(error) = result.await {
            tracing::warn!(user = %user.id, %error, "an imported password hash was not replaced yet");
        }
    }
}
