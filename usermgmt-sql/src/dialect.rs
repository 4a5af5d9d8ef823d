//! What differs between the SQL of the backends: placeholders, lists, case folding, how child
//! rows point at their user, and a few spellings.

use uuid::Uuid;

use crate::builder::{Placeholders, Sql};
use usermgmt_core::filter::SortOrder;

/// A backend's SQL dialect. Everything else about the SQL is shared.
pub trait Dialect: Sync {
    /// How placeholders are written.
    fn placeholders(&self) -> Placeholders;

    /// Whether child tables (`user_roles`, `user_oauth`, …) carry `tenant_id` and reference
    /// their parents by `(tenant_id, id)`, so every correlation compares the tenant too.
    fn tenant_scoped(&self) -> bool;

    /// The user key child tables reference: `(column of users, column of the child table)`.
    fn user_key(&self) -> (&'static str, &'static str);

    /// Appends "`expr` equals one of `values`".
    fn any_of(&self, sql: &mut Sql, expr: &str, values: Vec<String>);

    /// The expression and values to compare ignoring ASCII case (a dialect whose columns
    /// carry a case-insensitive collation returns them as they are).
    fn folded(&self, expr: &str, values: Vec<String>) -> (String, Vec<String>);

    /// Appends "`expr` contains `term`" (both lower-cased already).
    fn contains(&self, sql: &mut Sql, expr: &str, term: &str);

    /// Appends "`expr` is one of `ids`", however many there are (one parameter).
    fn uuid_in(&self, sql: &mut Sql, expr: &str, ids: &[Uuid]);

    /// What follows `ASC`/`DESC` on a key users can lack, so absent values sort lowest.
    fn nulls(&self, order: SortOrder) -> &'static str;

    /// A condition no row satisfies.
    fn never(&self) -> &'static str;

    /// An enrollment table's user id column (text or uuid) as the users table's id type.
    fn enrollment_user_id(&self, column: &str) -> String;

    /// An enrollment table's user id column as text.
    fn enrollment_user_text(&self, column: &str) -> String;

    /// An enrollment table's last-activity column as it compares with a bound instant.
    fn enrollment_time(&self, column: &str) -> String;

    /// Whether "no enrollment" is better written `NOT EXISTS` (an anti-join) than
    /// `NOT IN (…)`: PostgreSQL does not hash a `NOT IN` list larger than `work_mem` and then
    /// scans it once per user; SQLite builds a temporary index for `NOT IN` either way.
    fn anti_joins_by_exists(&self) -> bool {
        false
    }

    /// A new query in this dialect.
    fn sql(&self) -> Sql {
        Sql::new(self.placeholders())
    }

    /// What surrounds a subquery of a few keys (role holders, at most
    /// [`crate::ROLE_HOLDERS_DRIVE_BELOW`]; role ids) that rows are then read by: `IN (…)`
    /// unless the planner needs telling that the list is short and computed once.
    fn few_keys_in(&self) -> (&'static str, &'static str) {
        (" IN (", ")")
    }

    /// `a.a_col = b.b_col`, with `a.tenant_id = b.tenant_id AND ` first when rows carry
    /// the tenant.
    fn link(&self, a: &str, a_col: &str, b: &str, b_col: &str) -> String {
        if self.tenant_scoped() {
            format!("{a}.tenant_id = {b}.tenant_id AND {a}.{a_col} = {b}.{b_col}")
        } else {
            format!("{a}.{a_col} = {b}.{b_col}")
        }
    }

    /// The rows of child table alias `alias` that belong to user `u`.
    fn owned_by_u(&self, alias: &str) -> String {
        let (key, child) = self.user_key();
        self.link(alias, child, "u", key)
    }
}
