//! Translation of normalised filters, sorts and windows into SQL with bound parameters.
//! Column names come from fixed matches, never from input.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use usermgmt_core::filter::{
    Cursor, EnrollmentMatch, ListPlan, SortBy, SortOrder, SortValue, UserFilters, Window,
};
use usermgmt_core::model::{PROFILE_COMPLETE_THRESHOLD, PermissionSet};
use usermgmt_core::storage::EnrollmentLayout;

/// A query under construction.
pub(crate) type Sql = QueryBuilder<Postgres>;

/// The user columns read by [`crate::codec::user_from_row`], for table alias `u`.
pub(crate) const USER_COLUMNS: &str = "u.id, u.tenant_id, u.name, u.email, u.phone, u.username, u.unique_id, \
    u.status, u.is_admin, u.is_instructor, u.is_learner, u.email_verified, u.phone_verified, u.auth_method, \
    (u.password_hash IS NOT NULL) AS has_password, u.avatar_url, u.bio, u.country, u.city, u.state, u.timezone, \
    u.locale, u.gender, u.designation, u.date_of_birth, u.created_at, u.updated_at, u.last_login_at, \
    u.deleted_at, u.failed_login_attempts, u.locked_until, u.version";

fn strings<T: Copy>(values: &[T], f: impl Fn(T) -> &'static str) -> Vec<String> {
    values.iter().map(|v| f(*v).to_owned()).collect()
}

fn folded(values: &[String]) -> Vec<String> {
    values.iter().map(|v| v.to_ascii_lowercase()).collect()
}

fn flag(sql: &mut Sql, column: &str, wanted: Option<bool>) {
    if let Some(wanted) = wanted {
        sql.push(" AND ").push(column).push(" = ").push_bind(wanted);
    }
}

fn presence(sql: &mut Sql, present: &str, absent: &str, wanted: Option<bool>) {
    if let Some(wanted) = wanted {
        sql.push(" AND ")
            .push(if wanted { present } else { absent });
    }
}

fn any_of(sql: &mut Sql, expression: &str, values: Vec<String>) {
    if !values.is_empty() {
        sql.push(" AND ")
            .push(expression)
            .push(" = ANY(")
            .push_bind(values)
            .push(")");
    }
}

fn time_bound(sql: &mut Sql, column: &str, op: &str, bound: Option<DateTime<Utc>>) {
    if let Some(bound) = bound {
        sql.push(" AND ").push(column).push(op).push_bind(bound);
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Appends the conditions of `filters` (normalised, cross-service filters removed) for users
/// aliased `u`, starting with the tenant.
pub(crate) fn where_clause(sql: &mut Sql, tenant: &str, f: &UserFilters, now: DateTime<Utc>) {
    sql.push("u.tenant_id = ").push_bind(tenant.to_owned());
    if let Some(term) = &f.search {
        // The trigram index serves LIKE for terms of three or more characters; shorter ones
        // scan, where LIKE is also faster than strpos (222 vs 266 ms at 1M users).
        sql.push(" AND u.search_text LIKE ")
            .push_bind(format!("%{}%", like_escape(term)))
            .push(" ESCAPE '\\'");
    }
    if !f.includes_deleted() {
        sql.push(" AND u.status <> 'deleted'");
    }
    if let Some(status) = f.status {
        sql.push(" AND u.status = ")
            .push_bind(status.as_str().to_owned());
    }
    any_of(sql, "u.status", strings(&f.statuses, |s| s.as_str()));
    flag(sql, "u.is_admin", f.is_admin);
    flag(sql, "u.is_instructor", f.is_instructor);
    flag(sql, "u.is_learner", f.is_learner);
    flag(sql, "u.email_verified", f.email_verified);
    flag(sql, "u.phone_verified", f.phone_verified);
    any_of(
        sql,
        "u.auth_method",
        strings(&f.auth_method, |m| m.as_str()),
    );
    const OAUTH: &str =
        "EXISTS (SELECT 1 FROM user_oauth o WHERE o.tenant_id = u.tenant_id AND o.user_id = u.id";
    presence(
        sql,
        &format!("{OAUTH})"),
        &format!("NOT {OAUTH})"),
        f.has_oauth,
    );
    if !f.oauth_provider.is_empty() {
        sql.push(" AND ").push(OAUTH).push(" AND o.provider = ANY(");
        sql.push_bind(strings(&f.oauth_provider, |p| p.as_str()))
            .push("))");
    }
    presence(
        sql,
        "u.password_hash IS NOT NULL",
        "u.password_hash IS NULL",
        f.has_password,
    );
    if !f.roles.is_empty() {
        sql.push(" AND EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id ");
        sql.push("WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id AND r.name = ANY(")
            .push_bind(f.roles.clone())
            .push("))");
    }
    if let Some(complete) = f.profile_complete {
        let op = if complete { " >= " } else { " < " };
        sql.push(" AND u.profile_completeness")
            .push(op)
            .push_bind(i16::from(PROFILE_COMPLETE_THRESHOLD));
    }
    presence(
        sql,
        "u.avatar_url IS NOT NULL",
        "u.avatar_url IS NULL",
        f.has_avatar,
    );
    presence(sql, "u.bio IS NOT NULL", "u.bio IS NULL", f.has_bio);
    presence(
        sql,
        "(u.country IS NOT NULL OR u.city IS NOT NULL)",
        "(u.country IS NULL AND u.city IS NULL)",
        f.has_location,
    );
    any_of(sql, "u.country", f.country.clone());
    any_of(sql, "usermgmt_ascii_fold(u.city)", folded(&f.city));
    any_of(sql, "usermgmt_ascii_fold(u.state)", folded(&f.state));
    any_of(sql, "u.continent", strings(&f.continent, |c| c.as_str()));
    any_of(sql, "u.timezone", f.timezone.clone());
    any_of(sql, "usermgmt_ascii_fold(u.locale)", folded(&f.locale));
    any_of(sql, "u.gender", strings(&f.gender, |g| g.as_str()));
    any_of(
        sql,
        "usermgmt_ascii_fold(u.designation)",
        folded(&f.designation),
    );
    if !f.expertise.is_empty() {
        sql.push(" AND EXISTS (SELECT 1 FROM user_expertise e WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id ");
        sql.push("AND usermgmt_ascii_fold(e.value) = ANY(")
            .push_bind(folded(&f.expertise))
            .push("))");
    }
    let today = now.date_naive();
    if let Some(latest) = f.born_on_or_before(today) {
        sql.push(" AND u.date_of_birth <= ").push_bind(latest);
    }
    if let Some(earliest) = f.born_after(today) {
        sql.push(" AND u.date_of_birth > ").push_bind(earliest);
    }
    time_bound(sql, "u.created_at", " >= ", f.created_after);
    time_bound(sql, "u.created_at", " < ", f.created_before);
    time_bound(sql, "u.created_at", " >= ", f.created_since(now));
    time_bound(sql, "u.last_login_at", " >= ", f.last_login_after);
    time_bound(sql, "u.last_login_at", " < ", f.last_login_before);
    time_bound(sql, "u.last_login_at", " >= ", f.active_since(now));
    if let Some(since) = f.inactive_since(now) {
        sql.push(" AND (u.last_login_at IS NULL OR u.last_login_at < ")
            .push_bind(since)
            .push(")");
    }
    if let Some(locked) = f.is_locked {
        if locked {
            sql.push(" AND u.locked_until > ").push_bind(now);
        } else {
            sql.push(" AND (u.locked_until IS NULL OR u.locked_until <= ")
                .push_bind(now)
                .push(")");
        }
    }
    if let Some(min) = f.failed_login_attempts_min {
        sql.push(" AND u.failed_login_attempts >= ")
            .push_bind(i64::from(min));
    }
    if let Some(max) = f.failed_login_attempts_max {
        sql.push(" AND u.failed_login_attempts <= ")
            .push_bind(i64::from(max));
    }
}

/// SQL true when user `u` holds a permission outside `allowed` (through a role or directly).
pub(crate) fn holds_permission_outside(sql: &mut Sql, allowed: &PermissionSet) {
    let allowed: Vec<String> = allowed.iter().map(|p| p.as_str().to_owned()).collect();
    sql.push("(EXISTS (SELECT 1 FROM user_roles ur JOIN role_permissions rp ON rp.tenant_id = ur.tenant_id ");
    sql.push("AND rp.role_id = ur.role_id WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id ");
    sql.push("AND NOT (rp.permission = ANY(")
        .push_bind(allowed.clone())
        .push("))) OR EXISTS (SELECT 1 FROM user_permissions up ");
    sql.push(
        "WHERE up.tenant_id = u.tenant_id AND up.user_id = u.id AND NOT (up.permission = ANY(",
    )
    .push_bind(allowed)
    .push("))))");
}

fn sort_column(sort_by: SortBy) -> &'static str {
    match sort_by {
        SortBy::Name => "u.name_key",
        SortBy::Email => "u.email",
        SortBy::CreatedAt => "u.created_at",
        SortBy::LastLoginAt => "u.last_login_at",
        SortBy::Status => "u.status",
    }
}

fn bind_value(sql: &mut Sql, value: &SortValue) {
    match value {
        SortValue::Text(text) => sql.push_bind(text.clone()),
        SortValue::Time(time) => sql.push_bind(*time),
    };
}

/// Appends "strictly after the cursor" in the cursor's order; absent values sort lowest.
fn after_cursor(sql: &mut Sql, cursor: &Cursor) {
    let col = sort_column(cursor.sort_by);
    let absent = matches!(cursor.value, SortValue::Text(None) | SortValue::Time(None));
    sql.push(" AND ");
    match (cursor.sort_order, absent) {
        (SortOrder::Asc, true) => {
            sql.push("((")
                .push(col)
                .push(" IS NULL AND u.id > ")
                .push_bind(cursor.id);
            sql.push(") OR ").push(col).push(" IS NOT NULL)");
        }
        // Row values: the (key, id) index seeks straight to the cursor. Ascending, absent
        // values came first, so none can follow a present one.
        (SortOrder::Asc, false) => {
            sql.push("(").push(col).push(", u.id) > (");
            bind_value(sql, &cursor.value);
            sql.push(", ").push_bind(cursor.id).push(")");
        }
        (SortOrder::Desc, true) => {
            sql.push("(")
                .push(col)
                .push(" IS NULL AND u.id < ")
                .push_bind(cursor.id)
                .push(")");
        }
        // Descending, absent values come last: they follow every present one.
        (SortOrder::Desc, false) => {
            sql.push("((").push(col).push(", u.id) < (");
            bind_value(sql, &cursor.value);
            sql.push(", ").push_bind(cursor.id).push(")");
            if cursor.sort_by.can_be_absent() {
                sql.push(" OR ").push(col).push(" IS NULL");
            }
            sql.push(")");
        }
    }
}

/// The page query of a plan.
pub(crate) fn page_query(
    tenant: &str,
    plan: &ListPlan,
    now: DateTime<Utc>,
    pushdown: Option<&EnrollmentLayout>,
) -> Sql {
    let mut sql = Sql::new("SELECT ");
    sql.push(USER_COLUMNS).push(" FROM users u WHERE ");
    where_clause(&mut sql, tenant, &plan.filters, now);
    enrollment_clause(&mut sql, plan.enrollment.as_ref());
    pushdown_clause(&mut sql, pushdown, tenant, &plan.filters);
    if let Window::After(cursor) = &plan.window {
        after_cursor(&mut sql, cursor);
    }
    let col = sort_column(plan.sort_by);
    // Absent values sort lowest. Only email and last login can be absent; naming NULLS for the
    // other keys would stop PostgreSQL from scanning their (NOT NULL) indexes backwards.
    let nullable = matches!(plan.sort_by, SortBy::Email | SortBy::LastLoginAt);
    let (direction, nulls) = match plan.sort_order {
        SortOrder::Asc => (" ASC", " NULLS FIRST"),
        SortOrder::Desc => (" DESC", " NULLS LAST"),
    };
    sql.push(" ORDER BY ").push(col).push(direction);
    if nullable {
        sql.push(nulls);
    }
    sql.push(", u.id").push(direction);
    sql.push(" LIMIT ").push_bind(i64::from(plan.limit));
    if let Window::Offset(offset) = plan.window {
        sql.push(" OFFSET ")
            .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
    }
    sql
}

/// The count query of a plan.
pub(crate) fn count_query(
    tenant: &str,
    filters: &UserFilters,
    enrollment: Option<&EnrollmentMatch>,
    now: DateTime<Utc>,
    pushdown: Option<&EnrollmentLayout>,
) -> Sql {
    let mut sql = Sql::new("SELECT count(*) FROM users u WHERE ");
    where_clause(&mut sql, tenant, filters, now);
    enrollment_clause(&mut sql, enrollment);
    pushdown_clause(&mut sql, pushdown, tenant, filters);
    sql
}

/// Evaluates the enrollment filters inside the query (push-down) as a semi-join on the
/// learning table in this database.
pub(crate) fn pushdown_clause(
    sql: &mut Sql,
    layout: Option<&EnrollmentLayout>,
    tenant: &str,
    filters: &UserFilters,
) {
    let Some(layout) = layout else { return };
    if filters.cross_service_filters_in_use().is_empty() {
        return;
    }
    if filters.enrollment_filters_unsatisfiable() {
        sql.push(" AND false");
        return;
    }
    let except = filters.has_enrollments == Some(false);
    sql.push(if except {
        " AND NOT (u.id IN ("
    } else {
        " AND (u.id IN ("
    });
    let _ = crate::enrollment_source::push_users_query(
        sql,
        layout,
        tenant,
        filters,
        crate::enrollment_source::UserIdProjection::Uuid,
    );
    sql.push("))");
}

/// Keeps only the users an enrollment source left (one array parameter).
pub(crate) fn enrollment_clause(sql: &mut Sql, enrollment: Option<&EnrollmentMatch>) {
    match enrollment {
        None => {}
        Some(EnrollmentMatch::Only(ids)) => {
            sql.push(" AND u.id = ANY(")
                .push_bind(ids.clone())
                .push(")");
        }
        Some(EnrollmentMatch::Except(ids)) => {
            sql.push(" AND NOT (u.id = ANY(")
                .push_bind(ids.clone())
                .push("))");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
