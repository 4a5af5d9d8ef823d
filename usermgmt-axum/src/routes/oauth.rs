//! SPEC §6.4: linking and unlinking OAuth identities.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use usermgmt_core::model::{OAuthProvider, User};
use usermgmt_core::service::LinkOAuth;

use super::path_id;
use crate::body::Body;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/users/{user_id}/oauth/link", post(link))
        .route("/v1/users/{user_id}/oauth/unlink", post(unlink))
}

/// `{provider, provider_user_id}` → the user with the link.
async fn link(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
    Body(input): Body<LinkOAuth>,
) -> Result<Json<User>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(
        state.service.link_oauth(&principal, user, input).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Unlink {
    provider: OAuthProvider,
}

/// `{provider}` → the user without it (refused if it is their last way to sign in).
async fn unlink(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    Path(user): Path<String>,
    Body(input): Body<Unlink>,
) -> Result<Json<User>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(
        state
            .service
            .unlink_oauth(&principal, user, input.provider)
            .await?,
    ))
}
