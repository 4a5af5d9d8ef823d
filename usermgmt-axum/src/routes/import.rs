//! SPEC §11 over HTTP: `POST /v1/users/bulk/import`, the request body streamed into the
//! library's import (no size limit, constant memory).

use axum::Json;
use axum::extract::{RawQuery, State};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use usermgmt_core::service::{ExportFormat, ImportMode, ImportOptions, ImportSummary, RowReport};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::query::params;
use crate::state::{ApiState, Caller};

/// Rows with errors listed in the answer at most (all are counted in the summary).
const MAX_LISTED_ROWS: usize = 1000;

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(import))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
struct ImportParams {
    /// `csv` (default: a header row of the export's columns) or `json_lines` (the user JSON).
    format: Option<ExportFormat>,
    /// Check everything, write nothing.
    dry_run: Option<bool>,
    /// Commit each batch of 500 rows as it goes, skipping rows with errors (default:
    /// all-or-nothing).
    per_batch: Option<bool>,
    /// Accept a `password` column in plain text (default: refused; bring `password_hash`).
    allow_plaintext_passwords: Option<bool>,
    /// `create` (default) or `upsert`: a row whose email (else phone) names a stored user
    /// changes the fields it gives (needs `user.update`).
    mode: Option<ImportMode>,
}

/// What an import did: the summary, and the rows with errors (at most 1,000 listed).
#[derive(Serialize, ToSchema)]
struct ImportAnswer {
    summary: ImportSummary,
    /// Rows with errors, by line, in order (the first 1,000).
    rejected: Vec<RowReport>,
    /// Whether more rows had errors than are listed.
    rejected_truncated: bool,
}

/// Import users from CSV or JSON Lines (`user.create`; `mode=upsert` also `user.update`):
/// every row validated and checked like a create (or an edit, for a row naming a stored user
/// in upsert mode); all-or-nothing unless `per_batch`; `dry_run` writes nothing. 400 on `file` for a
/// malformed file (unknown column, broken row); row problems are in `rejected`.
#[utoipa::path(post, path = "/v1/users/bulk/import", tag = "bulk", params(ImportParams),
    request_body(content((String = "text/csv"), (String = "application/x-ndjson")),
        description = "The rows: CSV with a header row, or JSON Lines"),
    responses((status = 200, body = ImportAnswer)))]
async fn import(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
    body: axum::body::Body,
) -> Result<Json<ImportAnswer>, ApiError> {
    let given: ImportParams = params(raw.as_deref())?;
    let options = ImportOptions {
        format: given.format.unwrap_or_default(),
        dry_run: given.dry_run.unwrap_or(false),
        per_batch: given.per_batch.unwrap_or(false),
        allow_plaintext_passwords: given.allow_plaintext_passwords.unwrap_or(false),
        mode: given.mode.unwrap_or_default(),
    };
    let input =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    let mut rejected = Vec::new();
    let mut truncated = false;
    let summary = state
        .service
        .import_users(&principal, input, options, |row| {
            if row.errors.is_some() {
                if rejected.len() < MAX_LISTED_ROWS {
                    rejected.push(row.clone());
                } else {
                    truncated = true;
                }
            }
        })
        .await?;
    Ok(Json(ImportAnswer {
        summary,
        rejected,
        rejected_truncated: truncated,
    }))
}
