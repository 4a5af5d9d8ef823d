//! # usermgmt
//!
//! A complete, permission-checked admin user-management layer for Rust services: users with
//! rich profiles, every list filter of an admin console, keyset pagination, direct credential
//! edits, soft and bulk deletes, roles and permissions with no privilege escalation, tenant
//! isolation, and an audit trail — on SQLite (embedded default) or PostgreSQL.
//!
//! This facade re-exports [`usermgmt_core`] and, with the `sqlite` feature (default), the
//! SQLite backend as `sqlite`; with the `postgres` feature, the PostgreSQL backend as
//! `postgres`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use usermgmt::filter::{ListQuery, UserFilters};
//! use usermgmt::model::{Status, TenantId};
//! use usermgmt::password::Password;
//! use usermgmt::{Principal, UserService};
//!
//! # async fn demo() -> usermgmt::Result<()> {
//! let storage = usermgmt::sqlite::SqliteStorage::open("users.db").await?;
//! let service = UserService::new(Arc::new(storage));
//! let tenant = TenantId::default_tenant();
//! let admin = service
//!     .bootstrap_super_admin(&tenant, "Admin", "admin@example.com", Password::new("change-me-now"))
//!     .await?;
//! let me = Principal::user(tenant, admin.id);
//! let filters = UserFilters { status: Some(Status::Active), ..Default::default() };
//! let page = service.list_users(&me, ListQuery { filters, ..Default::default() }).await?;
//! println!("{} active users", page.total.unwrap_or(0));
//! # Ok(()) }
//! ```

pub use usermgmt_core::*;

/// The SQLite storage backend (feature `sqlite`, on by default).
#[cfg(feature = "sqlite")]
pub use usermgmt_sqlite as sqlite;

/// The PostgreSQL storage backend (feature `postgres`).
#[cfg(feature = "postgres")]
pub use usermgmt_postgres as postgres;

/// The HTTP routes on axum (feature `axum`).
#[cfg(feature = "axum")]
pub use usermgmt_axum as http;

/// Compiles the README's Rust examples as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
