//! SCIM 2.0 over HTTP (RFC 7644, SPEC §12): `/Users`, `/Groups` (roles) and the discovery
//! endpoints, authenticated by a provisioning token, answering `application/scim+json` with
//! SCIM error bodies. Mount it with `Router::nest("/scim/v2", scim_router(state))`.

mod discovery;
mod groups;
mod http;
mod search;
mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use http::SCIM_JSON;
use http::ScimError;

use crate::state::ApiState;

/// Largest SCIM request body.
const SCIM_BODY_LIMIT: usize = 256 * 1024;

/// The SCIM routes over `state`'s service and tenant, to nest under `/scim/v2`.
pub fn scim_router(state: ApiState) -> Router {
    Router::new()
        .merge(discovery::routes())
        .merge(users::routes())
        .merge(groups::routes())
        .route(
            "/.search",
            axum::routing::post(|| async {
                ScimError::new(
                    StatusCode::NOT_IMPLEMENTED,
                    None,
                    "search one resource type at a time (POST /Users/.search)",
                )
            }),
        )
        .fallback(|| async { ScimError::new(StatusCode::NOT_FOUND, None, "no such SCIM endpoint") })
        .layer(DefaultBodyLimit::max(SCIM_BODY_LIMIT))
        .layer(axum::middleware::map_response(scim_errors))
        .with_state(state)
}

/// Gives bodiless 405s (and other router answers) a SCIM error body.
async fn scim_errors(response: Response) -> Response {
    let status = response.status();
    if response.headers().get(header::CONTENT_TYPE).is_some() || !status.is_client_error() {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut answer =
        ScimError::new(status, None, "this method is not allowed here").into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_LENGTH {
            answer.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    answer
}
