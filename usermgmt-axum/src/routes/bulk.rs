//! SPEC §6.1: the bulk routes — streamed export and bulk delete.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use usermgmt_core::filter::{EnrollmentFilters, UserFilters};
use usermgmt_core::service::BulkDeleteOutcome;
use usermgmt_core::service::{BulkDeleteRequest, ExportFormat};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::body::Body;
use crate::error::ApiError;
use crate::query::filters_and;
use crate::state::{ApiState, Caller};

/// Names the skipped filters of an export, whose body cannot carry them.
const SKIPPED_FILTERS_HEADER: &str = "x-skipped-filters";

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(export))
        .routes(routes!(bulk_delete))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
struct ExportParams {
    /// `csv` (default) or `json_lines`.
    format: Option<ExportFormat>,
}

/// Every user matching the filters, streamed as it is read (constant memory), as an
/// attachment named `users.csv` (or `users.jsonl` with `format=json_lines`).
#[utoipa::path(get, path = "/v1/users/bulk/export", tag = "bulk",
    params(UserFilters, EnrollmentFilters, ExportParams),
    responses((status = 200, description = "The users, streamed as an attachment",
        content((String = "text/csv"), (String = "application/x-ndjson")),
        headers(("Content-Disposition" = String), ("X-Skipped-Filters" = String,
            description = "Filters this deployment could not apply, comma-separated")))))]
async fn export(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (filters, params): (_, ExportParams) = filters_and(raw.as_deref())?;
    let format = params.format.unwrap_or_default();
    let export = state.service.export(&principal, filters, format).await?;
    let skipped = export.skipped_filters.join(",");
    let stream = futures_util::stream::unfold(export, |mut export| async move {
        export.next_chunk().await.map(|chunk| (chunk, export))
    });
    let mut response = axum::body::Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let disposition = format!("attachment; filename=\"users.{}\"", format.extension());
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    if !skipped.is_empty()
        && let Ok(value) = HeaderValue::from_str(&skipped)
    {
        headers.insert(SKIPPED_FILTERS_HEADER, value);
    }
    Ok(response)
}

/// `{"user_ids": [...]}` or `{"filters": {...}}` (an empty filter is refused); one transaction.
#[utoipa::path(delete, path = "/v1/users/bulk/delete", tag = "bulk",
    request_body = BulkDeleteRequest, responses((status = 200, body = BulkDeleteOutcome)))]
async fn bulk_delete(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Body(request): Body<BulkDeleteRequest>,
) -> Result<Json<BulkDeleteOutcome>, ApiError> {
    Ok(Json(state.service.bulk_delete(&principal, request).await?))
}
