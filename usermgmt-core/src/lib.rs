//! # usermgmt-core
//!
//! The domain, rules and permission-checked service of `usermgmt`: user and role types, the
//! filter model with its pure reference predicate, validation, password hashing, and the
//! [`Storage`](storage::Storage) traits that backends implement. No SQL, no HTTP.
//!
//! Every operation of [`UserService`] takes the acting [`Principal`], checks its permission
//! before storage is touched, validates and normalises input, and writes an audit event for
//! every change in the same transaction as the change.

pub mod clock;
pub mod count;
pub mod error;
pub mod events;
pub mod filter;
#[cfg(feature = "maxmind")]
pub mod geo;
pub mod model;
pub mod notify;
pub mod password;
pub mod principal;
#[cfg(feature = "openapi")]
pub mod schemas;
pub mod scim;
pub mod service;
pub mod storage;
pub mod validate;

pub use clock::{Clock, SystemClock};
pub use error::{Error, FieldErrors, Result, StorageError};
pub use principal::Principal;
pub use service::{ServiceConfig, UserService};
