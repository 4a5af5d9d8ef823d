//! Counts for statistics and value look-ups.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::error::Result;
use crate::filter::ListPlan;
use crate::model::{PeriodCounts, Status, StatusGroup, TenantId, ValueCount, ValueField};

/// Counts for statistics and value look-ups. Deleted users are left out unless said.
#[async_trait]
pub trait InsightStore: Send + Sync {
    /// Per-status groups of counts, in one pass (deleted included); `now` anchors the
    /// 7- and 30-day registration windows.
    async fn status_groups(
        &self,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, StatusGroup>>;
    /// [`InsightStore::status_groups`] over the users matching a plan's (normalised) filters
    /// and enrollment constraint, with its push-down when the store evaluates enrollment
    /// filters itself.
    async fn status_groups_matching(
        &self,
        tenant: &TenantId,
        plan: &ListPlan,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<Status, StatusGroup>>;
    /// Period counts for each `[from, to)` window, in one pass (deleted users included).
    async fn period_counts(
        &self,
        tenant: &TenantId,
        windows: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<Vec<PeriodCounts>>;
    /// Registrations per UTC day in `[from, to)` (days without any are absent), and how many
    /// registered before `from`. Deleted users included.
    async fn daily_registrations(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<(NaiveDate, u64)>, u64)>;
    /// Distinct values of a field with user counts, most common first, optionally only those
    /// containing `contains` (ASCII case-insensitive), with the number of distinct values.
    /// Roles are listed even when nobody holds them.
    async fn distinct_values(
        &self,
        tenant: &TenantId,
        field: ValueField,
        contains: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<ValueCount>, u64)>;
}
