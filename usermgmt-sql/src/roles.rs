//! How a page evaluates the `roles` and status filters: driven by the few users who match
//! them when they are few, walking the sort order otherwise.

use crate::builder::{Sql, Value};
use crate::dialect::Dialect;
use usermgmt_core::filter::UserFilters;

/// How the `roles` filter is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolesForm {
    /// The role holders drive the query (`u.<key> IN (…)`): for counts and full result sets,
    /// which visit every match anyway.
    Holders,
    /// A few holders (counted first, [`crate::role_holders_probe`]) are gathered before the
    /// users are read by key ([`Dialect::few_keys_in`]), so a page of a rare role does not
    /// walk the sort order.
    Few,
    /// A correlated probe per row (`EXISTS`): a page of a common role walks the sort index
    /// and stops after the page instead of collecting and sorting every holder.
    Probe,
}

/// Role holders at which a page stops being driven by them.
pub const ROLE_HOLDERS_DRIVE_BELOW: i64 = 10_000;

/// Counts the tenant's holders of any of `roles`, up to [`ROLE_HOLDERS_DRIVE_BELOW`] (the
/// count stops there): the input of [`roles_form_for`].
pub fn role_holders_probe(d: &dyn Dialect, tenant: &str, roles: &[String]) -> Sql {
    let mut sql = d.sql();
    sql.push("SELECT ");
    push_role_holders(&mut sql, d, tenant, roles);
    sql
}

/// `(SELECT count(*) …)` of the holders of `roles`, bounded.
fn push_role_holders(sql: &mut Sql, d: &dyn Dialect, tenant: &str, roles: &[String]) {
    sql.push("(SELECT count(*) FROM (SELECT 1 FROM user_roles ur JOIN roles r ON ")
        .push(&d.link("r", "id", "ur", "role_id"))
        .push(" WHERE r.tenant_id = ")
        .bind(tenant)
        .push(" AND ");
    d.any_of(sql, "r.name", roles.to_vec());
    sql.push(" LIMIT ")
        .bind(Value::Int(ROLE_HOLDERS_DRIVE_BELOW))
        .push(") AS holders)");
}

/// `(SELECT count(*) …)` of the users in `statuses`, bounded, from a store's `user_statuses`.
fn push_status_holders(sql: &mut Sql, d: &dyn Dialect, tenant: &str, statuses: Vec<String>) {
    sql.push("(SELECT count(*) FROM (SELECT 1 FROM user_statuses s WHERE s.tenant_id = ")
        .bind(tenant)
        .push(" AND ");
    d.any_of(sql, "s.status", statuses);
    sql.push(" LIMIT ")
        .bind(Value::Int(ROLE_HOLDERS_DRIVE_BELOW))
        .push(") AS holders)");
}

/// The form of a page's `roles` filter given the bounded holder count: a few holders drive
/// the query (a rare role would otherwise walk the whole sort order probing each user), many
/// are probed per row (a page of a common role stops after the page).
pub fn roles_form_for(holders: i64) -> RolesForm {
    if holders < ROLE_HOLDERS_DRIVE_BELOW {
        RolesForm::Few
    } else {
        RolesForm::Probe
    }
}

/// The statuses a filter set restricts to (an exact `status` wins over the `statuses` list,
/// which the query still applies): empty when it names none.
pub(crate) fn filtered_statuses(filters: &UserFilters) -> Vec<String> {
    match filters.status {
        Some(status) => vec![status.as_str().to_owned()],
        None => filters
            .statuses
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
    }
}

/// One statement counting, each up to [`ROLE_HOLDERS_DRIVE_BELOW`], the holders of the
/// filtered roles and the users in the filtered statuses (from a store's `user_statuses`
/// table): columns `roles` and `statuses`, NULL for what the filters do not name; `None` when
/// they name neither. Below the bound, a page reads those users by key
/// ([`roles_form_for`], [`crate::Matching::status_keys`]).
pub fn few_keys_probe(d: &dyn Dialect, tenant: &str, filters: &UserFilters) -> Option<Sql> {
    let statuses = filtered_statuses(filters);
    if filters.roles.is_empty() && statuses.is_empty() {
        return None;
    }
    let mut sql = d.sql();
    sql.push("SELECT ");
    if filters.roles.is_empty() {
        sql.push("CAST(NULL AS BIGINT)");
    } else {
        push_role_holders(&mut sql, d, tenant, &filters.roles);
    }
    sql.push(" AS roles, ");
    if statuses.is_empty() {
        sql.push("CAST(NULL AS BIGINT)");
    } else {
        push_status_holders(&mut sql, d, tenant, statuses);
    }
    sql.push(" AS statuses");
    Some(sql)
}
