//! SPEC §6.7: log in, log out, who am I.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use usermgmt_core::password::Password;
use usermgmt_core::service::LoginRequest;

use crate::body::Body;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/me", get(me))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    identifier: String,
    password: Password,
}

/// `{token, session_id, user}`; the token is shown this once.
async fn login(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Body(body): Body<LoginBody>,
) -> Result<Json<Value>, ApiError> {
    let client = super::client_info(&headers);
    let request = LoginRequest {
        identifier: body.identifier,
        password: body.password,
    };
    let outcome = state.service.login(&state.tenant, request, client).await?;
    Ok(Json(super::new_session(outcome)))
}

async fn logout(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<StatusCode, ApiError> {
    state.service.logout(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<usermgmt_core::model::User>, ApiError> {
    Ok(Json(state.service.current_user(&principal).await?))
}
