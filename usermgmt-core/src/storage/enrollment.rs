//! Cross-service (enrollment) filters: the source trait and the learning table's layout.

use async_trait::async_trait;

use crate::error::Result;
use crate::filter::UserFilters;
use crate::model::{Enrollment, TenantId};

use super::batches::Batches;
use super::counts::FeedChanges;

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

    /// The learning data's change feed, when this source can follow one: the counting index
    /// then keeps the tenant's enrollments in memory and evaluates the filters there.
    fn feed(&self) -> Option<std::sync::Arc<dyn EnrollmentFeed>> {
        None
    }
}

/// The learning data read whole and followed through its own change feed (rows a trigger on
/// the learning table writes, installed once by the host), so that the counting index can hold
/// every enrollment and stay exact.
///
/// The feed's contract is [`super::counts::CountFeed`]'s, with "user changed" meaning "an enrollment
/// of the user was added, changed or removed".
#[async_trait]
pub trait EnrollmentFeed: Send + Sync {
    /// The feed's current position for the tenant, taken before a full read; `None` when no
    /// feed is installed (the filters are then evaluated by the source's queries).
    async fn enrollment_feed_position(&self, tenant: &TenantId) -> Result<Option<u64>>;

    /// The users whose enrollments changed since `since`.
    async fn enrollment_feed_changes(&self, tenant: &TenantId, since: u64) -> Result<FeedChanges>;

    /// Every enrollment of the tenant, in batches (rows whose user id is not a UUID skipped).
    fn all_enrollments(&self, tenant: &TenantId) -> Batches<Enrollment>;

    /// The enrollments of these users (at most [`super::counts::MAX_FEED_IDS`] at once).
    async fn enrollments_of(
        &self,
        tenant: &TenantId,
        users: &[uuid::Uuid],
    ) -> Result<Vec<Enrollment>>;

    /// Drops feed entries older than `keep`, for feeds that do not prune themselves.
    async fn prune_enrollment_feed(&self, _keep: std::time::Duration) -> Result<u64> {
        Ok(0)
    }
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
