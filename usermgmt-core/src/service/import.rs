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
use super::import_rows::{ImportMode, ImportOptions, ParsedRow, read_rows};
use super::import_writer::{Writer, joined};
use crate::error::{Error, FieldErrors, Result};
use crate::model::{FieldChange, Permission};
use crate::principal::Principal;
use crate::storage::{ImportCommand, ImportWrite, WriteOutcome};

/// Rows the service hands the storage at a time (and commits at a time, per batch).
pub const IMPORT_BATCH: usize = 500;

/// What became of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    /// A new user (written once the import commits).
    Created,
    /// A stored user the row named, changed.
    Updated,
    /// A stored user the row named, already as the row says.
    Unchanged,
    /// Not written: see the errors.
    Rejected,
}

/// One row's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RowReport {
    /// The row's line in the input (1 is a CSV file's header).
    pub line: u64,
    /// What became of it.
    pub outcome: RowOutcome,
    /// The user's id, unless the row was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The row's errors by field, when it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub errors: Option<FieldErrors>,
}

impl RowReport {
    fn rejected(line: u64, errors: FieldErrors) -> Self {
        Self {
            line,
            outcome: RowOutcome::Rejected,
            id: None,
            errors: Some(errors),
        }
    }
}

/// The outcome of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportSummary {
    /// The id every audit event of the import carries (`import`).
    pub batch_id: Uuid,
    /// Rows read.
    pub rows: u64,
    /// Users created (0 for a dry run, or when an all-or-nothing import had an error).
    pub created: u64,
    /// Users updated (upsert; 0 when nothing was committed).
    pub updated: u64,
    /// Rows naming a user already as the row says (upsert).
    pub unchanged: u64,
    /// Rows rejected.
    pub invalid: u64,
    /// Whether the valid rows were committed.
    pub committed: bool,
    /// Whether it was a dry run.
    pub dry_run: bool,
}

/// Rows written in a batch, before they are committed.
#[derive(Debug, Clone, Copy, Default)]
struct Written {
    created: u64,
    updated: u64,
}

/// What an import does with one row.
pub(super) enum RowPlan {
    /// Write it (a new user, or a change to a stored one).
    Write(Box<ImportWrite>, Uuid, RowOutcome),
    /// Nothing to write: the stored user already matches.
    Unchanged(Uuid),
    /// Refused.
    Rejected(FieldErrors),
}

/// A planned batch: its reports, and its writes (then the storage's answer once they were
/// handed over).
struct InFlight {
    reports: Vec<RowReport>,
    writes: Vec<ImportWrite>,
    /// Where the written rows' reports are.
    written_at: Vec<usize>,
    /// The storage's answer for the writes, once they were sent.
    answer: Option<oneshot::Receiver<Vec<WriteOutcome>>>,
}

impl InFlight {
    /// Hands the writes to the storage without waiting for them.
    async fn send(mut self, writer: &mut Writer) -> Result<InFlight> {
        if !self.writes.is_empty() {
            let (reply, answer) = oneshot::channel();
            let rows = std::mem::take(&mut self.writes);
            writer.send(ImportCommand::Write { rows, reply }).await?;
            self.answer = Some(answer);
        }
        Ok(self)
    }
}

/// Marks an audit event as part of the import `batch_id`.
pub(super) fn mark_import(event: &mut crate::model::AuditEvent, batch_id: Uuid) {
    event.changes.insert(
        "import".to_owned(),
        FieldChange {
            old: Value::Null,
            new: Value::from(batch_id.to_string()),
        },
    );
}

/// The longest wait for the next row before an import is given up (and rolled back).
pub const IMPORT_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

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
        let (reports, mut heard) = mpsc::channel(2);
        let import = self.import_users_reporting(principal, input, options, reports);
        let hear = async {
            while let Some(batch) = heard.recv().await {
                batch.iter().for_each(&mut on_row);
            }
        };
        tokio::join!(import, hear).0
    }

    /// [`UserService::import_users`], its row reports sent a batch at a time (every row, in
    /// order) and awaited: a slow reader slows the import rather than piling reports up, and
    /// a reader that goes away stops it (rolled back, [`Error::Validation`] on `report`).
    pub async fn import_users_reporting<R>(
        &self,
        principal: &Principal,
        input: R,
        options: ImportOptions,
        on_batch: mpsc::Sender<Vec<RowReport>>,
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
            updated: 0,
            unchanged: 0,
            invalid: 0,
            committed: false,
            dry_run: options.dry_run,
        };
        if options.mode == ImportMode::Upsert {
            actor.require_all([&Permission::USER_UPDATE])?;
        }
        let (row_tx, mut row_rx) = mpsc::channel(IMPORT_BATCH);
        let mut reader = Some(tokio::spawn(read_rows(input, options, row_tx)));
        // The storage's transaction opens with the first valid rows, not before.
        let mut writer = Writer::idle(self.storage.clone(), actor.tenant_id.clone());
        let mut pending = Written::default();
        let mut batch: Vec<ParsedRow> = Vec::with_capacity(IMPORT_BATCH);
        let mut in_flight: Option<InFlight> = None;
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
                // This batch is planned while the storage writes the one before (pipelined).
                let step = async {
                    let planned = self
                        .plan_batch(principal, &actor, (summary.batch_id, options.mode), rows)
                        .await?;
                    if let Some(before) = in_flight.take() {
                        self.land(
                            before,
                            &mut writer,
                            &on_batch,
                            &mut summary,
                            &mut pending,
                            &options,
                        )
                        .await?;
                    }
                    in_flight = Some(planned.send(&mut writer).await?);
                    Ok::<(), Error>(())
                };
                if let Err(error) = step.await {
                    failed = Some(error);
                    break;
                }
            }
            if end {
                if let Some(last) = in_flight.take()
                    && let Err(error) = self
                        .land(
                            last,
                            &mut writer,
                            &on_batch,
                            &mut summary,
                            &mut pending,
                            &options,
                        )
                        .await
                {
                    failed = Some(error);
                }
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
                Error::Validation(mut fields) if summary.created + summary.updated > 0 => {
                    fields.add(
                        "file",
                        format!(
                            "{} created and {} updated users from earlier batches were committed",
                            summary.created, summary.updated
                        ),
                    );
                    Error::Validation(fields)
                }
                other => other,
            });
        }
        written?;
        if commit {
            summary.created += pending.created;
            summary.updated += pending.updated;
            summary.committed = true;
        } else if !options.per_batch {
            summary.created = 0;
            summary.updated = 0;
        }
        Ok(summary)
    }

    /// Plans one batch: every row's report, and the writes of the rows to write.
    async fn plan_batch(
        &self,
        principal: &Principal,
        actor: &Actor,
        (batch_id, mode): (Uuid, ImportMode),
        rows: Vec<ParsedRow>,
    ) -> Result<InFlight> {
        let now = self.clock.now();
        let mut planned = InFlight {
            reports: Vec::with_capacity(rows.len()),
            writes: Vec::new(),
            written_at: Vec::new(),
            answer: None,
        };
        for row in rows {
            let plan = match row.input {
                Err(errors) => RowPlan::Rejected(errors),
                Ok((object, secret)) => {
                    self.plan_row(principal, actor, (batch_id, mode), object, secret, now)
                        .await?
                }
            };
            let reports = &mut planned.reports;
            match plan {
                RowPlan::Write(write, id, outcome) => {
                    planned.written_at.push(reports.len());
                    reports.push(RowReport {
                        line: row.line,
                        outcome,
                        id: Some(id),
                        errors: None,
                    });
                    planned.writes.push(*write);
                }
                RowPlan::Unchanged(id) => reports.push(RowReport {
                    line: row.line,
                    outcome: RowOutcome::Unchanged,
                    id: Some(id),
                    errors: None,
                }),
                RowPlan::Rejected(errors) => reports.push(RowReport::rejected(row.line, errors)),
            }
        }
        Ok(planned)
    }

    /// Waits for a batch's writes, reports its rows, counts them into `summary` (and
    /// `pending`, the writes not yet committed), and commits them when the import commits
    /// batch by batch.
    async fn land(
        &self,
        batch: InFlight,
        writer: &mut Writer,
        on_batch: &mpsc::Sender<Vec<RowReport>>,
        summary: &mut ImportSummary,
        pending: &mut Written,
        options: &ImportOptions,
    ) -> Result<()> {
        let InFlight {
            mut reports,
            written_at,
            answer,
            ..
        } = batch;
        if let Some(answer) = answer {
            let outcomes = match answer.await {
                Ok(outcomes) => outcomes,
                Err(_) => return Err(writer.failure().await),
            };
            for (at, outcome) in written_at.into_iter().zip(outcomes) {
                let mut errors = FieldErrors::new();
                match outcome {
                    WriteOutcome::Written => continue,
                    WriteOutcome::Taken(fields) => {
                        for field in fields {
                            errors.add(&field, "is already taken");
                        }
                    }
                    WriteOutcome::Changed => errors.add(
                        "row",
                        "the user changed while the import ran: import it again",
                    ),
                }
                if let Some(report) = reports.get_mut(at) {
                    *report = RowReport::rejected(report.line, errors);
                }
            }
        }
        summary.rows += reports.len() as u64;
        for report in &reports {
            match report.outcome {
                RowOutcome::Created => pending.created += 1,
                RowOutcome::Updated => pending.updated += 1,
                RowOutcome::Unchanged => summary.unchanged += 1,
                RowOutcome::Rejected => summary.invalid += 1,
            }
        }
        if on_batch.send(reports).await.is_err() {
            return Err(Error::invalid(
                "report",
                "the reader of the row reports went away: nothing was written",
            ));
        }
        if options.per_batch && !options.dry_run && pending.created + pending.updated > 0 {
            writer.send(ImportCommand::Checkpoint).await?;
            summary.created += pending.created;
            summary.updated += pending.updated;
            *pending = Written::default();
        }
        Ok(())
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
