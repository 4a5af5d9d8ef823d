//! The SQL both usermgmt backends share, without a driver.
//!
//! Core lowers a list request into neutral conditions ([`usermgmt_core::filter::Condition`]);
//! this crate renders them — with the keyset cursor, the order, the page and count queries,
//! the enrollment semi-join and the permission probe — into SQL text with neutral
//! parameters ([`Value`]). A backend implements [`Dialect`] (placeholders, lists, case
//! folding, how child rows reference users) and binds [`Value`]s to its driver; nothing else
//! about the list's SQL lives in a backend.

mod builder;
mod bulk;
mod dialect;
mod enrollment;
mod list;
mod roles;

pub use builder::{Placeholders, Sql, Value};
pub use bulk::bulk_delete_selection;
pub use dialect::Dialect;
pub use enrollment::{
    Projection, ROW_COLUMNS, enrollment_row, enrollment_users, feed_user_id, feed_user_ids,
    rows_query, source_query,
};
pub use list::{
    Matching, Pushdown, RolesForm, count_query, holds_permission_outside, matching_query,
    page_query, users_table, where_clause,
};
pub use roles::{ROLE_HOLDERS_DRIVE_BELOW, few_keys_probe, role_holders_probe, roles_form_for};

/// Every stored permission name (in any tenant) with how many roles carry it and how many
/// users hold it directly, by name: `(name, roles, users)`.
pub const STORED_PERMISSIONS: &str = "SELECT permission, CAST(sum(roles) AS BIGINT), CAST(sum(users) AS BIGINT) FROM (\
    SELECT permission, count(*) AS roles, 0 AS users FROM role_permissions GROUP BY permission \
    UNION ALL \
    SELECT permission, 0, count(*) FROM user_permissions GROUP BY permission) AS held \
    GROUP BY permission ORDER BY permission";
