//! How a page evaluates the `roles` filter: driven by the role holders when they are few, a
//! probe per row walking the sort order otherwise.

use crate::builder::{Sql, Value};
use crate::dialect::Dialect;
use crate::list::RolesForm;

/// Role holders at which a page stops being driven by them.
pub const ROLE_HOLDERS_DRIVE_BELOW: i64 = 10_000;

/// Counts the tenant's holders of any of `roles`, up to [`ROLE_HOLDERS_DRIVE_BELOW`] (the
/// count stops there): the input of [`roles_form_for`].
pub fn role_holders_probe(d: &dyn Dialect, tenant: &str, roles: &[String]) -> Sql {
    let mut sql = d.sql();
    sql.push("SELECT count(*) FROM (SELECT 1 FROM user_roles ur JOIN roles r ON ")
        .push(&d.link("r", "id", "ur", "role_id"))
        .push(" WHERE r.tenant_id = ")
        .bind(tenant)
        .push(" AND ");
    d.any_of(&mut sql, "r.name", roles.to_vec());
    sql.push(" LIMIT ")
        .bind(Value::Int(ROLE_HOLDERS_DRIVE_BELOW))
        .push(") AS holders");
    sql
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
