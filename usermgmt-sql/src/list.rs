//! The user list in SQL: the conditions of a plan, the keyset cursor, the order, and the page
//! and count queries built from them.

use chrono::{DateTime, Utc};
use usermgmt_core::filter::{
    Column, Condition, Cursor, EnrollmentMatch, ListPlan, Operand, Related, SortOrder, SortValue,
    UserFilters, Window,
};
use usermgmt_core::model::{PermissionSet, Status};
use usermgmt_core::storage::EnrollmentLayout;

use crate::builder::{Sql, Value};
use crate::dialect::Dialect;
use crate::enrollment::{Projection, enrollment_users};
pub use crate::roles::RolesForm;

/// Where the enrollment filters are evaluated inside the users query (push-down): the
/// learning table, in `schema` when given (an attached database).
#[derive(Debug, Clone, Copy)]
pub struct Pushdown<'a> {
    /// The learning table's layout.
    pub layout: &'a EnrollmentLayout,
    /// The schema holding it, if not the default one.
    pub schema: Option<&'a str>,
}

/// Which users a query reads: the tenant's users matching normalised filters.
#[derive(Debug, Clone, Copy)]
pub struct Matching<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// Normalised filters (cross-service filters resolved into `enrollment` or pushed down).
    pub filters: &'a UserFilters,
    /// The users an enrollment source left.
    pub enrollment: Option<&'a EnrollmentMatch>,
    /// The enrollment filters evaluated in the query.
    pub pushdown: Option<Pushdown<'a>>,
    /// Anchors the relative filters.
    pub now: DateTime<Utc>,
    /// How to evaluate `roles`.
    pub roles: RolesForm,
    /// Whether the users of the filtered statuses are few and read by key from the store's
    /// `user_statuses` table ([`crate::status_holders_probe`]; PostgreSQL, whose `users` has
    /// no status index so that status changes are HOT updates).
    pub status_keys: bool,
}

impl<'a> Matching<'a> {
    /// The users of a plan (its filters and enrollment match).
    pub fn plan(tenant: &'a str, plan: &'a ListPlan, now: DateTime<Utc>) -> Self {
        Self {
            tenant,
            filters: &plan.filters,
            enrollment: plan.enrollment.as_ref(),
            pushdown: None,
            now,
            roles: RolesForm::Probe,
            status_keys: false,
        }
    }

    /// The users matching filters alone (no enrollment match, no push-down), role holders
    /// driving the `roles` filter: for counts and whole result sets.
    pub fn filters(tenant: &'a str, filters: &'a UserFilters, now: DateTime<Utc>) -> Self {
        Self {
            tenant,
            filters,
            enrollment: None,
            pushdown: None,
            now,
            roles: RolesForm::Holders,
            status_keys: false,
        }
    }

    /// With the enrollment filters pushed down into the query.
    pub fn pushdown(mut self, pushdown: Option<Pushdown<'a>>) -> Self {
        self.pushdown = pushdown;
        self
    }

    /// With this form of the roles filter.
    pub fn roles(mut self, roles: RolesForm) -> Self {
        self.roles = roles;
        self
    }

    /// Reading the users of the filtered statuses by key (see [`Matching::status_keys`]).
    pub fn status_keys(mut self, few: bool) -> Self {
        self.status_keys = few;
        self
    }
}

fn column(c: Column) -> String {
    if c.lowered() {
        format!("lower(u.{})", c.name())
    } else {
        format!("u.{}", c.name())
    }
}

fn operand(value: &Operand) -> Value {
    match value {
        Operand::Bool(b) => Value::Bool(*b),
        Operand::Int(i) => Value::Int(*i),
        Operand::Text(t) => Value::Text(t.clone()),
        Operand::Time(t) => Value::Time(*t),
        Operand::Date(d) => Value::Date(*d),
    }
}

/// Appends one condition on users aliased `u`.
fn condition(sql: &mut Sql, d: &dyn Dialect, m: &Matching<'_>, c: &Condition) {
    match c {
        Condition::NotDeleted => {
            // A constant, not a parameter: the planner sees the value (as the hand-written
            // `status <> 'deleted'` lets it).
            sql.push("u.status <> '")
                .push(Status::Deleted.as_str())
                .push("'");
        }
        Condition::Contains { column: c, term } => d.contains(sql, &column(*c), term),
        Condition::Compare {
            column: c,
            cmp,
            value,
        } => {
            sql.push(&column(*c)).push(cmp.sql()).bind(operand(value));
        }
        Condition::AnyOf { column: c, values } => {
            let (expr, values) = if c.folded() {
                d.folded(&column(*c), values.clone())
            } else {
                (column(*c), values.clone())
            };
            d.any_of(sql, &expr, values);
        }
        Condition::Present { column: c, present } => {
            sql.push(&column(*c))
                .push(if *present { " IS NOT NULL" } else { " IS NULL" });
        }
        Condition::Ids(ids) => d.uuid_in(sql, "u.id", ids),
        Condition::Either(options) => {
            sql.push("(");
            for (i, option) in options.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                condition(sql, d, m, option);
            }
            sql.push(")");
        }
        Condition::Related {
            related,
            values,
            exists,
        } => related_rows(sql, d, m, *related, values, *exists),
    }
}

/// `[NOT] EXISTS (…)` over a user's related rows, or for roles asked for by few holders,
/// `u.<key> IN (<holders>)`.
fn related_rows(
    sql: &mut Sql,
    d: &dyn Dialect,
    m: &Matching<'_>,
    related: Related,
    values: &[String],
    exists: bool,
) {
    let (from, alias, value) = match related {
        Related::OAuth => ("user_oauth o".to_owned(), "o", "o.provider"),
        Related::Expertise => ("user_expertise e".to_owned(), "e", "e.value"),
        Related::Permission => return holds_permission(sql, d, values, exists),
        Related::Role => (
            format!(
                "user_roles ur JOIN roles r ON {}",
                d.link("r", "id", "ur", "role_id")
            ),
            "ur",
            "r.name",
        ),
    };
    let values_of = |sql: &mut Sql| {
        if !values.is_empty() {
            let (expr, values) = if related.folded() {
                d.folded(value, values.to_vec())
            } else {
                (value.to_owned(), values.to_vec())
            };
            sql.push(" AND ");
            d.any_of(sql, &expr, values);
        }
    };
    if related == Related::Role && exists && m.roles != RolesForm::Probe {
        let (key, child) = d.user_key();
        let (open, close) = match m.roles {
            RolesForm::Few => d.few_keys_in(),
            _ => (" IN (", ")"),
        };
        sql.push("u.")
            .push(key)
            .push(open)
            .push("SELECT ur.")
            .push(child)
            .push(" FROM ")
            .push(&from)
            .push(" WHERE r.tenant_id = ")
            .bind(m.tenant);
        values_of(sql);
        sql.push(close);
        return;
    }
    if !exists {
        sql.push("NOT ");
    }
    sql.push("EXISTS (SELECT 1 FROM ")
        .push(&from)
        .push(" WHERE ")
        .push(&d.owned_by_u(alias));
    values_of(sql);
    sql.push(")");
}

/// Appends `FROM`-less conditions: the tenant, every filter, the enrollment match and the
/// push-down, for users aliased `u`.
pub fn where_clause(sql: &mut Sql, d: &dyn Dialect, m: &Matching<'_>) {
    sql.push("u.tenant_id = ").bind(m.tenant);
    for c in m.filters.conditions(m.now) {
        sql.push(" AND ");
        condition(sql, d, m, &c);
    }
    match m.enrollment {
        None => {}
        Some(EnrollmentMatch::Only(ids)) => {
            sql.push(" AND ");
            d.uuid_in(sql, "u.id", ids);
        }
        Some(EnrollmentMatch::Except(ids)) => {
            sql.push(" AND NOT ");
            d.uuid_in(sql, "u.id", ids);
        }
    }
    if let Some(pushdown) = m.pushdown {
        pushdown_clause(sql, d, m, pushdown);
    }
    let statuses = crate::roles::filtered_statuses(m.filters);
    if m.status_keys && !statuses.is_empty() {
        let (open, close) = d.few_keys_in();
        sql.push(" AND u.")
            .push(d.user_key().0)
            .push(open)
            .push("SELECT s.id FROM user_statuses s WHERE s.tenant_id = ")
            .bind(m.tenant)
            .push(" AND ");
        d.any_of(sql, "s.status", statuses);
        sql.push(close);
    }
}

/// The enrollment filters as a semi-join on the learning table.
fn pushdown_clause(sql: &mut Sql, d: &dyn Dialect, m: &Matching<'_>, p: Pushdown<'_>) {
    if !m.filters.uses_cross_service() {
        return;
    }
    let mut sub = d.sql();
    let Some(except) = enrollment_users(
        &mut sub,
        d,
        p.layout,
        p.schema,
        m.tenant,
        &m.filters.enrollment,
        Projection::UserId,
    ) else {
        sql.push(" AND ").push(d.never());
        return;
    };
    if except && d.anti_joins_by_exists() {
        sql.push(" AND ");
        crate::enrollment::without_enrollments(sql, d, p.layout, p.schema, m.tenant);
        return;
    }
    sql.push(if except { " AND NOT " } else { " AND " });
    sql.push("(u.id IN (");
    sql.splice(&sub);
    sql.push("))");
}

/// `[NOT] (<u holds one of values directly> OR <through a role>)`: effective permissions.
fn holds_permission(sql: &mut Sql, d: &dyn Dialect, values: &[String], exists: bool) {
    if !exists {
        sql.push("NOT ");
    }
    sql.push("(EXISTS (SELECT 1 FROM user_permissions up WHERE ")
        .push(&d.owned_by_u("up"))
        .push(" AND ");
    d.any_of(sql, "up.permission", values.to_vec());
    sql.push(") OR EXISTS (SELECT 1 FROM user_roles ur JOIN role_permissions rp ON ")
        .push(&d.link("rp", "role_id", "ur", "role_id"))
        .push(" WHERE ")
        .push(&d.owned_by_u("ur"))
        .push(" AND ");
    d.any_of(sql, "rp.permission", values.to_vec());
    sql.push("))");
}

/// SQL true when user `u` of `tenant` holds a permission outside `allowed` (through a role
/// or directly). The roles carrying such a permission are gathered once (a handful), so a
/// selection of many users probes each one's roles by key instead of joining every role's
/// permissions per user.
pub fn holds_permission_outside(
    sql: &mut Sql,
    d: &dyn Dialect,
    tenant: &str,
    allowed: &PermissionSet,
) {
    let allowed: Vec<String> = allowed.iter().map(|p| p.as_str().to_owned()).collect();
    let (open, close) = d.few_keys_in();
    sql.push("(EXISTS (SELECT 1 FROM user_roles ur WHERE ")
        .push(&d.owned_by_u("ur"))
        .push(" AND ur.role_id")
        .push(open)
        .push("SELECT rp.role_id FROM role_permissions rp WHERE ");
    if d.tenant_scoped() {
        sql.push("rp.tenant_id = ").bind(tenant).push(" AND ");
    }
    sql.push("NOT ");
    d.any_of(sql, "rp.permission", allowed.clone());
    sql.push(close)
        .push(") OR EXISTS (SELECT 1 FROM user_permissions up WHERE ")
        .push(&d.owned_by_u("up"))
        .push(" AND NOT ");
    d.any_of(sql, "up.permission", allowed);
    sql.push("))");
}

fn sort_value(value: &SortValue) -> Option<Value> {
    match value {
        SortValue::Text(text) => text.clone().map(Value::Text),
        SortValue::Time(time) => time.map(Value::Time),
    }
}

/// Appends " AND <strictly after the cursor>" in the cursor's order, where absent values sort
/// lowest (first ascending, last descending).
fn after_cursor(sql: &mut Sql, cursor: &Cursor) {
    let col = column(Column::of_sort(cursor.sort_by));
    let col = col.as_str();
    let id = Value::Uuid(cursor.id);
    sql.push(" AND ");
    match (cursor.sort_order, sort_value(&cursor.value)) {
        (SortOrder::Asc, None) => {
            sql.push("((")
                .push(col)
                .push(" IS NULL AND u.id > ")
                .bind(id);
            sql.push(") OR ").push(col).push(" IS NOT NULL)");
        }
        // Row values: the (key, id) index seeks straight to the cursor. Ascending, absent
        // values came first, so none can follow a present one.
        (SortOrder::Asc, Some(v)) => {
            sql.push("(").push(col).push(", u.id) > (").bind(v);
            sql.push(", ").bind(id).push(")");
        }
        (SortOrder::Desc, None) => {
            sql.push("(")
                .push(col)
                .push(" IS NULL AND u.id < ")
                .bind(id);
            sql.push(")");
        }
        // Descending, absent values come last: they follow every present one.
        (SortOrder::Desc, Some(v)) => {
            sql.push("((").push(col).push(", u.id) < (").bind(v);
            sql.push(", ").bind(id).push(")");
            if cursor.sort_by.can_be_absent() {
                sql.push(" OR ").push(col).push(" IS NULL");
            }
            sql.push(")");
        }
    }
}

/// The page query of a plan: `SELECT <columns> FROM <from> WHERE … ORDER BY … LIMIT …`.
/// `from` names the users table as `u` (a backend may put a driving table before it).
pub fn page_query(
    d: &dyn Dialect,
    columns: &str,
    from: &Sql,
    plan: &ListPlan,
    m: &Matching<'_>,
) -> Sql {
    let mut sql = d.sql();
    sql.push("SELECT ").push(columns).push(" FROM ");
    sql.splice(from);
    sql.push(" WHERE ");
    where_clause(&mut sql, d, m);
    if let Window::After(cursor) = &plan.window {
        after_cursor(&mut sql, cursor);
    }
    let (direction, nulls) = match plan.sort_order {
        SortOrder::Asc => (" ASC", d.nulls(SortOrder::Asc)),
        SortOrder::Desc => (" DESC", d.nulls(SortOrder::Desc)),
    };
    sql.push(" ORDER BY ")
        .push(&column(Column::of_sort(plan.sort_by)))
        .push(direction);
    // Only keys users can lack name NULLS: naming it on a NOT NULL key could keep PostgreSQL
    // from walking its index backwards.
    if plan.sort_by.can_be_absent() {
        sql.push(nulls);
    }
    sql.push(", u.id").push(direction);
    sql.push(" LIMIT ").bind(i64::from(plan.limit));
    if let Window::Offset(offset) = plan.window {
        sql.push(" OFFSET ")
            .bind(i64::try_from(offset).unwrap_or(i64::MAX));
    }
    sql
}

/// `SELECT <select> FROM <from> WHERE …` over the matching users (counts, groups).
pub fn matching_query(d: &dyn Dialect, select: &str, from: &Sql, m: &Matching<'_>) -> Sql {
    let mut sql = d.sql();
    sql.push("SELECT ").push(select).push(" FROM ");
    sql.splice(from);
    sql.push(" WHERE ");
    where_clause(&mut sql, d, m);
    sql
}

/// The count query: `SELECT count(*) …` over the matching users.
pub fn count_query(d: &dyn Dialect, from: &Sql, m: &Matching<'_>) -> Sql {
    matching_query(d, "count(*)", from, m)
}

/// `users u`: the plain source of a list.
pub fn users_table(d: &dyn Dialect) -> Sql {
    let mut sql = d.sql();
    sql.push("users u");
    sql
}
