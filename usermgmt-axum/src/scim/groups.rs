//! `/Groups`: the tenant's roles (except the super-admin role) with the users holding them.
//! Creating or renaming a group is `role.manage`; changing its members edits those users'
//! roles (`user.update`, within the token's reach), all of one request in one transaction.
//! Deleting a group takes it from its members, then deletes the role.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;
use usermgmt_core::Principal;
use usermgmt_core::model::{Role, SUPER_ADMIN_ROLE};
use usermgmt_core::scim::eval::matches;
use usermgmt_core::scim::filter::parse;
use usermgmt_core::scim::group::{GroupPatch, group_resource, patch_group, read_group};
use usermgmt_core::scim::projection::project;
use usermgmt_core::service::{CreateRole, MemberChange, UpdateRole};
use uuid::Uuid;

use super::http::{
    ScimCaller, ScimError, base_url, list_response, patch_operations, read_body, scim_json,
};
use super::search::{Search, Shape};
use crate::state::ApiState;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/Groups", get(list).post(create))
        .route("/Groups/.search", post(search))
        .route(
            "/Groups/{id}",
            get(read).put(replace).patch(modify).delete(remove),
        )
}

fn not_found() -> ScimError {
    ScimError::new(StatusCode::NOT_FOUND, None, "no such group")
}

async fn group(state: &ApiState, principal: &Principal, id: &str) -> Result<Role, ScimError> {
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    match state.service.member_role(principal, id).await {
        Ok(role) => Ok(role),
        Err(usermgmt_core::Error::NotFound(_)) => Err(not_found()),
        Err(other) => Err(other.into()),
    }
}

/// Whether a response shaped by `shape` shows members (so they must be read).
fn shows_members(shape: &Shape) -> bool {
    let named = |list: &[String]| {
        list.iter()
            .any(|a| a.to_ascii_lowercase().starts_with("members"))
    };
    (shape.attributes.is_empty() || named(&shape.attributes)) && !named(&shape.excluded)
}

async fn resource(
    state: &ApiState,
    principal: &Principal,
    role: &Role,
    base: &str,
    with_members: bool,
) -> Result<Value, ScimError> {
    let members = if with_members {
        Some(state.service.role_members(principal, role).await?)
    } else {
        None
    };
    Ok(group_resource(role, members.as_deref(), base))
}

async fn answer(
    state: &ApiState,
    principal: &Principal,
    role: &Role,
    headers: &HeaderMap,
    status: StatusCode,
    shape: &Shape,
) -> Result<Response, ScimError> {
    let base = base_url(headers);
    let body = resource(state, principal, role, &base, shows_members(shape)).await?;
    let mut response = scim_json(
        status,
        &project(body, &shape.attributes, &shape.excluded),
        None,
    );
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&format!("{base}/Groups/{}", role.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn run_search(
    state: &ApiState,
    principal: &Principal,
    headers: &HeaderMap,
    search: Search,
) -> Result<Response, ScimError> {
    let (start, count) = search.window();
    let order = search.order()?;
    let filter = match search.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        Some(text) => Some(parse(text)?),
        None => None,
    };
    match search
        .sort_by
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("displayname") => {}
        Some(_) => return Err(ScimError::bad("invalidValue", "groups sort by displayName")),
    }
    // Roles are few: the filter is evaluated on each group's resource as RFC 7644 defines it.
    // Members (up to 10,000 users a role) are read for every role only when the filter names
    // them; otherwise only for the groups on the page, when the answer shows them.
    let filter_needs_members = search
        .filter
        .as_deref()
        .is_some_and(|f| f.to_ascii_lowercase().contains("members"));
    let base = base_url(headers);
    let mut roles = state.service.list_roles(principal).await?;
    roles.retain(|r| r.name != SUPER_ADMIN_ROLE);
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    if order == usermgmt_core::filter::SortOrder::Desc {
        roles.reverse();
    }
    let mut found = Vec::new();
    for role in roles {
        let body = resource(state, principal, &role, &base, filter_needs_members).await?;
        if filter.as_ref().is_none_or(|f| matches(f, &body)) {
            found.push((role, body));
        }
    }
    let total = found.len() as u64;
    let shown = found
        .into_iter()
        .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
        .take(usize::try_from(count).unwrap_or(0));
    let mut page = Vec::new();
    for (role, body) in shown {
        let body = if shows_members(&search.shape) && !filter_needs_members {
            resource(state, principal, &role, &base, true).await?
        } else {
            body
        };
        page.push(project(
            body,
            &search.shape.attributes,
            &search.shape.excluded,
        ));
    }
    Ok(list_response(total, start, page))
}

async fn list(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    run_search(&state, &principal, &headers, Search::from_query(&query)?).await
}

async fn search(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let search = Search::from_body(&read_body(&body)?)?;
    run_search(&state, &principal, &headers, search).await
}

async fn create(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let input = read_group(&read_body(&body)?)?;
    let role = state
        .service
        .create_role(
            &principal,
            CreateRole {
                name: input.name.unwrap_or_default(),
                ..CreateRole::default()
            },
        )
        .await?;
    if !input.members.is_empty() {
        let change = [MemberChange::Replace(input.members)];
        if let Err(error) = state
            .service
            .change_role_members(&principal, &role, &change)
            .await
        {
            // The role and its members are two writes: take the role back when the members
            // cannot be written, so a failed create leaves nothing behind.
            let _ = state.service.delete_role(&principal, role.id).await;
            return Err(error.into());
        }
    }
    answer(
        &state,
        &principal,
        &role,
        &headers,
        StatusCode::CREATED,
        &Shape::default(),
    )
    .await
}

async fn read(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ScimError> {
    let role = group(&state, &principal, &id).await?;
    answer(
        &state,
        &principal,
        &role,
        &headers,
        StatusCode::OK,
        &Shape::from_query(&query),
    )
    .await
}

/// Renames the role when asked, then applies the member changes.
async fn apply(
    state: &ApiState,
    principal: &Principal,
    role: Role,
    rename: Option<String>,
    changes: &[MemberChange],
) -> Result<Role, ScimError> {
    let role = match rename.filter(|n| n.trim().to_ascii_lowercase() != role.name) {
        Some(name) => {
            let update = UpdateRole {
                name: Some(name),
                ..UpdateRole::default()
            };
            state
                .service
                .update_role(principal, role.id, update)
                .await?
        }
        None => role,
    };
    if !changes.is_empty() {
        state
            .service
            .change_role_members(principal, &role, changes)
            .await?;
    }
    Ok(role)
}

async fn replace(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let input = read_group(&read_body(&body)?)?;
    let role = group(&state, &principal, &id).await?;
    let name = input
        .name
        .ok_or_else(|| ScimError::bad("invalidValue", "displayName is required"))?;
    let changes = [MemberChange::Replace(input.members)];
    let role = apply(&state, &principal, role, Some(name), &changes).await?;
    answer(
        &state,
        &principal,
        &role,
        &headers,
        StatusCode::OK,
        &Shape::default(),
    )
    .await
}

async fn modify(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let body = read_body(&body)?;
    let operations = patch_operations(&body)?;
    let role = group(&state, &principal, &id).await?;
    let mut patch = GroupPatch::default();
    for (op, path, value) in operations {
        patch_group(&mut patch, op, path, value)?;
    }
    let role = apply(&state, &principal, role, patch.rename, &patch.members).await?;
    answer(
        &state,
        &principal,
        &role,
        &headers,
        StatusCode::OK,
        &Shape::default(),
    )
    .await
}

async fn remove(
    State(state): State<ApiState>,
    ScimCaller(principal): ScimCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    let role = group(&state, &principal, &id).await?;
    // A held role is not deleted (the admin API answers 409): its members lose it first, in
    // one transaction audited per user; a DELETE that fails after that (a member added
    // meanwhile) leaves the group without them, and is retried as a whole.
    state
        .service
        .change_role_members(&principal, &role, &[MemberChange::Clear])
        .await?;
    state.service.delete_role(&principal, role.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
