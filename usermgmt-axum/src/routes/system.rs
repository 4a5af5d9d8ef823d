//! SPEC §6.6: the system API for other services (system token, never a user session).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde::Deserialize;
use usermgmt_core::model::{Permission, Role, User};
use usermgmt_core::service::{GetOrCreateOutcome, GetOrCreateUser, SetFlags, UsersByIds};
use usermgmt_core::{Error, FieldErrors};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::common::{UserIdParam, path_id};
use crate::body::Body;
use crate::error::ApiError;
use crate::query::params;
use crate::state::ApiState;
use crate::system_auth::SystemCaller;

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(get_or_create))
        .routes(routes!(search))
        .routes(routes!(by_ids))
        .routes(routes!(assign_roles))
        .routes(routes!(grant))
        .routes(routes!(flags))
        .routes(routes!(role_by_name))
}

/// Finds a user by email, phone or username, or creates one: 201 when created, 200 when found.
#[utoipa::path(post, path = "/v1/system/users/get-or-create", tag = "system",
    request_body = GetOrCreateUser,
    responses((status = 200, body = GetOrCreateOutcome), (status = 201, body = GetOrCreateOutcome)))]
async fn get_or_create(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    Body(input): Body<GetOrCreateUser>,
) -> Result<(StatusCode, Json<GetOrCreateOutcome>), ApiError> {
    let outcome = state.service.system_get_or_create(&system, input).await?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
struct SearchParams {
    /// Required: text to search for.
    #[param(required = true, value_type = usermgmt_core::schemas::FilterText)]
    q: Option<String>,
    /// 1–100, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// Users matching a text search.
#[utoipa::path(get, path = "/v1/system/users/search", tag = "system", params(SearchParams),
    responses((status = 200, body = Vec<User>)))]
async fn search(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<User>>, ApiError> {
    let p: SearchParams = params(raw.as_deref())?;
    let q = p.q.ok_or_else(|| Error::invalid("q", "is required"))?;
    let users = state
        .service
        .system_search(&system, &q, p.limit.unwrap_or(20))
        .await?;
    Ok(Json(users))
}

/// `ids` comma-separated and/or repeated; users in request order, unknown ids in `missing`.
#[utoipa::path(get, path = "/v1/system/users/by-ids", tag = "system",
    params(("ids" = Vec<uuid::Uuid>, Query, max_items = 500, description = "User ids, comma-separated and/or repeated")),
    responses((status = 200, body = UsersByIds)))]
async fn by_ids(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<UsersByIds>, ApiError> {
    let mut errors = FieldErrors::new();
    let mut ids = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if key != "ids" {
            errors.add(key.into_owned(), "unknown query parameter");
            continue;
        }
        for id in value.split(',').map(str::trim) {
            match id.parse() {
                Ok(id) => ids.push(id),
                Err(_) => errors.add("ids", format!("`{id}` is not a UUID")),
            }
        }
    }
    if ids.is_empty() && errors.is_empty() {
        errors.add("ids", "is required");
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors).into());
    }
    Ok(Json(
        state.service.system_users_by_ids(&system, &ids).await?,
    ))
}

/// Role names to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Roles {
    /// Names of existing roles.
    #[schema(value_type = Vec<usermgmt_core::schemas::RoleName>, max_items = 100)]
    roles: Vec<String>,
}

/// Adds roles by name (existing ones are kept).
#[utoipa::path(post, path = "/v1/system/users/{user_id}/roles", tag = "system",
    params(UserIdParam), request_body = Roles, responses((status = 200, body = User)))]
async fn assign_roles(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    Path(user): Path<String>,
    Body(body): Body<Roles>,
) -> Result<Json<User>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(
        state
            .service
            .system_assign_roles(&system, user, &body.roles)
            .await?,
    ))
}

/// Permissions to grant.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Permissions {
    /// Permissions from the catalog.
    #[schema(max_items = 500)]
    permissions: Vec<Permission>,
}

/// Adds direct permissions (existing ones are kept).
#[utoipa::path(post, path = "/v1/system/users/{user_id}/permissions", tag = "system",
    params(UserIdParam), request_body = Permissions, responses((status = 200, body = User)))]
async fn grant(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    Path(user): Path<String>,
    Body(body): Body<Permissions>,
) -> Result<Json<User>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(
        state
            .service
            .system_grant_permissions(&system, user, &body.permissions)
            .await?,
    ))
}

/// Sets user-type flags.
#[utoipa::path(patch, path = "/v1/system/users/{user_id}/flags", tag = "system",
    params(UserIdParam), request_body = SetFlags, responses((status = 200, body = User)))]
async fn flags(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    Path(user): Path<String>,
    Body(flags): Body<SetFlags>,
) -> Result<Json<User>, ApiError> {
    let user = path_id(&user, "user_id")?;
    Ok(Json(
        state.service.system_set_flags(&system, user, flags).await?,
    ))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
struct RoleParams {
    /// Required: the role's name.
    #[param(required = true, value_type = usermgmt_core::schemas::RoleName)]
    name: Option<String>,
}

/// A role by name.
#[utoipa::path(get, path = "/v1/system/roles", tag = "system", params(RoleParams),
    responses((status = 200, body = Role)))]
async fn role_by_name(
    State(state): State<ApiState>,
    SystemCaller(system): SystemCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Role>, ApiError> {
    let p: RoleParams = params(raw.as_deref())?;
    let name = p
        .name
        .ok_or_else(|| Error::invalid("name", "is required"))?;
    Ok(Json(
        state.service.system_role_by_name(&system, &name).await?,
    ))
}
