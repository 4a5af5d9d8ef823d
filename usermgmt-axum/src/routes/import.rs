//! SPEC §11 over HTTP: `POST /v1/users/bulk/import`, the request body streamed into the
//! library's import (no size limit, constant memory).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
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
    responses((status = 200, description = "The summary and the rejected rows; with `Accept: application/x-ndjson`, every row's report as a JSON line as it is decided, then `{\"summary\": …}`",
        content(
            (ImportAnswer = "application/json"),
            (String = "application/x-ndjson")
        ))))]
async fn import(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
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
    if wants_lines(&headers) {
        return streamed(state, principal, input, options).await;
    }
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
    })
    .into_response())
}

/// Whether the client asked for the per-row report as JSON Lines.
fn wants_lines(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(NDJSON))
}

const NDJSON: &str = "application/x-ndjson";

fn line(value: &impl Serialize) -> Bytes {
    let mut text = serde_json::to_vec(value).unwrap_or_default();
    text.push(b'\n');
    Bytes::from(text)
}

/// The import with every row's report streamed back as it is decided, one JSON line per row
/// (`line`, `outcome`, `id`, `errors`), then a last line `{"summary": …}` — or `{"error": …}`
/// when the import failed after the first rows were reported. An error before any row is
/// an ordinary error answer. The import goes at the pace the client reads; a client that
/// goes away stops it (rolled back).
async fn streamed<R>(
    state: ApiState,
    principal: usermgmt_core::Principal,
    input: R,
    options: ImportOptions,
) -> Result<Response, ApiError>
where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
{
    let (reports, mut heard) = tokio::sync::mpsc::channel(2);
    let service = state.service.clone();
    let task = tokio::spawn(async move {
        service
            .import_users_reporting(&principal, input, options, reports)
            .await
    });
    let first = heard.recv().await;
    let ended =
        |outcome: Result<Result<ImportSummary, usermgmt_core::Error>, tokio::task::JoinError>| {
            outcome.map_err(|e| {
                usermgmt_core::Error::Storage(usermgmt_core::StorageError::new("importing", e))
            })?
        };
    let Some(first) = first else {
        // Done before any row: an ordinary answer.
        let summary = ended(task.await)?;
        return Ok((
            [(header::CONTENT_TYPE, NDJSON)],
            line(&json!({ "summary": summary })),
        )
            .into_response());
    };
    let rows = futures_util::stream::once(async move { first })
        .chain(futures_util::stream::unfold(
            heard,
            |mut heard| async move { heard.recv().await.map(|batch| (batch, heard)) },
        ))
        .flat_map(|batch| futures_util::stream::iter(batch.into_iter().map(|r| line(&r))));
    let last = futures_util::stream::once(async move {
        match ended(task.await) {
            Ok(summary) => line(&json!({ "summary": summary })),
            Err(error) => {
                let error = ApiError::from(error);
                line(
                    &json!({ "error": { "code": error.code(), "message": error.message(), "fields": error.fields() } }),
                )
            }
        }
    });
    let body =
        axum::body::Body::from_stream(rows.chain(last).map(Ok::<_, std::convert::Infallible>));
    Ok(([(header::CONTENT_TYPE, NDJSON)], body).into_response())
}
