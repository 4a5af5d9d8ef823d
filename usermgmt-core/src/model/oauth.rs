//! Links between a user and accounts at OAuth providers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::vocab::OAuthProvider;

/// One provider account linked to a user; `(provider, provider_user_id)` is unique per tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthLink {
    /// The provider.
    pub provider: OAuthProvider,
    /// The account id at the provider (1–255 printable characters).
    pub provider_user_id: String,
    /// When it was linked.
    pub linked_at: DateTime<Utc>,
}
