//! The HTTP face of usermgmt: [`router`] mounts the routes of SPEC §6 on an axum
//! [`Router`](axum::Router), resolving each request's principal through a
//! [`PrincipalResolver`] (session bearer tokens by default) and answering errors in the JSON
//! error model (`{"error": {"code", "message", "fields"}}`).
//!
//! [`openapi`] (also served at `GET /v1/openapi.json`) documents every route. [`scim_router`]
//! serves SCIM 2.0 for identity providers (nest it under `/scim/v2`).
//!
//! Handlers are thin: every rule lives in [`usermgmt_core::UserService`].

#[cfg(feature = "admin-ui")]
mod admin_ui;
mod body;
mod client;
mod error;
mod guard;
mod openapi;
mod principal;
mod query;
mod router;
mod routes;
mod scim;
mod state;
mod system_auth;

#[cfg(feature = "admin-ui")]
pub use admin_ui::admin_ui;
pub use client::ClientIp;
pub use error::ApiError;
pub use guard::{Authorized, Guarded, RequirePermission, require};
pub use ipnet::IpNet;
pub use principal::{PrincipalResolver, SessionTokenResolver};
pub use router::{json_errors, openapi, router};
pub use scim::{SCIM_JSON, scim_router};
pub use state::{ApiState, MIN_SYSTEM_TOKEN_LEN};
pub use system_auth::SYSTEM_TOKEN_HEADER;
