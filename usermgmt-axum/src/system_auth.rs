//! The service-to-service token of the system API.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use usermgmt_core::{Error, Principal};

use crate::error::ApiError;
use crate::state::ApiState;

/// The header carrying the system token (`Authorization: Bearer <token>` works too, as
/// service clients expect). Tokens never cross over: a user's session token never opens the
/// system API, and the system token never opens the admin routes.
pub const SYSTEM_TOKEN_HEADER: &str = "x-usermgmt-system-token";

/// A caller that presented the system token: acts as [`Principal::system`] in the tenant.
pub(crate) struct SystemCaller(pub(crate) Principal);

impl<S> FromRequestParts<S> for SystemCaller
where
    ApiState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ApiState::from_ref(state);
        let refused = || Error::Unauthenticated("the system token is required".into());
        let expected = state.system_token.ok_or_else(refused)?;
        let given = match parts.headers.get(SYSTEM_TOKEN_HEADER) {
            Some(value) => value.as_bytes(),
            None => parts
                .headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
                .ok_or_else(refused)?,
        };
        // Digests of equal length, compared in constant time: neither the content nor the
        // length of the token leaks through timing.
        let given: [u8; 32] = Sha256::digest(given).into();
        if bool::from(given.ct_eq(&expected)) {
            Ok(SystemCaller(Principal::system(state.tenant.clone())))
        } else {
            Err(refused().into())
        }
    }
}
