//! What every handler shares: the state and the resolved caller.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use usermgmt_core::model::TenantId;
use usermgmt_core::{Principal, UserService};

use crate::error::ApiError;
use crate::principal::{PrincipalResolver, SessionTokenResolver};

/// Shortest accepted system token, in characters.
pub const MIN_SYSTEM_TOKEN_LEN: usize = 16;

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
    /// The served OpenAPI document, built once (it names the service's permissions).
    pub(crate) openapi: Arc<std::sync::OnceLock<axum::body::Bytes>>,
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
            openapi: Arc::default(),
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
