//! Tenant identifiers.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Identifies a tenant. Every entity belongs to exactly one.
///
/// 1–64 characters of ASCII letters, digits, `-`, `_` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// The longest accepted tenant id.
    pub const MAX_LEN: usize = 64;

    /// Validates and wraps a tenant id.
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(Self(id))
        } else {
            Err(Error::invalid(
                "tenant_id",
                "must be 1-64 characters of A-Z a-z 0-9 - _ .",
            ))
        }
    }

    /// The tenant a single-tenant application uses: `default`.
    pub fn default_tenant() -> Self {
        Self("default".to_owned())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        Self::new(value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
