//! SPEC §6.1: users (so far: the list and statistics).

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use usermgmt_core::filter::Page;
use usermgmt_core::model::{User, UserStats};

use crate::error::ApiError;
use crate::state::{ApiState, Caller};

pub(crate) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/users", get(list))
        .route("/v1/users/stats", get(stats))
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

async fn stats(
    State(state): State<ApiState>,
    Caller(principal): Caller,
) -> Result<Json<UserStats>, ApiError> {
    Ok(Json(state.service.stats(&principal).await?))
}
