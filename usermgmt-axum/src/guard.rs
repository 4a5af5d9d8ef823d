//! Guarding the host application's own routes with usermgmt's permissions.
//!
//! [`require`] builds a `tower` layer for one route (`route_layer`) or a whole router
//! (`layer`): it resolves the caller with the state's [`PrincipalResolver`], checks the
//! permission with [`UserService::check_permission`], and either answers 401/403 in the JSON
//! error model or runs the handler, which finds the caller in the [`Authorized`] extractor.
//!
//! [`PrincipalResolver`]: crate::PrincipalResolver
//! [`UserService::check_permission`]: usermgmt_core::UserService::check_permission

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use usermgmt_core::model::Permission;
use usermgmt_core::service::Actor;
use usermgmt_core::{Error, Principal};

use crate::error::ApiError;
use crate::state::ApiState;

/// The caller of a guarded route: who they are and what they hold, as checked by the
/// [`require`] layer in front of the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The caller (an impersonation session says so in its principal).
    pub principal: Principal,
    /// The acting user, with their effective permissions at the check.
    pub actor: Actor,
    /// The permission the innermost `require` layer checked (a router-wide layer and a
    /// route's own layer both check; the route's is the one named here).
    pub permission: Permission,
}

impl<S: Send + Sync> FromRequestParts<S> for Authorized {
    type Rejection = ApiError;

    /// The caller the [`require`] layer admitted. On a route without that layer there is
    /// none, and the request fails closed (500) rather than running unchecked.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authorized>()
            .cloned()
            .ok_or_else(ApiError::unguarded)
    }
}

/// A layer admitting only callers who hold one permission (see [`require`]).
#[derive(Clone)]
pub struct RequirePermission {
    state: ApiState,
    permission: Permission,
}

impl std::fmt::Debug for RequirePermission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequirePermission")
            .field("permission", &self.permission)
            .finish_non_exhaustive()
    }
}

/// A layer admitting only callers of `state`'s service who hold `permission`: no or a bad
/// session answers 401, a user who is not active 401, a missing permission 403
/// (`forbidden`), and a read-only impersonation session asking for a permission registered
/// as writing 403 (`impersonation_read_only`). Grants are read on every request, so a
/// revocation applies to the next one.
///
/// `permission` must be registered in the service's
/// [`PermissionRegistry`](usermgmt_core::model::PermissionRegistry) (a built-in one or the
/// host's); an unknown name is refused here, when the app is built, rather than on every
/// request.
///
/// ```no_run
/// # async fn demo(state: usermgmt_axum::ApiState) -> Result<(), usermgmt_core::Error> {
/// use axum::{Router, routing::post};
/// use usermgmt_axum::{Authorized, require};
///
/// async fn create_course(caller: Authorized) -> String {
///     format!("course created by {}", caller.actor.user_id)
/// }
/// let app: Router = Router::new()
///     .route("/courses", post(create_course))
///     .route_layer(require(&state, "course.create")?);
/// # Ok(()) }
/// ```
pub fn require(state: &ApiState, permission: &str) -> Result<RequirePermission, Error> {
    let permission = state
        .service
        .permissions()
        .get(permission)
        .cloned()
        .ok_or_else(|| {
            Error::invalid(
                "permission",
                format!("`{permission}` is not a registered permission"),
            )
        })?;
    Ok(RequirePermission {
        state: state.clone(),
        permission,
    })
}

impl RequirePermission {
    /// The permission this layer asks for.
    pub fn permission(&self) -> &Permission {
        &self.permission
    }

    async fn admit(&self, parts: &Parts) -> Result<Authorized, Error> {
        let (principal, actor) = self
            .state
            .resolver
            .resolve_checked(&self.state.service, parts, &self.permission)
            .await?;
        Ok(Authorized {
            principal,
            actor,
            permission: self.permission.clone(),
        })
    }
}

impl<S> tower_layer::Layer<S> for RequirePermission {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            inner,
            guard: self.clone(),
        }
    }
}

/// A service behind a [`RequirePermission`] layer.
#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    guard: RequirePermission,
}

impl<S> tower_service::Service<Request> for Guarded<S>
where
    S: tower_service::Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match guard.admit(&parts).await {
                Ok(authorized) => {
                    parts.extensions.insert(authorized);
                    let response = inner.call(Request::from_parts(parts, body)).await;
                    Ok(response.into_response())
                }
                Err(error) => Ok(ApiError::from(error).into_response()),
            }
        })
    }
}
