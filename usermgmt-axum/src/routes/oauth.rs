//! SPEC §6.4: linking and unlinking OAuth identities.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use usermgmt_core::model::{OAuthProvider, User};
use usermgmt_core::service::LinkOAuth;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{UserIdParam, path_id};
use crate::body::Body;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(link))
        .routes(routes!(unlink))
}

/// `{provider, provider_user_id}` → the user with the link.
#[utoipa::path(post, path = "/v1/users/{user_id}/oauth/link", tag = "oauth", params(UserIdParam),
    request_body = LinkOAuth, responses((status = 200, body = User)))]
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

/// The provider to unlink.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Unlink {
    /// Which provider.
    provider: OAuthProvider,
}

/// `{provider}` → the user without it (refused if it is their last way to sign in).
#[utoipa::path(post, path = "/v1/users/{user_id}/oauth/unlink", tag = "oauth",
    params(UserIdParam), request_body = Unlink, responses((status = 200, body = User)))]
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
