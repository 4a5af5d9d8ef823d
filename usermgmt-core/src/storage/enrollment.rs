//! Cross-service (enrollment) filters: the source trait and the learning table's layout.

use async_trait::async_trait;

use crate::error::Result;
use crate::filter::UserFilters;
use crate::model::TenantId;

/// Evaluates the cross-service (enrollment) filters against another service's learning data.
/// Implementations must reproduce [`crate::filter::EnrollmentFilters::matches_enrollments`] exactly.
#[async_trait]
pub trait EnrollmentSource: Send + Sync {
    /// The users of `tenant` the enrollment filters of `filters` leave.
    async fn matching_users(
        &self,
        tenant: &TenantId,
        filters: &UserFilters,
    ) -> Result<crate::filter::EnrollmentMatch>;
}

/// Where the enrollments are: table and column names (defaults in brackets).
///
/// The table has one row per enrollment: tenant `tenant_id` (text; optional — leave `None`
/// for a single-tenant learning database), user `user_id` (a UUID, as text or `uuid`),
/// program `program_id` (text), program type `program_type` (text), status `status`
/// (text: `active`, `completed`, `cancelled`, `expired`, `suspended`), progress `progress`
/// (integer 0–100), time spent `time_spent_seconds` (integer seconds), last activity
/// `last_activity_at` (SQLite: integer Unix seconds; PostgreSQL: `timestamptz`; or NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentLayout {
    /// Table name.
    pub table: String,
    /// Tenant column, if the database holds several tenants.
    pub tenant_id: Option<String>,
    /// User id column.
    pub user_id: String,
    /// Program id column.
    pub program_id: String,
    /// Program type column.
    pub program_type: String,
    /// Status column.
    pub status: String,
    /// Progress column.
    pub progress: String,
    /// Time spent column.
    pub time_spent_seconds: String,
    /// Last activity column.
    pub last_activity_at: String,
}

impl Default for EnrollmentLayout {
    fn default() -> Self {
        Self {
            table: "enrollments".into(),
            tenant_id: Some("tenant_id".into()),
            user_id: "user_id".into(),
            program_id: "program_id".into(),
            program_type: "program_type".into(),
            status: "status".into(),
            progress: "progress".into(),
            time_spent_seconds: "time_spent_seconds".into(),
            last_activity_at: "last_activity_at".into(),
        }
    }
}

impl EnrollmentLayout {
    /// Checks every name is a plain SQL identifier (they are quoted, never taken from users).
    pub fn validate(&self) -> Result<()> {
        let names = [
            Some(&self.table),
            self.tenant_id.as_ref(),
            Some(&self.user_id),
            Some(&self.program_id),
            Some(&self.program_type),
            Some(&self.status),
            Some(&self.progress),
            Some(&self.time_spent_seconds),
            Some(&self.last_activity_at),
        ];
        for name in names.into_iter().flatten() {
            let ok = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(crate::error::Error::invalid(
                    "enrollment_layout",
                    format!("`{name}` is not a plain identifier"),
                ));
            }
        }
        Ok(())
    }
}
