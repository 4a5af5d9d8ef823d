//! SPEC §6.1: the user list.

use axum::Json;
use axum::extract::{RawQuery, State};
use usermgmt_core::filter::{EnrollmentFilters, Page, UserFilters};
use usermgmt_core::model::User;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// One page of users matching the query's filters (see [`crate::query`]). Multi-valued filters
/// take comma-separated values, repeated keys or both.
#[utoipa::path(get, path = "/v1/users", tag = "users",
    params(UserFilters, EnrollmentFilters, crate::query::Paging),
    responses((status = 200, body = Page<User>)))]
async fn list(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<User>>, ApiError> {
    let query = crate::query::list_query(raw.as_deref())?;
    Ok(Json(state.service.list_users(&principal, query).await?))
}
