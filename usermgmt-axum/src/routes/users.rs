//! SPEC §6.1: the user list.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use usermgmt_core::filter::Page;
use usermgmt_core::model::User;

use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/users", get(list))
}

/// One page of users matching the query's filters (see [`crate::query`]).
async fn list(
    State(state): State<ApiState>,
    Caller(principal): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<User>>, ApiError> {
    let query = crate::query::list_query(raw.as_deref())?;
    Ok(Json(state.service.list_users(&principal, query).await?))
}
