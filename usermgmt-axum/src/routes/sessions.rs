//! SPEC §6.2: a user's sessions, and impersonation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use usermgmt_core::model::Session;
use usermgmt_core::service::ImpersonateRequest;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{NewSession, UserIdParam, client_info, path_id};
use crate::body::Body;
use crate::client::ClientAddress;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, terminate_all))
        .routes(routes!(terminate))
        .routes(routes!(impersonate))
}

/// How many sessions were ended.
#[derive(Serialize, ToSchema)]
struct Terminated {
    terminated: u64,
}

/// A user's sessions, newest first.
#[utoipa::path(get, path = "/v1/users/{user_id}/sessions", tag = "sessions", params(UserIdParam),
    responses((status = 200, body = Vec<Session>)))]
async fn list(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
) -> Result<Json<Vec<Session>>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(state.service.list_sessions(&principal, user).await?))
}

/// Ends every active session of the user: `{"terminated": n}`.
#[utoipa::path(delete, path = "/v1/users/{user_id}/sessions", tag = "sessions",
    params(UserIdParam), responses((status = 200, body = Terminated)))]
async fn terminate_all(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
) -> Result<Json<Terminated>, ApiError> {
    let user = path_id(&user, "user_id")?;
    let terminated = state
        .service
        .terminate_all_sessions(&principal, user)
        .await?;
    Ok(Json(Terminated { terminated }))
}

/// Ends one session.
#[utoipa::path(delete, path = "/v1/users/{user_id}/sessions/{session_id}", tag = "sessions",
    params(UserIdParam, ("session_id" = uuid::Uuid, Path, description = "The session's id")),
    responses((status = 204, description = "The session ended")))]
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
#[utoipa::path(post, path = "/v1/users/{user_id}/impersonate", tag = "sessions",
    params(UserIdParam), request_body = ImpersonateRequest,
    responses((status = 201, body = NewSession)))]
async fn impersonate(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
    ClientAddress(ip): ClientAddress,
    headers: HeaderMap,
    Body(request): Body<ImpersonateRequest>,
) -> Result<(StatusCode, Json<NewSession>), ApiError> {
    let user = path_id(&user, "user_id")?;
    let outcome = state
        .service
        .impersonate(&principal, user, request, client_info(&headers, ip))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(super::common::new_session(outcome)),
    ))
}
