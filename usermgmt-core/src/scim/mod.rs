//! SCIM 2.0 (RFC 7643 / 7644, SPEC §12): the pieces the service and the HTTP layer share.

pub mod compile;
mod display;
pub mod eval;
pub mod filter;
pub mod group;
pub mod patch;
pub mod projection;
pub mod user;
