//! Export of every user matching the filters, as CSV or JSON Lines, streamed in chunks with
//! constant memory.

use serde::Deserialize;
use tokio::sync::mpsc;

use super::UserService;
use crate::error::{Error, Result, StorageError};
use crate::filter::{ListQuery, UserFilters};
use crate::model::{Permission, User};
use crate::principal::Principal;

/// Users read from storage per batch.
pub const EXPORT_BATCH: u32 = 500;
/// Batches (and chunks) in flight between storage, encoder and reader.
const IN_FLIGHT: usize = 2;

/// Export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    #[default]
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl ExportFormat {
    /// The HTTP content type.
    pub const fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::JsonLines => "application/x-ndjson",
        }
    }

    /// The file extension.
    pub const fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::JsonLines => "jsonl",
        }
    }
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 28] = [
    "id",
    "name",
    "email",
    "phone",
    "username",
    "unique_id",
    "status",
    "user_type",
    "roles",
    "email_verified",
    "phone_verified",
    "auth_method",
    "oauth_providers",
    "created_at",
    "last_login_at",
    "country",
    "city",
    "state",
    "continent",
    "timezone",
    "locale",
    "gender",
    "designation",
    "expertise",
    "date_of_birth",
    "avatar_url",
    "bio",
    "profile_completeness",
];

/// A running export: chunks of the file in order; `None` at the end.
#[derive(Debug)]
pub struct ExportStream {
    chunks: mpsc::Receiver<Result<Vec<u8>>>,
    /// The format.
    pub format: ExportFormat,
    /// Filters that could not be evaluated and were ignored.
    pub skipped_filters: Vec<String>,
}

impl ExportStream {
    /// The next chunk of the file, `None` when complete. An error ends the export.
    pub async fn next_chunk(&mut self) -> Option<Result<Vec<u8>>> {
        self.chunks.recv().await
    }
}

/// Makes a cell safe to open in a spreadsheet: text starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return would run as a formula, so it gets a leading `'`.
pub fn neutralise(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

fn csv_row(user: &User) -> Vec<String> {
    let text = |value: &Option<String>| neutralise(value.as_deref().unwrap_or(""));
    let time = |value: Option<chrono::DateTime<chrono::Utc>>| {
        value
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    let p = &user.profile;
    let types: Vec<&str> = [
        (user.is_admin, "admin"),
        (user.is_instructor, "instructor"),
        (user.is_learner, "learner"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    vec![
        user.id.to_string(),
        neutralise(&user.name),
        text(&user.email),
        text(&user.phone),
        text(&user.username),
        text(&user.unique_id),
        user.status.as_str().to_owned(),
        types.join(";"),
        neutralise(&user.roles.join(";")),
        user.email_verified.to_string(),
        user.phone_verified.to_string(),
        user.auth_method.as_str().to_owned(),
        user.oauth_providers
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        time(Some(user.created_at)),
        time(user.last_login_at),
        text(&p.country),
        text(&p.city),
        text(&p.state),
        p.continent
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        text(&p.timezone),
        text(&p.locale),
        p.gender.map(|g| g.as_str().to_owned()).unwrap_or_default(),
        text(&p.designation),
        neutralise(&p.expertise.join(";")),
        p.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
        text(&p.avatar_url),
        text(&p.bio),
        user.profile_completeness.to_string(),
    ]
}

fn encode(format: ExportFormat, users: &[User], header: bool) -> Result<Vec<u8>> {
    let failed = |e: &dyn std::fmt::Display| {
        Error::Storage(StorageError::new("encoding an export", e.to_string()))
    };
    match format {
        ExportFormat::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::with_capacity(users.len() * 256));
            if header {
                writer.write_record(CSV_COLUMNS).map_err(|e| failed(&e))?;
            }
            for user in users {
                writer.write_record(csv_row(user)).map_err(|e| failed(&e))?;
            }
            writer.into_inner().map_err(|e| failed(&e))
        }
        ExportFormat::JsonLines => {
            let mut out = Vec::with_capacity(users.len() * 512);
            for user in users {
                serde_json::to_writer(&mut out, user).map_err(|e| failed(&e))?;
                out.push(b'\n');
            }
            Ok(out)
        }
    }
}

impl UserService {
    /// Exports every user matching `filters` (not just a page), in the list's default order
    /// (newest first), as CSV or JSON Lines. Rows are read in batches and encoded while the
    /// caller consumes the chunks, so memory stays constant however many users match. No
    /// secret is ever exported. Requires `user.export`.
    pub async fn export(
        &self,
        principal: &Principal,
        filters: UserFilters,
        format: ExportFormat,
    ) -> Result<ExportStream> {
        let actor = self.authorize(principal, Permission::UserExport).await?;
        let query = ListQuery {
            filters,
            include_total: false,
            ..Default::default()
        };
        let mut plan = query.plan(self.config.max_page_size)?;
        let mut skipped = self
            .resolve_cross_service(&actor.tenant_id, &mut plan)
            .await?;
        if self.storage.pushes_down_enrollments()
            && !plan.filters.cross_service_filters_in_use().is_empty()
        {
            // Try the push-down on one row first: when the learning data is unreachable the
            // export goes ahead without the enrollment filters (as the list does), unless strict.
            let probe = crate::filter::ListPlan {
                limit: 1,
                include_total: false,
                ..plan.clone()
            };
            if let Err(Error::EnrollmentSourceUnavailable(reason)) = self
                .storage
                .list_users(&actor.tenant_id, &probe, self.clock.now())
                .await
            {
                if self.strict_enrollments() {
                    return Err(Error::EnrollmentSourceUnavailable(reason));
                }
                tracing::warn!(%reason, "enrollment push-down failed");
                skipped = plan.filters.skip_cross_service();
            }
        }
        let (user_tx, mut user_rx) = mpsc::channel::<Result<Vec<User>>>(IN_FLIGHT);
        let (chunk_tx, chunk_rx) = mpsc::channel::<Result<Vec<u8>>>(IN_FLIGHT);
        let storage = self.storage.clone();
        let now = self.clock.now();
        let tenant = actor.tenant_id.clone();
        tokio::spawn(async move {
            if let Err(error) = storage
                .export_users(
                    &tenant,
                    &plan.filters,
                    plan.enrollment.clone(),
                    now,
                    EXPORT_BATCH,
                    user_tx.clone(),
                )
                .await
            {
                // The receiver may be gone (client left); nothing else to tell then.
                let _ = user_tx.send(Err(error)).await;
            }
        });
        tokio::spawn(async move {
            let mut header = true;
            if format == ExportFormat::Csv {
                let first = encode(format, &[], true);
                header = false;
                if chunk_tx.send(first).await.is_err() {
                    return;
                }
            }
            while let Some(batch) = user_rx.recv().await {
                let chunk = batch.and_then(|users| encode(format, &users, header));
                let failed = chunk.is_err();
                if chunk_tx.send(chunk).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(ExportStream {
            chunks: chunk_rx,
            format,
            skipped_filters: skipped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for dangerous in ["=1+1", "+14155552671", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise(dangerous).starts_with('\''), "{dangerous:?}");
        }
        assert_eq!(neutralise("Ada"), "Ada");
        assert_eq!(neutralise(""), "");
    }
}
