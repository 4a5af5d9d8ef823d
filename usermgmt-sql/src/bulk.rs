//! The selection of a bulk delete.

use usermgmt_core::storage::{BulkDelete, BulkTarget};

use crate::builder::Sql;
use crate::dialect::Dialect;
use crate::list::{Matching, holds_permission_outside, where_clause};

/// `SELECT u.<key>, u.id, u.status, <protected> FROM users u WHERE …`: the users a bulk
/// delete targets in the tenant, with whether each holds a permission beyond the actor's
/// (the rows [`BulkDelete::decide`] takes). A backend appends its row lock.
pub fn bulk_delete_selection(d: &dyn Dialect, tenant: &str, request: &BulkDelete) -> Sql {
    let mut sql = d.sql();
    sql.push("SELECT u.")
        .push(d.user_key().0)
        .push(", u.id, u.status, ");
    holds_permission_outside(&mut sql, d, tenant, &request.protect_beyond);
    sql.push(" FROM users u WHERE ");
    match &request.target {
        BulkTarget::Ids(ids) => {
            sql.push("u.tenant_id = ").bind(tenant).push(" AND ");
            d.uuid_in(&mut sql, "u.id", ids);
        }
        BulkTarget::Filter(filters) => {
            let m = Matching::filters(tenant, filters, request.now);
            where_clause(&mut sql, d, &m);
        }
    }
    sql
}
