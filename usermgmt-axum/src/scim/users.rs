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
use usermgmt_core::filter::{ListQuery, SortBy, SortOrder};
use usermgmt_core::model::{Status, User};
use usermgmt_core::scim::compile::{Compiled, compile};
use usermgmt_core::scim::eval::member;
use usermgmt_core::scim::filter::parse;
use usermgmt_core::scim::patch::{MAX_PATCH_OPERATIONS, PATCH_OP, apply};
use usermgmt_core::scim::projection::project;
use usermgmt_core::scim::user::{etag, read_user, user_resource};
use uuid::Uuid;

use super::http::{ScimCaller, ScimError, base_url, if_match, list_response, read_body, scim_json};
use crate::state::ApiState;

/// Results per page when the client does not say.
const DEFAULT_COUNT: u64 = 100;
/// Most results per page.
const MAX_COUNT: u64 = 500;

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

/// `attributes` / `excludedAttributes`.
#[derive(Debug, Default)]
struct Shape {
    attributes: Vec<String>,
    excluded: Vec<String>,
}

fn names(text: Option<&String>) -> Vec<String> {
    text.map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

impl Shape {
    fn from_query(query: &HashMap<String, String>) -> Self {
        Self {
            attributes: names(query.get("attributes")),
            excluded: names(query.get("excludedAttributes")),
        }
    }
}

/// A list or search request.
#[derive(Debug, Default)]
struct Search {
    filter: Option<String>,
    start: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    shape: Shape,
}

fn number(text: Option<&String>, name: &str) -> Result<Option<i64>, ScimError> {
    text.map(|t| {
        t.trim()
            .parse()
            .map_err(|_| ScimError::bad("invalidValue", format!("`{name}` must be an integer")))
    })
    .transpose()
}

impl Search {
    fn from_query(query: &HashMap<String, String>) -> Result<Self, ScimError> {
        Ok(Self {
            filter: query.get("filter").cloned(),
            start: number(query.get("startIndex"), "startIndex")?,
            count: number(query.get("count"), "count")?,
            sort_by: query.get("sortBy").cloned(),
            sort_order: query.get("sortOrder").cloned(),
            shape: Shape::from_query(query),
        })
    }

    fn from_body(body: &Value) -> Result<Self, ScimError> {
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match member(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::bad(
                    "invalidValue",
                    format!("`{name}` must be a string"),
                )),
            }
        };
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            match member(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                    ScimError::bad("invalidValue", format!("`{name}` must be an integer"))
                }),
            }
        };
        let list = |name: &str| -> Result<Vec<String>, ScimError> {
            match member(body, name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_owned).ok_or_else(|| {
                            ScimError::bad("invalidValue", format!("`{name}` must list strings"))
                        })
                    })
                    .collect(),
                Some(_) => Err(ScimError::bad(
                    "invalidValue",
                    format!("`{name}` must be an array"),
                )),
            }
        };
        Ok(Self {
            filter: text("filter")?,
            start: int("startIndex")?,
            count: int("count")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            shape: Shape {
                attributes: list("attributes")?,
                excluded: list("excludedAttributes")?,
            },
        })
    }
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
    let start = u64::try_from(search.start.unwrap_or(1).max(1)).unwrap_or(1);
    let count = u64::try_from(search.count.unwrap_or(DEFAULT_COUNT as i64).max(0))
        .unwrap_or(0)
        .min(MAX_COUNT);
    let filters = match search.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        None => Default::default(),
        Some(text) => match compile(&parse(text)?)? {
            Compiled::Nothing => return Ok(list_response(0, start, Vec::new())),
            Compiled::Filters(filters) => *filters,
        },
    };
    let sort_by = sort_key(search.sort_by.as_deref())?;
    let sort_order = match search.sort_order.as_deref().map(str::to_ascii_lowercase) {
        None => SortOrder::Asc,
        Some(o) if o == "ascending" => SortOrder::Asc,
        Some(o) if o == "descending" => SortOrder::Desc,
        Some(_) => {
            return Err(ScimError::bad(
                "invalidValue",
                "sortOrder is ascending or descending",
            ));
        }
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

/// Makes `current` what `resource` (a whole User) says.
async fn write(
    state: &ApiState,
    principal: &Principal,
    current: &User,
    resource: &Value,
    headers: &HeaderMap,
) -> Result<Response, ScimError> {
    let update = read_user(resource)?.replace(current, if_match(headers)?);
    let user = state
        .service
        .update_user(principal, current.id, update)
        .await?;
    Ok(answer(
        StatusCode::OK,
        &user,
        &base_url(headers),
        &Shape::default(),
    ))
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
    write(&state, &principal, &current, &resource, &headers).await
}

async fn modify(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body = read_body(&body)?;
    let schemas_ok = member(&body, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(PATCH_OP)));
    if !schemas_ok {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must list {PATCH_OP}"),
        ));
    }
    let Some(Value::Array(operations)) = member(&body, "Operations") else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "Operations must be an array",
        ));
    };
    if operations.is_empty() || operations.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("a PATCH carries 1-{MAX_PATCH_OPERATIONS} operations"),
        ));
    }
    let current = visible(&state, &principal, &id).await?;
    let base = base_url(&headers);
    let mut resource = user_resource(&current, &base);
    for operation in operations {
        let op = member(operation, "op")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimError::bad("invalidSyntax", "every operation needs an `op`"))?;
        let path = match member(operation, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(p.as_str()),
            Some(_) => return Err(ScimError::bad("invalidPath", "`path` must be a string")),
        };
        apply(&mut resource, op, path, member(operation, "value").cloned())?;
    }
    write(&state, &principal, &current, &resource, &headers).await
}

async fn remove(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    let user = visible(&state, &principal, &id).await?;
    state.service.delete_user(&principal, user.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
