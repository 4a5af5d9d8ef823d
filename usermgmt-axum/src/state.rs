//! What every handler shares, and the router that mounts the routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, FromRequestParts};
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use usermgmt_core::model::TenantId;
use usermgmt_core::{Principal, UserService};

use crate::error::ApiError;
use crate::principal::{PrincipalResolver, SessionTokenResolver};
use crate::routes;

/// Request bodies larger than this are refused with 413.
const BODY_LIMIT: usize = 1024 * 1024;

/// The service, the tenant that logins sign in to, and how callers are resolved.
#[derive(Clone)]
pub struct ApiState {
    pub(crate) service: Arc<UserService>,
    pub(crate) tenant: TenantId,
    pub(crate) resolver: Arc<dyn PrincipalResolver>,
    /// SHA-256 of the service-to-service token; the system routes refuse everyone without one.
    pub(crate) system_token: Option<[u8; 32]>,
}

impl ApiState {
    /// State over `service`; `POST /v1/auth/login` signs users in to `tenant`. Callers are
    /// resolved from session bearer tokens until [`ApiState::with_resolver`] says otherwise.
    pub fn new(service: Arc<UserService>, tenant: TenantId) -> Self {
        Self {
            service,
            tenant,
            resolver: Arc::new(SessionTokenResolver),
            system_token: None,
        }
    }

    /// Enables the system API (`/v1/system/…`) for callers sending this token in the
    /// [`SYSTEM_TOKEN_HEADER`](crate::SYSTEM_TOKEN_HEADER) header. Only its SHA-256 is kept.
    pub fn with_system_token(mut self, token: &str) -> Self {
        self.system_token = Some(Sha256::digest(token.as_bytes()).into());
        self
    }

    /// Resolves callers with the host app's own resolver.
    pub fn with_resolver(mut self, resolver: Arc<dyn PrincipalResolver>) -> Self {
        self.resolver = resolver;
        self
    }
}

/// The routes, ready to serve or to `nest` under a prefix in a host app's router.
pub fn router(state: ApiState) -> Router {
    let (routes, _) = routes::routes().split_for_parts();
    routes
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// The caller of a request, resolved by the state's [`PrincipalResolver`].
pub(crate) struct Caller(pub(crate) Principal);

impl<S> FromRequestParts<S> for Caller
where
    ApiState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ApiState::from_ref(state);
        let principal = state.resolver.resolve(&state.service, parts).await?;
        Ok(Caller(principal))
    }
}
