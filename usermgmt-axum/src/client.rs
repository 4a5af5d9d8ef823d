//! The client's IP address, recorded on sessions and used by the login throttle.
//!
//! In order: a [`ClientIp`] the host put in the request's extensions (its own proxy logic);
//! else the peer address from axum's `ConnectInfo<SocketAddr>` (serve with
//! `into_make_service_with_connect_info::<SocketAddr>()`), replaced — only when that peer is
//! a configured trusted proxy — by the right-most `X-Forwarded-For` address that is not
//! itself a trusted proxy. `X-Forwarded-For` from anyone else is ignored, so a client cannot
//! choose the address it is throttled under.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::ApiState;

/// A client address the host application determined itself: insert it into the request's
/// extensions (e.g. in a middleware) and the router uses it as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client address of a request, if known.
pub(crate) struct ClientAddress(pub(crate) Option<IpAddr>);

impl<S> FromRequestParts<S> for ClientAddress
where
    ApiState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ClientIp(ip)) = parts.extensions.get::<ClientIp>() {
            return Ok(Self(Some(ip.to_canonical())));
        }
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(Self(None));
        };
        let state = ApiState::from_ref(state);
        let trusted = |ip: &IpAddr| state.trusted_proxies.iter().any(|net| net.contains(ip));
        // An IPv4 client of a dual-stack listener arrives as `::ffff:a.b.c.d`.
        let peer = peer.ip().to_canonical();
        if !trusted(&peer) {
            return Ok(Self(Some(peer)));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        // Right to left: the first hop that is not a trusted proxy; unreadable entries are
        // skipped rather than letting the proxy's own address stand for the client.
        let client = forwarded
            .iter()
            .rev()
            .filter_map(|hop| hop.parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .find(|ip| !trusted(ip));
        Ok(Self(Some(client.unwrap_or(peer))))
    }
}
