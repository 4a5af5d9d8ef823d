//! Sessions: opaque bearer tokens stored only as a hash, with device, IP, location and the
//! impersonator behind an impersonation session.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::string_enum::string_enum;
use super::tenant::TenantId;

string_enum! {
    /// How an administrator acts as another user.
    pub enum ImpersonationMode {
        /// Read-only: every mutating operation is refused.
        Impersonate => "impersonate",
        /// Full access as the user.
        Masquerade => "masquerade",
    }
}

/// Where an IP address is, as far as a [`GeoResolver`] knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GeoLocation {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Region or state.
    pub region: Option<String>,
    /// City.
    pub city: Option<String>,
}

/// Resolves IP addresses to locations for session listings. Implement it over a GeoIP
/// database of your choice; the default ([`NoGeoResolver`]) knows nothing.
pub trait GeoResolver: Send + Sync {
    /// The location of `ip`, if known. Called once when a session starts.
    fn locate(&self, ip: IpAddr) -> Option<GeoLocation>;
}

/// A resolver that knows no location.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGeoResolver;

impl GeoResolver for NoGeoResolver {
    fn locate(&self, _ip: IpAddr) -> Option<GeoLocation> {
        None
    }
}

/// A session as the library returns it. The token itself is never stored or returned after
/// creation; only its SHA-256 hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// Session id.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The user the session acts as.
    pub user_id: Uuid,
    /// Start.
    pub created_at: DateTime<Utc>,
    /// Last time the token was used (updated at most once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// The token stops resolving at this time.
    pub expires_at: DateTime<Utc>,
    /// Set when the session was ended (logout, admin, password change, suspension, delete).
    pub terminated_at: Option<DateTime<Utc>>,
    /// Client user agent (at most 512 characters).
    pub user_agent: Option<String>,
    /// Client IP address.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = "ip"))]
    pub ip: Option<IpAddr>,
    /// Location of the IP, from the configured resolver.
    pub location: Option<GeoLocation>,
    /// The administrator acting as the user, for impersonation sessions.
    pub impersonator_id: Option<Uuid>,
    /// The impersonation mode, for impersonation sessions.
    pub impersonation_mode: Option<ImpersonationMode>,
    /// Why the administrator started the impersonation.
    pub impersonation_reason: Option<String>,
}

impl Session {
    /// Whether the token still resolves at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.terminated_at.is_none() && self.expires_at > now
    }
}

/// A session bearer token: 256 random bits, URL-safe base64. Its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A fresh token from the operating system's random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps a token received from a client.
    pub fn from_client(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token text, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the text could be a token at all (1-128 bytes); anything else is refused
    /// without a storage read.
    pub fn is_plausible(&self) -> bool {
        !self.0.is_empty() && self.0.len() <= 128
    }

    /// Whether the text has exactly the form [`SessionToken::generate`] gives (43 URL-safe
    /// base64 characters). Account links carry only such tokens; nothing else is looked up.
    pub fn is_generated_form(&self) -> bool {
        self.0.len() == 43
            && self
                .0
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    /// The SHA-256 of the token, the only form that is stored.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_256_bit_and_hashed() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        assert_eq!(a.hash(), SessionToken::from_client(a.expose()).hash());
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
