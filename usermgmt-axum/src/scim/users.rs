//! `/Users`: create, read, replace, patch, delete (soft) and list/search with filters, paging,
//! sorting and attribute selection.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;
use usermgmt_core::Principal;
use usermgmt_core::filter::{ListQuery, SortBy, UserFilters};
use usermgmt_core::model::{Status, User};
use usermgmt_core::scim::compile::{Compiled, compile};
use usermgmt_core::scim::filter::parse;
use usermgmt_core::scim::patch::apply;
use usermgmt_core::scim::projection::project;
use usermgmt_core::scim::user::{etag, read_user, user_resource};
use uuid::Uuid;

use super::http::{
    ScimCaller, ScimError, base_url, if_match, list_response, patch_operations, read_body,
    scim_json,
};
use super::search::{Search, Shape};
use crate::state::ApiState;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/Users", get(list).post(create))
        .route("/Users/.search", post(search))
        .route(
            "/Users/{id}",
            get(read).put(replace).patch(modify).delete(remove),
        )
}

fn not_found() -> ScimError {
    ScimError::new(StatusCode::NOT_FOUND, None, "no such user")
}

/// A user that SCIM sees: deleted users are gone.
async fn visible(state: &ApiState, principal: &Principal, id: &str) -> Result<User, ScimError> {
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    match state.service.get_user(principal, id).await {
        Ok(user) if user.status != Status::Deleted => Ok(user),
        Ok(_) | Err(usermgmt_core::Error::NotFound(_)) => Err(not_found()),
        Err(other) => Err(other.into()),
    }
}

fn answer(status: StatusCode, user: &User, base: &str, shape: &Shape) -> Response {
    let resource = project(
        user_resource(user, base),
        &shape.attributes,
        &shape.excluded,
    );
    let mut response = scim_json(status, &resource, Some(&etag(user.version)));
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&format!("{base}/Users/{}", user.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn sort_key(name: Option<&str>) -> Result<SortBy, ScimError> {
    let Some(name) = name else {
        return Ok(SortBy::CreatedAt);
    };
    let name = name.trim().to_ascii_lowercase();
    Ok(match name.as_str() {
        "displayname" | "name.formatted" => SortBy::Name,
        "emails" | "emails.value" => SortBy::Email,
        "meta.created" => SortBy::CreatedAt,
        _ => {
            return Err(ScimError::bad(
                "invalidValue",
                "sortBy takes displayName, emails.value or meta.created",
            ));
        }
    })
}

async fn run_search(
    state: &ApiState,
    principal: &Principal,
    base: &str,
    search: Search,
) -> Result<Response, ScimError> {
    let (start, count) = search.window();
    let sort_by = sort_key(search.sort_by.as_deref())?;
    let sort_order = search.order()?;
    let filters = match search.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        None => Default::default(),
        Some(text) => match compile(&parse(text)?)? {
            // No user can match; the list still runs (on an id no user has), so the caller
            // is authorised like any other.
            Compiled::Nothing => UserFilters {
                ids: vec![Uuid::nil()],
                ..UserFilters::default()
            },
            Compiled::Filters(filters) => *filters,
        },
    };
    // SCIM pages start anywhere; usermgmt's pages are aligned to their size: read the one or
    // two aligned pages of `count` rows that cover [start, start + count).
    let size = count.max(1);
    let offset = start - 1;
    let first_page = offset / size + 1;
    let skip = usize::try_from(offset % size).unwrap_or(0);
    let page = |number: u64, include_total: bool| ListQuery {
        filters: filters.clone(),
        sort_by,
        sort_order,
        page: u32::try_from(number).unwrap_or(u32::MAX),
        page_size: u32::try_from(size).unwrap_or(1),
        cursor: None,
        include_total,
    };
    let first = state
        .service
        .list_users(principal, page(first_page, true))
        .await?;
    let total = first.total.unwrap_or(0);
    let mut users: Vec<User> = first.items.into_iter().skip(skip).collect();
    if skip > 0 && count > 0 && first.next_cursor.is_some() {
        let next = state
            .service
            .list_users(principal, page(first_page + 1, false))
            .await?;
        users.extend(next.items.into_iter().take(skip));
    }
    users.truncate(usize::try_from(count).unwrap_or(0));
    let resources = users
        .iter()
        .map(|u| {
            project(
                user_resource(u, base),
                &search.shape.attributes,
                &search.shape.excluded,
            )
        })
        .collect();
    Ok(list_response(total, start, resources))
}

async fn list(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    let search = Search::from_query(&query)?;
    run_search(&state, &principal, &base_url(&headers), search).await
}

async fn search(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let search = Search::from_body(&read_body(&body)?)?;
    run_search(&state, &principal, &base_url(&headers), search).await
}

async fn create(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let input = read_user(&read_body(&body)?)?.create();
    let user = state.service.create_user(&principal, input).await?;
    Ok(answer(
        StatusCode::CREATED,
        &user,
        &base_url(&headers),
        &Shape::default(),
    ))
}

async fn read(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    let user = visible(&state, &principal, &id).await?;
    Ok(answer(
        StatusCode::OK,
        &user,
        &base_url(&headers),
        &Shape::from_query(&query),
    ))
}

/// Makes `current` what `resource` (a whole User) says, if it is still at `expected`.
async fn write(
    state: &ApiState,
    principal: &Principal,
    current: &User,
    resource: &Value,
    expected: Option<i64>,
) -> Result<User, ScimError> {
    let update = read_user(resource)?.replace(current, expected);
    Ok(state
        .service
        .update_user(principal, current.id, update)
        .await?)
}

async fn replace(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let resource = read_body(&body)?;
    let current = visible(&state, &principal, &id).await?;
    let user = write(&state, &principal, &current, &resource, if_match(&headers)?).await?;
    Ok(answer(
        StatusCode::OK,
        &user,
        &base_url(&headers),
        &Shape::default(),
    ))
}

/// Times a PATCH without `If-Match` is re-applied to a user that changed meanwhile.
const PATCH_ATTEMPTS: u32 = 3;

async fn modify(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body = read_body(&body)?;
    let operations = patch_operations(&body)?;
    let asked = if_match(&headers)?;
    let base = base_url(&headers);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = visible(&state, &principal, &id).await?;
        let mut resource = user_resource(&current, &base);
        for (op, path, value) in &operations {
            apply(&mut resource, op, *path, value.cloned())?;
        }
        // The operations applied to this version of the user are written only over this
        // version: a concurrent change is never overwritten with stale values.
        let expected = asked.unwrap_or(current.version);
        match write(&state, &principal, &current, &resource, Some(expected)).await {
            Ok(user) => return Ok(answer(StatusCode::OK, &user, &base, &Shape::default())),
            Err(e) if asked.is_none() && attempt < PATCH_ATTEMPTS && e.is_version_conflict() => {}
            Err(e) => return Err(e),
        }
    }
}

async fn remove(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    let user = visible(&state, &principal, &id).await?;
    if if_match(&headers)?.is_some_and(|v| v != user.version) {
        return Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "the user changed since that version",
        ));
    }
    state.service.delete_user(&principal, user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
