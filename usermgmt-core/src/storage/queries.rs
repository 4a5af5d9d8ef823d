//! Reading many users: list pages, exports, and bulk deletes by the same filters.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::filter::{ListPlan, UserFilters};
use crate::model::{AuditEvent, PermissionSet, Status, TenantId, User};
use crate::service::outcome::BulkDeleteOutcome;

/// Which users a bulk delete targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkTarget {
    /// These ids.
    Ids(Vec<Uuid>),
    /// Every user matching these (normalised, non-empty) filters.
    Filter(Box<UserFilters>),
}

/// A bulk soft delete, executed in one transaction; it also ends the deleted users' sessions.
#[derive(Debug, Clone)]
pub struct BulkDelete {
    /// The targeted users.
    pub target: BulkTarget,
    /// Never delete this user (the acting admin).
    pub exclude: Option<Uuid>,
    /// The actor's permissions: users holding any permission outside this set are left alone
    /// (and reported in `skipped_protected`).
    pub protect_beyond: PermissionSet,
    /// The deletion time.
    pub now: DateTime<Utc>,
    /// An event written once per deleted user through [`BulkDelete::audit_for`] (which
    /// records the user's old status), with `target_id` set to that user and a fresh event id.
    pub audit_template: AuditEvent,
}

impl BulkDelete {
    /// The audit event for a user whose status was `old` before the delete (the template
    /// with the status change filled in; give it a fresh `id` and the user as `target_id`).
    pub fn audit_for(&self, old: Status) -> AuditEvent {
        let mut event = self.audit_template.clone();
        event.changes.insert(
            "status".to_owned(),
            crate::model::FieldChange {
                old: old.as_str().into(),
                new: Status::Deleted.as_str().into(),
            },
        );
        event
    }

    /// Decides, from the users the store's selection found (locked, in the tenant: a store
    /// key, the id, the stored status and whether the user holds permissions beyond the
    /// actor's), which to delete: never the actor, never a protected user, never one already
    /// deleted; requested ids not found are reported. Returns the outcome (with `deleted` the
    /// number of targets) and the targets grouped by their old status.
    #[allow(clippy::type_complexity)]
    pub fn decide<K>(
        &self,
        found: Vec<(K, Uuid, Status, bool)>,
    ) -> (BulkDeleteOutcome, BTreeMap<Status, Vec<(K, Uuid)>>) {
        let mut outcome = BulkDeleteOutcome::default();
        if let BulkTarget::Ids(ids) = &self.target {
            let present: std::collections::HashSet<Uuid> = found.iter().map(|f| f.1).collect();
            outcome.not_found = ids
                .iter()
                .filter(|id| !present.contains(id))
                .copied()
                .collect();
        }
        let mut targets: BTreeMap<Status, Vec<(K, Uuid)>> = BTreeMap::new();
        for (key, id, status, protected) in found {
            if status == Status::Deleted {
                continue;
            }
            if Some(id) == self.exclude {
                outcome.skipped_self = true;
            } else if protected {
                outcome.skipped_protected += 1;
            } else {
                targets.entry(status).or_default().push((key, id));
                outcome.deleted += 1;
            }
        }
        (outcome, targets)
    }
}

/// Queries over many users.
#[async_trait]
pub trait UserQueries: Send + Sync {
    /// One page of users and, when the plan asks, the total. `now` anchors relative filters.
    async fn list_users(
        &self,
        tenant: &TenantId,
        plan: &ListPlan,
        now: DateTime<Utc>,
    ) -> Result<(Vec<User>, Option<u64>)>;

    /// Every user of an export plan ([`ListPlan::export`]: the list's default order, no
    /// limit) as batches of at most `batch` users, read from one consistent snapshot with
    /// constant memory. Reading starts at once, in a task of its own; it stops early when the
    /// stream is dropped. A failure is the stream's last item.
    fn export_users(
        &self,
        tenant: &TenantId,
        plan: ListPlan,
        now: DateTime<Utc>,
        batch: u32,
    ) -> UserBatches;

    /// Soft-deletes many users in one transaction.
    async fn bulk_soft_delete(
        &self,
        tenant: &TenantId,
        request: BulkDelete,
    ) -> Result<BulkDeleteOutcome>;

    /// Whether this store evaluates the cross-service (enrollment) filters itself, inside the
    /// list query (push-down). Failures then surface as
    /// [`crate::Error::EnrollmentSourceUnavailable`].
    fn pushes_down_enrollments(&self) -> bool {
        false
    }

    /// The learning data this store pushes the enrollment filters down to, as a feed the
    /// counting index can follow (see [`super::enrollment::EnrollmentFeed`]), when it has one.
    fn enrollment_feed(&self) -> Option<std::sync::Arc<dyn super::enrollment::EnrollmentFeed>> {
        None
    }
}

use super::batches::{Batches, Sink};

/// Batches of exported users, in order (see [`UserQueries::export_users`]); a
/// [`futures_core::Stream`] and, for plain loops, [`Batches::next`].
pub type UserBatches = Batches<User>;

/// Where an export's producer puts its batches of users.
pub type BatchSink = Sink<User>;
