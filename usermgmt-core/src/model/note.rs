//! Administrator notes on a user.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::AuditActor;
use super::tenant::TenantId;

/// A note an administrator wrote about a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Note {
    /// Note id.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The user the note is about.
    pub user_id: Uuid,
    /// Who wrote it.
    pub author: AuditActor,
    /// The text (1–5000 characters).
    pub body: String,
    /// When.
    pub created_at: DateTime<Utc>,
}
