//! The router: every route with its state and layers, and the OpenAPI document of them.

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::ApiState;

/// Request bodies larger than this are refused with 413.
const BODY_LIMIT: usize = 1024 * 1024;

/// Every route, the document's own included.
fn all_routes() -> OpenApiRouter<ApiState> {
    crate::routes::routes().merge(OpenApiRouter::new().routes(routes!(openapi_json)))
}

/// The routes, ready to serve or to `nest` under a prefix in a host app's router.
pub fn router(state: ApiState) -> Router {
    let (routes, _) = all_routes().split_for_parts();
    routes
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

/// Gives the router's bodiless error answers (an unknown path's 404, a known path's 405)
/// the JSON error body of every other error. [`router`] applies it; a host that merges the
/// router with others can apply it to the whole app with
/// `axum::middleware::map_response(json_errors)`.
pub async fn json_errors(response: axum::response::Response) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let status = response.status();
    let bodiless = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_none();
    if !bodiless || !(status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED) {
        return response;
    }
    let (parts, _) = response.into_parts();
    let error = if status == StatusCode::NOT_FOUND {
        ApiError::from(usermgmt_core::Error::NotFound("route"))
    } else {
        ApiError::method_not_allowed()
    };
    let mut answer = error.into_response();
    // Keep what the router said (e.g. `Allow` on a 405).
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_LENGTH {
            answer.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    answer
}

/// The OpenAPI document of every route [`router`] mounts, for a host app that wants to merge
/// it into its own or publish it elsewhere.
pub fn openapi() -> OpenApi {
    let (_, paths) = all_routes().split_for_parts();
    crate::openapi::complete(paths)
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
async fn openapi_json(State(state): State<ApiState>) -> impl IntoResponse {
    let body = state.openapi.get_or_init(|| {
        crate::openapi::with_registry(openapi(), state.service.permissions())
            .to_json()
            .unwrap_or_else(|_| "{}".to_owned())
            .into()
    });
    ([(CONTENT_TYPE, "application/json")], body.clone())
}
