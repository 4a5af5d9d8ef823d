//! SPEC §6.3: a user's audit log and admin notes.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use usermgmt_core::filter::Page;
use usermgmt_core::model::{AuditEvent, Note};

use super::path_id;
use crate::body::Body;
use crate::error::ApiError;
use crate::query::params;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/users/{user_id}/audit-logs", get(audit_logs))
        .route(
            "/v1/users/{user_id}/notes",
            get(list_notes).post(create_note),
        )
        .route("/v1/users/{user_id}/notes/{note_id}", delete(delete_note))
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct PageParams {
    page: Option<u32>,
    page_size: Option<u32>,
}

/// Newest first; `page` from 1, 20 events by default.
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

async fn list_notes(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
) -> Result<Json<Vec<Note>>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(state.service.list_notes(&principal, user).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNote {
    body: String,
}

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
