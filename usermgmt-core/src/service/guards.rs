//! The rule that keeps a tenant governable: a tenant with an active super admin (a holder
//! of [`SUPER_ADMIN_ROLE`]) keeps at least one, whatever the route of the change.

use super::core::UserService;
use crate::error::{Error, Result};
use crate::filter::{ListPlan, UserFilters, Window};
use crate::model::{SUPER_ADMIN_ROLE, Status, TenantId, User};

/// How many super admins are read to check the rule; a change that would remove every one
/// of them is refused even if more exist beyond this many.
const SUPER_ADMIN_SCAN: u32 = 500;

/// Held while a change that takes away a super admin is checked and written.
pub(crate) struct SuperAdminGuard<'a> {
    _local: tokio::sync::MutexGuard<'a, ()>,
    _shared: Option<crate::storage::StoreLock>,
}

/// Whether `user` is an active holder of the super-admin role.
pub(crate) fn is_super_admin(user: &User) -> bool {
    user.status == Status::Active && user.roles.iter().any(|r| r == SUPER_ADMIN_ROLE)
}

impl UserService {
    /// The tenant's active super admins (at most [`SUPER_ADMIN_SCAN`]).
    pub(crate) async fn super_admins(&self, tenant: &TenantId) -> Result<Vec<User>> {
        let plan = ListPlan {
            filters: UserFilters {
                roles: vec![SUPER_ADMIN_ROLE.to_owned()],
                statuses: vec![Status::Active],
                ..Default::default()
            },
            sort_by: Default::default(),
            sort_order: Default::default(),
            window: Window::Offset(0),
            limit: SUPER_ADMIN_SCAN,
            include_total: false,
            enrollment: None,
            order_first: false,
        };
        let (users, _) = self
            .storage
            .list_users(tenant, &plan, self.clock.now())
            .await?;
        Ok(users)
    }

    /// Refuses, with a field error on `field`, a change that would take away every active
    /// super admin of the tenant (`removes` says which ones the change takes away). Hold the
    /// returned guard until the change is written: changes that remove super admins run one
    /// at a time in this process and, where the store locks across processes, in every
    /// instance sharing it — so concurrent ones cannot each leave "the other" in place.
    pub(crate) async fn keep_a_super_admin(
        &self,
        tenant: &TenantId,
        field: &str,
        removes: impl Fn(&User) -> bool,
    ) -> Result<SuperAdminGuard<'_>> {
        let local = self.super_admin_changes.lock().await;
        let shared = self.storage.lock_super_admin_changes(tenant).await?;
        let guard = SuperAdminGuard {
            _local: local,
            _shared: shared,
        };
        let holders = self.super_admins(tenant).await?;
        if !holders.is_empty() && holders.iter().all(removes) {
            return Err(Error::invalid(
                field,
                "this would leave the tenant without an active super admin",
            ));
        }
        Ok(guard)
    }
}
