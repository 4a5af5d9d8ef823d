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

/// Shortest accepted system token, in characters.
pub const MIN_SYSTEM_TOKEN_LEN: usize = 16;

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
    /// Peers whose `X-Forwarded-For` is believed (see [`ApiState::with_trusted_proxies`]).
    pub(crate) trusted_proxies: Arc<[ipnet::IpNet]>,
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
            trusted_proxies: Arc::new([]),
        }
    }

    /// Enables the system API (`/v1/system/…`) for callers sending this token as
    /// `Authorization: Bearer <token>` or in the
    /// [`SYSTEM_TOKEN_HEADER`](crate::SYSTEM_TOKEN_HEADER) header. Only its SHA-256 is kept.
    ///
    /// A token shorter than [`MIN_SYSTEM_TOKEN_LEN`] characters (an empty one included) is
    /// refused: it would open the system API to guessing.
    pub fn with_system_token(mut self, token: &str) -> Result<Self, usermgmt_core::Error> {
        if token.trim().chars().count() < MIN_SYSTEM_TOKEN_LEN {
            return Err(usermgmt_core::Error::invalid(
                "system_token",
                format!("must be at least {MIN_SYSTEM_TOKEN_LEN} characters"),
            ));
        }
        self.system_token = Some(Sha256::digest(token.as_bytes()).into());
        Ok(self)
    }

    /// Believes `X-Forwarded-For` from these reverse proxies (addresses or networks): the
    /// client address is then the right-most forwarded address that is not a trusted proxy.
    /// Without it, the peer address of the connection is the client (and the header is
    /// ignored). The peer address needs
    /// `into_make_service_with_connect_info::<SocketAddr>()`; a host can also put a
    /// [`ClientIp`](crate::ClientIp) in the request's extensions.
    pub fn with_trusted_proxies(mut self, proxies: impl IntoIterator<Item = ipnet::IpNet>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
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
