//! Who is calling: the trait a host app implements, and the default over session tokens.

use async_trait::async_trait;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use usermgmt_core::model::{Permission, SessionToken};
use usermgmt_core::service::Actor;
use usermgmt_core::{Error, Principal, Result, UserService};

/// Resolves the principal of a request. Host apps with their own authentication implement it
/// (e.g. from their own session cookie) and pass it to [`crate::ApiState::with_resolver`].
#[async_trait]
pub trait PrincipalResolver: Send + Sync + 'static {
    /// The caller of this request; [`Error::Unauthenticated`] when there is none.
    async fn resolve(&self, service: &UserService, parts: &Parts) -> Result<Principal>;

    /// The caller of this request and the acting user, when they hold `permission` (what a
    /// [`crate::require`] guard asks). The default resolves the caller, then calls
    /// [`UserService::check_permission`]; a resolver that can do both in one storage read
    /// overrides it with the same answers.
    async fn resolve_checked(
        &self,
        service: &UserService,
        parts: &Parts,
        permission: &Permission,
    ) -> Result<(Principal, Actor)> {
        let principal = self.resolve(service, parts).await?;
        let actor = service.check_permission(&principal, permission).await?;
        Ok((principal, actor))
    }
}

/// The default: `Authorization: Bearer <session token>` from [`UserService::login`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionTokenResolver;

/// The bearer token of a request, if it carries one.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The request's bearer token; [`Error::Unauthenticated`] without one.
fn required_bearer(parts: &Parts) -> Result<SessionToken> {
    bearer(parts)
        .map(SessionToken::from_client)
        .ok_or_else(|| Error::Unauthenticated("a bearer token is required".into()))
}

#[async_trait]
impl PrincipalResolver for SessionTokenResolver {
    async fn resolve(&self, service: &UserService, parts: &Parts) -> Result<Principal> {
        let (principal, _session) = service.authenticate(&required_bearer(parts)?).await?;
        Ok(principal)
    }

    /// The session and its user's grants in one storage read
    /// ([`UserService::authenticate_for`]).
    async fn resolve_checked(
        &self,
        service: &UserService,
        parts: &Parts,
        permission: &Permission,
    ) -> Result<(Principal, Actor)> {
        let (principal, _session, actor) = service
            .authenticate_for(&required_bearer(parts)?, permission)
            .await?;
        Ok((principal, actor))
    }
}
