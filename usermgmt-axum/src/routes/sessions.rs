//! SPEC §6.2: a user's sessions, and impersonation.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use usermgmt_core::model::Session;
use usermgmt_core::service::ImpersonateRequest;

use super::{client_info, path_id};
use crate::body::Body;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/v1/users/{user_id}/sessions",
            get(list).delete(terminate_all),
        )
        .route(
            "/v1/users/{user_id}/sessions/{session_id}",
            delete(terminate),
        )
        .route("/v1/users/{user_id}/impersonate", post(impersonate))
}

async fn list(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
) -> Result<Json<Vec<Session>>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(state.service.list_sessions(&principal, user).await?))
}

/// Answers `{"terminated": n}`.
async fn terminate_all(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = path_id(&user, "user_id")?;
    let terminated = state
        .service
        .terminate_all_sessions(&principal, user)
        .await?;
    Ok(Json(json!({ "terminated": terminated })))
}

async fn terminate(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path((user, session)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user = path_id(&user, "user_id")?;
    let session = path_id(&session, "session_id")?;
    state
        .service
        .terminate_session(&principal, user, session)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{mode, reason}` → `{token, session_id, user}` for a session acting as the user.
async fn impersonate(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
    headers: HeaderMap,
    Body(request): Body<ImpersonateRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = path_id(&user, "user_id")?;
    let outcome = state
        .service
        .impersonate(&principal, user, request, client_info(&headers))
        .await?;
    Ok((StatusCode::CREATED, Json(super::new_session(outcome))))
}
