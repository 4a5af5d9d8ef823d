//! SPEC §6.3: a user's audit log and admin notes.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;
use usermgmt_core::filter::Page;
use usermgmt_core::model::{AuditEvent, Note};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{UserIdParam, path_id};
use crate::body::Body;
use crate::error::ApiError;
use crate::query::params;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(audit_logs))
        .routes(routes!(list_notes, create_note))
        .routes(routes!(delete_note))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
struct PageParams {
    /// Page number from 1 (default 1).
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u32>,
    /// Events per page (default 20, at most the configured maximum, 500 by default).
    #[param(minimum = 1, maximum = 500)]
    page_size: Option<u32>,
}

/// The user's audit log, newest first.
#[utoipa::path(get, path = "/v1/users/{user_id}/audit-logs", tag = "history",
    params(UserIdParam, PageParams), responses((status = 200, body = Page<AuditEvent>)))]
async fn audit_logs(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<AuditEvent>>, ApiError> {
    let user = path_id(&user, "user_id")?;
    let p: PageParams = params(raw.as_deref())?;
    let page = state
        .service
        .audit_log(
            &principal,
            user,
            p.page.unwrap_or(1),
            p.page_size.unwrap_or(20),
        )
        .await?;
    Ok(Json(page))
}

/// Admin notes on the user, newest first.
#[utoipa::path(get, path = "/v1/users/{user_id}/notes", tag = "history", params(UserIdParam),
    responses((status = 200, body = Vec<Note>)))]
async fn list_notes(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
) -> Result<Json<Vec<Note>>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(state.service.list_notes(&principal, user).await?))
}

/// A note to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewNote {
    /// The text: 1–5,000 characters, not only spaces.
    #[schema(min_length = 1, max_length = 5000, pattern = r"\S")]
    body: String,
}

/// Adds a note.
#[utoipa::path(post, path = "/v1/users/{user_id}/notes", tag = "history", params(UserIdParam),
    request_body = NewNote, responses((status = 201, body = Note)))]
async fn create_note(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
    Body(note): Body<NewNote>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    let user = path_id(&user, "user_id")?;
    let note = state
        .service
        .create_note(&principal, user, &note.body)
        .await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// Deletes a note.
#[utoipa::path(delete, path = "/v1/users/{user_id}/notes/{note_id}", tag = "history",
    params(UserIdParam, ("note_id" = uuid::Uuid, Path, description = "The note's id")),
    responses((status = 204, description = "The note was deleted")))]
async fn delete_note(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path((user, note)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user = path_id(&user, "user_id")?;
    let note = path_id(&note, "note_id")?;
    state.service.delete_note(&principal, user, note).await?;
    Ok(StatusCode::NO_CONTENT)
}
