//! What a bulk delete reports (the store fills it, the API returns it).

use uuid::Uuid;

/// Result of a bulk delete.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkDeleteOutcome {
    /// Users soft-deleted.
    pub deleted: u64,
    /// Requested ids that do not exist in the tenant.
    pub not_found: Vec<Uuid>,
    /// Whether the acting user was among the targets and was left alone.
    pub skipped_self: bool,
    /// Targeted users left alone because they hold permissions the actor lacks.
    pub skipped_protected: u64,
}
