//! Export of every user matching the filters, as CSV or JSON Lines, streamed in chunks with
//! constant memory.

use serde::Deserialize;
use tokio::sync::mpsc;

use super::core::UserService;
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
    safe(cell).into_owned()
}

/// `cell`, or `cell` behind a `'` when it would run as a formula (see [`neutralise`]).
fn safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// Writes one user's record field by field, borrowing where it can: `scratch` holds the
/// fields that must be formatted (lists, times, numbers), so a row costs almost no allocation.
fn write_csv_row(
    writer: &mut csv::Writer<Vec<u8>>,
    user: &User,
    scratch: &mut String,
) -> csv::Result<()> {
    use std::fmt::Write as _;
    let text = |w: &mut csv::Writer<Vec<u8>>, value: &Option<String>| {
        w.write_field(safe(value.as_deref().unwrap_or("")).as_bytes())
    };
    let joined = |w: &mut csv::Writer<Vec<u8>>,
                  scratch: &mut String,
                  items: &mut dyn Iterator<Item = &str>| {
        scratch.clear();
        for (i, item) in items.enumerate() {
            if i > 0 {
                scratch.push(';');
            }
            scratch.push_str(item);
        }
        w.write_field(safe(scratch).as_bytes())
    };
    let time = |w: &mut csv::Writer<Vec<u8>>,
                scratch: &mut String,
                value: Option<chrono::DateTime<chrono::Utc>>| {
        scratch.clear();
        if let Some(t) = value {
            // Writing to a String cannot fail.
            let _ = write!(scratch, "{}", t.format("%Y-%m-%dT%H:%M:%SZ"));
        }
        w.write_field(scratch.as_bytes())
    };
    let flag = |set: bool| if set { "true" } else { "false" };
    let p = &user.profile;
    let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
    writer.write_field(user.id.hyphenated().encode_lower(&mut id).as_bytes())?;
    writer.write_field(safe(&user.name).as_bytes())?;
    text(writer, &user.email)?;
    text(writer, &user.phone)?;
    text(writer, &user.username)?;
    text(writer, &user.unique_id)?;
    writer.write_field(user.status.as_str())?;
    let types = [
        (user.is_admin, "admin"),
        (user.is_instructor, "instructor"),
        (user.is_learner, "learner"),
    ];
    joined(
        writer,
        scratch,
        &mut types.iter().filter_map(|(set, name)| set.then_some(*name)),
    )?;
    joined(writer, scratch, &mut user.roles.iter().map(String::as_str))?;
    writer.write_field(flag(user.email_verified))?;
    writer.write_field(flag(user.phone_verified))?;
    writer.write_field(user.auth_method.as_str())?;
    joined(
        writer,
        scratch,
        &mut user.oauth_providers.iter().map(|o| o.as_str()),
    )?;
    time(writer, scratch, Some(user.created_at))?;
    time(writer, scratch, user.last_login_at)?;
    text(writer, &p.country)?;
    text(writer, &p.city)?;
    text(writer, &p.state)?;
    writer.write_field(p.continent.map_or("", |c| c.as_str()))?;
    text(writer, &p.timezone)?;
    text(writer, &p.locale)?;
    writer.write_field(p.gender.map_or("", |g| g.as_str()))?;
    text(writer, &p.designation)?;
    joined(writer, scratch, &mut p.expertise.iter().map(String::as_str))?;
    scratch.clear();
    if let Some(date) = p.date_of_birth {
        let _ = write!(scratch, "{date}");
    }
    writer.write_field(scratch.as_bytes())?;
    text(writer, &p.avatar_url)?;
    text(writer, &p.bio)?;
    scratch.clear();
    let _ = write!(scratch, "{}", user.profile_completeness);
    writer.write_field(scratch.as_bytes())?;
    writer.write_record(None::<&[u8]>)
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
            let mut scratch = String::with_capacity(64);
            for user in users {
                write_csv_row(&mut writer, user, &mut scratch).map_err(|e| failed(&e))?;
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
        let actor = self.authorize(principal, Permission::USER_EXPORT).await?;
        let query = ListQuery {
            filters,
            include_total: false,
            ..Default::default()
        };
        let mut plan = query.plan(self.config.max_page_size)?;
        let mut skipped = self.resolve_filters(&actor.tenant_id, &mut plan).await?;
        if self.storage.pushes_down_enrollments() && plan.filters.uses_cross_service() {
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
        let (chunk_tx, chunk_rx) = mpsc::channel::<Result<Vec<u8>>>(IN_FLIGHT);
        let mut user_rx = self.storage.export_users(
            &actor.tenant_id,
            crate::filter::ListPlan::export(&plan.filters, plan.enrollment.clone()),
            self.clock.now(),
            EXPORT_BATCH,
        );
        tokio::spawn(async move {
            let mut header = true;
            if format == ExportFormat::Csv {
                let first = encode(format, &[], true);
                header = false;
                if chunk_tx.send(first).await.is_err() {
                    return;
                }
            }
            while let Some(batch) = user_rx.next().await {
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

    #[test]
    fn a_csv_record_holds_every_column_in_order() {
        use chrono::TimeZone;
        let at = chrono::Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 5).unwrap();
        let user: User = serde_json::from_value(serde_json::json!({
            "id": "0195f3c2-7d1e-7000-8000-000000000001", "tenant_id": "t", "name": "=Ada",
            "email": "ada@x.test", "phone": "+14155552671", "username": "ada", "unique_id": null,
            "status": "active", "is_admin": true, "is_instructor": false, "is_learner": true,
            "roles": ["editor", "viewer"], "permissions": [], "email_verified": true,
            "phone_verified": false, "auth_method": "email", "oauth_providers": ["google", "github"],
            "has_password": true, "avatar_url": null, "bio": "Hi, \"there\"\nsecond line",
            "country": "DE", "city": "Berlin", "state": null, "continent": "europe",
            "timezone": "Europe/Berlin", "locale": "de-DE", "gender": "female",
            "designation": "Engineer", "expertise": ["Rust", "Math"], "date_of_birth": "1990-05-17",
            "profile_completeness": 73, "created_at": at, "updated_at": at, "last_login_at": null,
            "deleted_at": null, "failed_login_attempts": 0, "locked_until": null, "version": 1
        }))
        .unwrap();
        let bytes = encode(ExportFormat::Csv, &[user], true).unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(reader.headers().unwrap().len(), CSV_COLUMNS.len());
        let row = reader.records().next().unwrap().unwrap();
        let expected = [
            "0195f3c2-7d1e-7000-8000-000000000001",
            "'=Ada",
            "ada@x.test",
            "'+14155552671",
            "ada",
            "",
            "active",
            "admin;learner",
            "editor;viewer",
            "true",
            "false",
            "email",
            "google;github",
            "2026-03-01T09:30:05Z",
            "",
            "DE",
            "Berlin",
            "",
            "europe",
            "Europe/Berlin",
            "de-DE",
            "female",
            "Engineer",
            "Rust;Math",
            "1990-05-17",
            "",
            "Hi, \"there\"\nsecond line",
            "73",
        ];
        assert_eq!(row.iter().collect::<Vec<_>>(), expected);
    }
}
