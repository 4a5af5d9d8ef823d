//! Reading an import's rows (SPEC §11): CSV in the export's columns or JSON Lines of the
//! user JSON, each row turned into a create input and the password it brings, or its errors.

use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

use super::export::ExportFormat;
use super::inputs::{CreateUser, UpdateUser};
use crate::error::{Error, FieldErrors, Result};
use crate::password::{Password, PasswordHash, check_foreign_hash};

/// The longest row accepted (a JSON Lines line), in bytes.
pub const MAX_IMPORT_ROW: usize = 64 * 1024;

/// How to import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// CSV with a header row of the export's columns, or JSON Lines of the user JSON.
    pub format: ExportFormat,
    /// Validate and check everything (uniqueness included, in a transaction that is rolled
    /// back), write nothing.
    pub dry_run: bool,
    /// Commit every batch of [`IMPORT_BATCH`] rows as it goes, skipping the rows with errors;
    /// by default the import is all-or-nothing: one row with an error and nothing is written.
    pub per_batch: bool,
    /// Accept a `password` column in plain text (hashed with argon2id, which costs time per
    /// row); refused by default: bring `password_hash` from the other system instead.
    pub allow_plaintext_passwords: bool,
    /// Create every row (a taken email or phone is a row error), or upsert: a row whose email
    /// (else phone) names a stored user changes the fields the row gives.
    pub mode: ImportMode,
}

/// Whether an import only creates, or also updates the users its rows name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Every row is a new user.
    #[default]
    Create,
    /// A row whose email (else phone) matches a stored user updates it (needs `user.update`,
    /// and outranking the user); the others are created.
    Upsert,
}

/// Fails a read once a line runs past [`MAX_IMPORT_ROW`] bytes, so no CSV row (or header) can
/// make the parser buffer without bound.
struct LineCap<R> {
    inner: R,
    since_newline: usize,
}

impl<R> LineCap<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            since_newline: 0,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for LineCap<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &polled {
            let fresh = buf.filled().get(before..).unwrap_or_default();
            // Every line the chunk ends, and the one it leaves open, within the limit.
            let mut start = 0;
            let mut longest = 0;
            for at in memchr::memchr_iter(b'\n', fresh) {
                longest = longest.max(self.since_newline.saturating_add(at - start));
                self.since_newline = 0;
                start = at + 1;
            }
            self.since_newline = self.since_newline.saturating_add(fresh.len() - start);
            if longest.max(self.since_newline) > MAX_IMPORT_ROW {
                return std::task::Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a line is longer than {MAX_IMPORT_ROW} bytes"),
                )));
            }
        }
        polled
    }
}

/// Keys of the user JSON (and columns of the export) that describe stored state rather than
/// input: read and ignored, so an export imports as it is.
const EXPORT_ONLY: &[&str] = &[
    "id",
    "tenant_id",
    "oauth_providers",
    "has_password",
    "profile_completeness",
    "continent",
    "created_at",
    "updated_at",
    "last_login_at",
    "deleted_at",
    "failed_login_attempts",
    "locked_until",
    "version",
];

/// One parsed row: the create input and the secret it brings, or the row's errors.
pub(super) struct ParsedRow {
    pub(super) line: u64,
    pub(super) input: std::result::Result<(Map<String, Value>, Secret), FieldErrors>,
}

/// A row's password: another system's hash, a plain-text password, or none.
pub(super) enum Secret {
    None,
    Hash(PasswordHash),
    Plain(Password),
}

/// `errors` with one message on `field`.
pub(super) fn one(field: &str, message: impl Into<String>) -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add(field, message);
    errors
}

/// A cell as the export wrote it: a `'` the export put before a formula-like value is taken
/// off again.
fn cell(raw: &str) -> &str {
    match raw.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => raw,
    }
}

/// A CSV record as the user JSON: lists split on `;`, flags and `user_type` read, empty cells
/// left out.
fn csv_object(
    headers: &[String],
    record: &csv_async::StringRecord,
) -> Result<Map<String, Value>, FieldErrors> {
    let mut object = Map::new();
    for (name, raw) in headers.iter().zip(record.iter()) {
        if matches!(name.as_str(), "password" | "password_hash") {
            // Secrets as written: no trimming, no formula guard taken off.
            if !raw.is_empty() {
                object.insert(name.clone(), Value::from(raw));
            }
            continue;
        }
        let value = cell(raw).trim();
        if value.is_empty() {
            continue;
        }
        let list = || {
            Value::from(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .collect::<Vec<_>>(),
            )
        };
        match name.as_str() {
            "user_type" => {
                for kind in value.split(';').map(str::trim).filter(|k| !k.is_empty()) {
                    match kind {
                        "admin" | "instructor" | "learner" => {
                            object.insert(format!("is_{kind}"), Value::Bool(true));
                        }
                        other => {
                            return Err(one("user_type", format!("unknown user type `{other}`")));
                        }
                    }
                }
            }
            "roles" | "permissions" | "expertise" | "oauth_providers" => {
                object.insert(name.clone(), list());
            }
            "email_verified" | "phone_verified" => match value {
                "true" => {
                    object.insert(name.clone(), Value::Bool(true));
                }
                "false" => {
                    object.insert(name.clone(), Value::Bool(false));
                }
                _ => return Err(one(name, "must be true or false")),
            },
            _ => {
                object.insert(name.clone(), Value::from(value));
            }
        }
    }
    Ok(object)
}

/// The create input and secret of one row's user JSON.
fn row_input(
    mut object: Map<String, Value>,
    options: &ImportOptions,
) -> Result<(Map<String, Value>, Secret), FieldErrors> {
    for key in EXPORT_ONLY {
        object.remove(*key);
    }
    let text = |value: Value| value.as_str().map(str::to_owned);
    let hash = object.remove("password_hash").map(text);
    let plain = object.remove("password").map(text);
    let secret = match (hash, plain) {
        (Some(_), Some(_)) => {
            return Err(one(
                "password",
                "give `password_hash` or `password`, not both",
            ));
        }
        (Some(None), _) => return Err(one("password_hash", "must be a string")),
        (_, Some(None)) => return Err(one("password", "must be a string")),
        (Some(Some(hash)), None) => match check_foreign_hash(&hash) {
            Ok(_) => Secret::Hash(PasswordHash::imported(hash)),
            Err(why) => return Err(one("password_hash", why)),
        },
        (None, Some(Some(_))) if !options.allow_plaintext_passwords => {
            return Err(one(
                "password",
                "plain-text passwords are refused unless allow_plaintext_passwords is set: bring \
                 `password_hash` from the other system",
            ));
        }
        (None, Some(Some(plain))) => Secret::Plain(Password::new(plain)),
        (None, None) => Secret::None,
    };
    if object
        .get("invite")
        .is_some_and(|invite| invite != &Value::Bool(false))
    {
        return Err(one(
            "invite",
            "an import sends no invitations: invite the users afterwards",
        ));
    }
    object.remove("invite");
    Ok((object, secret))
}

/// A row's fields as a create input.
pub(super) fn as_create(object: Map<String, Value>) -> Result<CreateUser, FieldErrors> {
    serde_json::from_value(Value::Object(object)).map_err(|e| one("row", e.to_string()))
}

/// A row's fields as a change to a stored user: only the fields the row gives.
pub(super) fn as_update(object: Map<String, Value>) -> Result<UpdateUser, FieldErrors> {
    serde_json::from_value(Value::Object(object)).map_err(|e| one("row", e.to_string()))
}

/// Reads rows from `input` and sends them on `rows`; a malformed file (CSV header, I/O) is an
/// error for the whole import.
pub(super) async fn read_rows<R: AsyncRead + Send + Unpin>(
    input: R,
    options: ImportOptions,
    rows: mpsc::Sender<ParsedRow>,
) -> Result<()> {
    let bad_file =
        |what: &str, e: &dyn std::fmt::Display| Error::invalid("file", format!("{what}: {e}"));
    match options.format {
        ExportFormat::Csv => {
            let mut reader = csv_async::AsyncReaderBuilder::new()
                .has_headers(true)
                .flexible(false)
                .create_reader(LineCap::new(input));
            let headers: Vec<String> = reader
                .headers()
                .await
                .map_err(|e| bad_file("the header row", &e))?
                .iter()
                .map(|h| h.trim().to_owned())
                .collect();
            if headers.iter().all(String::is_empty) {
                return Err(Error::invalid(
                    "file",
                    "the file is empty: a header row is needed",
                ));
            }
            for header in &headers {
                let known = super::export::CSV_COLUMNS.contains(&header.as_str())
                    || matches!(
                        header.as_str(),
                        "password_hash" | "password" | "permissions"
                    );
                if !known {
                    return Err(Error::invalid("file", format!("unknown column `{header}`")));
                }
            }
            let mut records = reader.records();
            let mut line = 1u64;
            while let Some(record) = records.next().await {
                let record = record.map_err(|e| bad_file("a row", &e))?;
                line = record.position().map_or(line + 1, |p| p.line());
                let input =
                    csv_object(&headers, &record).and_then(|object| row_input(object, &options));
                if rows.send(ParsedRow { line, input }).await.is_err() {
                    return Ok(());
                }
            }
        }
        ExportFormat::JsonLines => {
            let codec = tokio_util::codec::LinesCodec::new_with_max_length(MAX_IMPORT_ROW);
            let mut lines = tokio_util::codec::FramedRead::new(input, codec);
            let mut line = 0u64;
            let mut any = false;
            while let Some(text) = lines.next().await {
                line += 1;
                let text = text.map_err(|e| bad_file(&format!("line {line}"), &e))?;
                if text.trim().is_empty() {
                    continue;
                }
                any = true;
                let input = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(object)) => row_input(object, &options),
                    Ok(_) => Err(one("row", "must be a JSON object")),
                    Err(e) => Err(one("row", e.to_string())),
                };
                if rows.send(ParsedRow { line, input }).await.is_err() {
                    return Ok(());
                }
            }
            if !any {
                return Err(Error::invalid("file", "the file is empty: no JSON line"));
            }
        }
    }
    Ok(())
}
