//! Bulk soft delete: by ids or by a filter, never the actor, never a user who outranks them,
//! never a filter that selects everyone.

use serde::Deserialize;
use uuid::Uuid;

use super::access::Actor;
use super::audit::event;
use super::core::UserService;
use super::outcome::BulkDeleteOutcome;
use crate::error::{Error, Result};
use crate::filter::{ListQuery, UserFilters};
use crate::model::{AuditAction, AuditTargetKind, Permission, SUPER_ADMIN_ROLE, Status};
use crate::principal::Principal;
use crate::storage::{BulkDelete, BulkTarget};

/// A bulk delete: either explicit ids or a non-empty filter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum BulkDeleteRequest {
    /// Delete these users.
    UserIds(Vec<Uuid>),
    /// Delete every user matching these filters (an empty filter is refused).
    Filters(Box<UserFilters>),
}

impl UserService {
    /// Soft-deletes many users in one transaction, by ids or by a non-empty filter. The
    /// acting user is never deleted, nor a user holding permissions the actor lacks. Writes
    /// one audit event per deleted user. Requires `user.delete`.
    pub async fn bulk_delete(
        &self,
        principal: &Principal,
        request: BulkDeleteRequest,
    ) -> Result<BulkDeleteOutcome> {
        let actor = self
            .authorize_write(principal, Permission::USER_DELETE)
            .await?;
        let target = match request {
            BulkDeleteRequest::UserIds(mut ids) => {
                if ids.is_empty() {
                    return Err(Error::invalid("user_ids", "must not be empty"));
                }
                if ids.len() > self.config.max_bulk_ids {
                    return Err(Error::invalid(
                        "user_ids",
                        format!("at most {} ids per request", self.config.max_bulk_ids),
                    ));
                }
                ids.sort();
                ids.dedup();
                BulkTarget::Ids(ids)
            }
            BulkDeleteRequest::Filters(mut filters) => {
                self.check_bulk_filters(&actor, &mut filters).await?;
                BulkTarget::Filter(filters)
            }
        };
        let now = self.clock.now();
        // Super admins are within reach only of an actor holding every permission their role
        // carries as stored (the deletion skips anyone holding more than the actor); then one
        // must stay. The role's stored names only grow, so a change meanwhile protects more.
        let super_role = self
            .storage
            .roles_by_names(&actor.tenant_id, &[SUPER_ADMIN_ROLE.to_owned()])
            .await?
            .pop();
        let _one_at_a_time = if super_role.is_some_and(|r| actor.held.is_superset(&r.permissions)) {
            // The actor stays.
            let field = match &target {
                BulkTarget::Ids(_) => "user_ids",
                BulkTarget::Filter(_) => "filters",
            };
            Some(
                self.keep_a_super_admin(&actor.tenant_id, field, |u| {
                    u.id != actor.user_id
                        && match &target {
                            BulkTarget::Ids(ids) => ids.binary_search(&u.id).is_ok(),
                            // Counted as matching a permission filter: the safe side (a
                            // super admin is assumed removed unless shown otherwise).
                            BulkTarget::Filter(filters) => filters.matches(u, now, |_| true),
                        }
                })
                .await?,
            )
        } else {
            None
        };
        let audit_template = event(
            principal,
            AuditTargetKind::User,
            Uuid::nil(),
            AuditAction::UserBulkDeleted,
            Default::default(),
            now,
        );
        let request = BulkDelete {
            target,
            exclude: Some(actor.user_id),
            protect_beyond: actor.held.clone(),
            now,
            audit_template,
        };
        self.storage
            .bulk_soft_delete(&actor.tenant_id, request)
            .await
    }

    /// Normalises the filters of a bulk delete and refuses those that would select every
    /// user: empty after normalising (a blank search, empty lists), cross-service filters
    /// (which a failing source would skip), and any filter that matches as many users as no
    /// filter at all, the acting user left aside (e.g. every status listed,
    /// `failed_login_attempts_min=0`, `created_before` the actor's registration).
    async fn check_bulk_filters(&self, actor: &Actor, filters: &mut UserFilters) -> Result<()> {
        filters.normalize().map_err(Error::Validation)?;
        self.check_permission_filter(filters)?;
        if filters.is_empty() {
            return Err(Error::invalid(
                "filters",
                "an empty filter would delete everyone; refused",
            ));
        }
        let cross = filters.cross_service_filters_in_use();
        if !cross.is_empty() {
            return Err(Error::invalid(
                "filters",
                format!(
                    "cross-service filters cannot select users to delete: {}",
                    cross.join(", ")
                ),
            ));
        }
        let everyone = if filters.includes_deleted() {
            UserFilters {
                statuses: Status::ALL.to_vec(),
                ..Default::default()
            }
        } else {
            UserFilters::default()
        };
        let count = |filters: UserFilters| async {
            let query = ListQuery {
                filters,
                include_total: false,
                ..Default::default()
            };
            let plan = query.plan(self.config.max_page_size)?;
            let groups = self
                .storage
                .status_groups_matching(&actor.tenant_id, &plan, self.clock.now())
                .await?;
            Ok::<u64, Error>(groups.values().map(|g| g.users).sum())
        };
        // Counted without the actor, who is never deleted: a filter that leaves out only the
        // actor (`created_before` their registration, `is_admin=false`, …) selects everyone too.
        // A provisioning token's actor has no account (its id is nil): nobody to leave out.
        let me = if actor.user_id.is_nil() {
            None
        } else {
            Some(self.load_user(actor, actor.user_id).await?)
        };
        let now = self.clock.now();
        let others_all = count(everyone.clone()).await?.saturating_sub(u64::from(
            me.as_ref()
                .is_some_and(|me| everyone.matches(me, now, |_| true)),
        ));
        let others_matching = count(filters.clone())
            .await?
            // Exactly as the store sees the actor's grants (every stored name).
            .saturating_sub(u64::from(
                me.as_ref()
                    .is_some_and(|me| filters.matches(me, now, |p| actor.held.contains(p))),
            ));
        if others_all > 0 && others_matching >= others_all {
            return Err(Error::invalid(
                "filters",
                "these filters select every user of the tenant; refused",
            ));
        }
        Ok(())
    }
}
