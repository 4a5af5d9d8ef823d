//! Translation of normalised filters, sorts and windows into SQL with bound parameters.
//! Column names come from fixed matches, never from input.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use rusqlite::types::Value;
use usermgmt_core::filter::{
    Cursor, EnrollmentMatch, ListPlan, SortBy, SortOrder, SortValue, UserFilters, Window,
};
use usermgmt_core::model::{PROFILE_COMPLETE_THRESHOLD, PermissionSet};

use crate::codec::{date_text, micros};
use crate::enrollment_source::EnrollmentSql;

/// SQL text with its positional parameters.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) text: String,
    pub(crate) params: Vec<Value>,
}

impl Sql {
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.text.push('?');
        self.params.push(value.into());
        self
    }

    /// Appends `(?, ?, …)`.
    pub(crate) fn bind_list<V: Into<Value>>(
        &mut self,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        self.text.push('(');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(value);
        }
        self.text.push(')');
        self
    }

    fn and(&mut self) -> &mut Self {
        self.push(" AND ")
    }
}

/// How a search term is evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchMode {
    /// Only these rows (a JSON array of `users.seq`, found by the trigram index) can match;
    /// each is re-checked exactly.
    Candidates(String),
    /// Exact check on every row the other conditions leave.
    Scan,
}

/// How the `roles` filter is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RolesForm {
    /// The role holders drive the query (`u.seq IN (…)`): for few holders, and for counts and
    /// full result sets, which visit every match anyway.
    Holders,
    /// A correlated probe per row (`EXISTS`): a page of a common role walks the sort index
    /// and stops after the page instead of collecting and sorting every holder.
    Probe,
}

/// Role holders at which a page stops being driven by them.
const ROLE_HOLDERS_DRIVE_BELOW: i64 = 10_000;

/// Chooses how a page evaluates the `roles` filter, by counting the holders (bounded).
pub(crate) fn roles_form(
    conn: &Connection,
    tenant: &str,
    roles: &[String],
) -> rusqlite::Result<RolesForm> {
    if roles.is_empty() {
        return Ok(RolesForm::Holders);
    }
    let mut sql = Sql::default();
    sql.push("SELECT count(*) FROM (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.tenant_id = ")
        .bind(tenant.to_owned())
        .push(" AND r.name IN ")
        .bind_list(roles.iter().cloned())
        .push(" LIMIT ")
        .bind(ROLE_HOLDERS_DRIVE_BELOW)
        .push(")");
    let holders: i64 = conn
        .prepare_cached(&sql.text)?
        .query_row(rusqlite::params_from_iter(sql.params.iter()), |r| r.get(0))?;
    Ok(if holders < ROLE_HOLDERS_DRIVE_BELOW {
        RolesForm::Holders
    } else {
        RolesForm::Probe
    })
}

/// Candidates read before estimating how many there are in all.
const ESTIMATE_AFTER: usize = 256;

/// Estimated candidates in all when the `sample`-th one has rowid `reached` of `highest`.
fn estimated_total(sample: usize, reached: i64, highest: i64) -> f64 {
    sample as f64 * highest.max(1) as f64 / reached.max(1) as f64
}

/// Most trigrams of a term put in the index query (evenly spread over long terms).
const MAX_TRIGRAMS: usize = 16;

/// Chooses how to evaluate `term`. Terms under 3 characters have no trigram: scan. Otherwise
/// the trigram index is asked for the rows holding every trigram of the term, stopping at
/// `threshold` rows (or as soon as a sample shows there will be that many): a term matching
/// that many is not selective and a scan is cheaper; below it, those candidate rows (a
/// superset of the matches) drive the query.
pub(crate) fn search_mode(
    conn: &Connection,
    term: &str,
    threshold: u32,
) -> rusqlite::Result<SearchMode> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() < 3 {
        return Ok(SearchMode::Scan);
    }
    let mut trigrams: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
    trigrams.sort();
    trigrams.dedup();
    let step = trigrams.len().div_ceil(MAX_TRIGRAMS);
    let expression = trigrams
        .iter()
        .step_by(step)
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ");
    let highest_seq: i64 = conn
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM users")?
        .query_row([], |row| row.get(0))?;
    let mut stmt =
        conn.prepare_cached("SELECT rowid FROM users_search WHERE users_search MATCH ?1 LIMIT ?2")?;
    let mut rows = stmt.query(rusqlite::params![expression, threshold])?;
    let mut seqs = Vec::new();
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        seqs.push(seq);
        // Candidates come in rowid order and rowids are spread evenly over the table, so
        // after a sample the share of the rowid range covered tells roughly how many there
        // are in all: stop early for common terms instead of collecting `threshold` rows.
        if seqs.len() == ESTIMATE_AFTER
            && estimated_total(ESTIMATE_AFTER, seq, highest_seq) >= f64::from(threshold)
        {
            return Ok(SearchMode::Scan);
        }
    }
    if seqs.len() >= threshold as usize {
        return Ok(SearchMode::Scan);
    }
    let list: Vec<String> = seqs.iter().map(i64::to_string).collect();
    Ok(SearchMode::Candidates(format!("[{}]", list.join(","))))
}

fn flag(sql: &mut Sql, column: &str, wanted: Option<bool>) {
    if let Some(wanted) = wanted {
        sql.and().push(column).push(" = ").bind(wanted);
    }
}

fn presence(sql: &mut Sql, present: &str, absent: &str, wanted: Option<bool>) {
    if let Some(wanted) = wanted {
        sql.and().push(if wanted { present } else { absent });
    }
}

fn any_of<V: Into<Value> + Clone>(sql: &mut Sql, column: &str, values: &[V]) {
    if !values.is_empty() {
        sql.and()
            .push(column)
            .push(" IN ")
            .bind_list(values.iter().cloned());
    }
}

fn strs<T: Copy>(values: &[T], f: impl Fn(T) -> &'static str) -> Vec<String> {
    values.iter().map(|v| f(*v).to_owned()).collect()
}

fn time_bound(sql: &mut Sql, column: &str, op: &str, bound: Option<DateTime<Utc>>) {
    if let Some(bound) = bound {
        sql.and().push(column).push(op).bind(micros(bound));
    }
}

/// Appends the conditions of `filters` (already normalised, cross-service filters removed)
/// for users aliased `u`, starting with the tenant. A search is always re-checked exactly here;
/// the candidate rows of [`SearchMode::Candidates`] come in through [`push_from`].
pub(crate) fn where_clause(
    sql: &mut Sql,
    tenant: &str,
    f: &UserFilters,
    now: DateTime<Utc>,
    roles: RolesForm,
) {
    sql.push("u.tenant_id = ").bind(tenant.to_owned());
    if let Some(term) = &f.search {
        sql.and()
            .push("instr(u.search_text, ")
            .bind(term.clone())
            .push(") > 0");
    }
    if !f.includes_deleted() {
        sql.and().push("u.status <> 'deleted'");
    }
    if let Some(status) = f.status {
        sql.and()
            .push("u.status = ")
            .bind(status.as_str().to_owned());
    }
    any_of(sql, "u.status", &strs(&f.statuses, |s| s.as_str()));
    flag(sql, "u.is_admin", f.is_admin);
    flag(sql, "u.is_instructor", f.is_instructor);
    flag(sql, "u.is_learner", f.is_learner);
    flag(sql, "u.email_verified", f.email_verified);
    flag(sql, "u.phone_verified", f.phone_verified);
    any_of(sql, "u.auth_method", &strs(&f.auth_method, |m| m.as_str()));
    presence(
        sql,
        "EXISTS (SELECT 1 FROM user_oauth o WHERE o.user_seq = u.seq)",
        "NOT EXISTS (SELECT 1 FROM user_oauth o WHERE o.user_seq = u.seq)",
        f.has_oauth,
    );
    if !f.oauth_provider.is_empty() {
        sql.and()
            .push("EXISTS (SELECT 1 FROM user_oauth o WHERE o.user_seq = u.seq AND o.provider IN ")
            .bind_list(strs(&f.oauth_provider, |p| p.as_str()))
            .push(")");
    }
    presence(
        sql,
        "u.password_hash IS NOT NULL",
        "u.password_hash IS NULL",
        f.has_password,
    );
    if !f.roles.is_empty() {
        match roles {
            RolesForm::Holders => sql
                .and()
                .push("u.seq IN (SELECT ur.user_seq FROM user_roles ur JOIN roles r ON r.id = ur.role_id ")
                .push("WHERE r.tenant_id = ")
                .bind(tenant.to_owned()),
            RolesForm::Probe => sql
                .and()
                .push("EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id ")
                .push("WHERE ur.user_seq = u.seq"),
        };
        sql.push(" AND r.name IN ")
            .bind_list(f.roles.iter().cloned())
            .push(")");
    }
    if let Some(complete) = f.profile_complete {
        let op = if complete { " >= " } else { " < " };
        sql.and()
            .push("u.profile_completeness")
            .push(op)
            .bind(i64::from(PROFILE_COMPLETE_THRESHOLD));
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
    any_of(sql, "u.country", &f.country);
    any_of(sql, "u.city", &f.city);
    any_of(sql, "u.state", &f.state);
    any_of(sql, "u.continent", &strs(&f.continent, |c| c.as_str()));
    any_of(sql, "u.timezone", &f.timezone);
    any_of(sql, "u.locale", &f.locale);
    any_of(sql, "u.gender", &strs(&f.gender, |g| g.as_str()));
    any_of(sql, "u.designation", &f.designation);
    if !f.expertise.is_empty() {
        sql.and()
            .push("EXISTS (SELECT 1 FROM user_expertise e WHERE e.user_seq = u.seq AND e.value IN ")
            .bind_list(f.expertise.iter().cloned())
            .push(")");
    }
    let today = now.date_naive();
    if let Some(latest) = f.born_on_or_before(today) {
        sql.and()
            .push("u.date_of_birth <= ")
            .bind(date_text(latest));
    }
    if let Some(earliest) = f.born_after(today) {
        sql.and()
            .push("u.date_of_birth > ")
            .bind(date_text(earliest));
    }
    time_bound(sql, "u.created_at", " >= ", f.created_after);
    time_bound(sql, "u.created_at", " < ", f.created_before);
    time_bound(sql, "u.created_at", " >= ", f.created_since(now));
    time_bound(sql, "u.last_login_at", " >= ", f.last_login_after);
    time_bound(sql, "u.last_login_at", " < ", f.last_login_before);
    time_bound(sql, "u.last_login_at", " >= ", f.active_since(now));
    if let Some(since) = f.inactive_since(now) {
        sql.and()
            .push("(u.last_login_at IS NULL OR u.last_login_at < ")
            .bind(micros(since))
            .push(")");
    }
    if let Some(locked) = f.is_locked {
        if locked {
            sql.and().push("u.locked_until > ").bind(micros(now));
        } else {
            sql.and()
                .push("(u.locked_until IS NULL OR u.locked_until <= ")
                .bind(micros(now))
                .push(")");
        }
    }
    if let Some(min) = f.failed_login_attempts_min {
        sql.and()
            .push("u.failed_login_attempts >= ")
            .bind(i64::from(min));
    }
    if let Some(max) = f.failed_login_attempts_max {
        sql.and()
            .push("u.failed_login_attempts <= ")
            .bind(i64::from(max));
    }
}

/// SQL true when user `u` holds a permission outside `allowed` (through a role or directly).
pub(crate) fn holds_permission_outside(sql: &mut Sql, allowed: &PermissionSet) {
    let allowed: Vec<String> = allowed.iter().map(|p| p.as_str().to_owned()).collect();
    sql.push("(EXISTS (SELECT 1 FROM user_roles ur JOIN role_permissions rp ON rp.role_id = ur.role_id ")
        .push("WHERE ur.user_seq = u.seq AND rp.permission NOT IN ")
        .bind_list(allowed.iter().cloned())
        .push(") OR EXISTS (SELECT 1 FROM user_permissions up WHERE up.user_seq = u.seq AND up.permission NOT IN ")
        .bind_list(allowed)
        .push("))");
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

fn sort_value(value: &SortValue) -> Value {
    match value {
        SortValue::Text(text) => text.clone().map_or(Value::Null, Value::Text),
        SortValue::Time(time) => time.map_or(Value::Null, |t| Value::Integer(micros(t))),
    }
}

/// Appends the keyset condition "strictly after the cursor" in the cursor's order, where
/// absent values sort lowest (first ascending, last descending).
fn after_cursor(sql: &mut Sql, cursor: &Cursor) {
    let col = sort_column(cursor.sort_by);
    let id = cursor.id;
    let value = sort_value(&cursor.value);
    sql.and();
    match (cursor.sort_order, value) {
        (SortOrder::Asc, Value::Null) => {
            sql.push("((")
                .push(col)
                .push(" IS NULL AND u.id > ")
                .bind(uuid_value(id))
                .push(") OR ")
                .push(col)
                .push(" IS NOT NULL)");
        }
        // Row values: the (key, id) index seeks straight to the cursor. Ascending, absent
        // values came first, so none can follow a present one.
        (SortOrder::Asc, v) => {
            sql.push("(").push(col).push(", u.id) > (").bind(v);
            sql.push(", ").bind(uuid_value(id)).push(")");
        }
        (SortOrder::Desc, Value::Null) => {
            sql.push("(")
                .push(col)
                .push(" IS NULL AND u.id < ")
                .bind(uuid_value(id))
                .push(")");
        }
        // Descending, absent values come last: they follow every present one.
        (SortOrder::Desc, v) => {
            sql.push("((").push(col).push(", u.id) < (").bind(v);
            sql.push(", ").bind(uuid_value(id)).push(")");
            if cursor.sort_by.can_be_absent() {
                sql.push(" OR ").push(col).push(" IS NULL");
            }
            sql.push(")");
        }
    }
}

/// The tables a list reads. With search candidates, they drive the query (`CROSS JOIN`
/// fixes that order): each is looked up by rowid and the few survivors sorted, instead of
/// walking a sort index and testing every row against the candidate list.
pub(crate) fn push_from(sql: &mut Sql, search: &SearchMode) {
    match search {
        SearchMode::Candidates(seqs) => {
            sql.push("json_each(")
                .bind(seqs.clone())
                .push(") AS c CROSS JOIN users u ON u.seq = c.value");
        }
        SearchMode::Scan => {
            sql.push("users u");
        }
    }
}

/// The page query of a plan: `SELECT <columns> FROM users u WHERE … ORDER BY … LIMIT …`.
pub(crate) fn page_query(
    columns: &str,
    tenant: &str,
    plan: &ListPlan,
    now: DateTime<Utc>,
    search: &SearchMode,
    roles: RolesForm,
    pushdown: Option<&EnrollmentSql>,
) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT ").push(columns).push(" FROM ");
    push_from(&mut sql, search);
    sql.push(" WHERE ");
    where_clause(&mut sql, tenant, &plan.filters, now, roles);
    enrollment_clause(&mut sql, plan.enrollment.as_ref());
    pushdown_clause(&mut sql, pushdown);
    if let Window::After(cursor) = &plan.window {
        after_cursor(&mut sql, cursor);
    }
    let dir = match plan.sort_order {
        SortOrder::Asc => " ASC",
        SortOrder::Desc => " DESC",
    };
    sql.push(" ORDER BY ")
        .push(sort_column(plan.sort_by))
        .push(dir)
        .push(", u.id")
        .push(dir);
    sql.push(" LIMIT ").bind(i64::from(plan.limit));
    if let Window::Offset(offset) = plan.window {
        sql.push(" OFFSET ")
            .bind(i64::try_from(offset).unwrap_or(i64::MAX));
    }
    sql
}

/// The count query of a plan (role holders drive it: every match is visited anyway).
pub(crate) fn count_query(
    tenant: &str,
    filters: &UserFilters,
    enrollment: Option<&EnrollmentMatch>,
    now: DateTime<Utc>,
    search: &SearchMode,
    pushdown: Option<&EnrollmentSql>,
) -> Sql {
    let mut sql = Sql::default();
    sql.push("SELECT count(*) FROM ");
    push_from(&mut sql, search);
    sql.push(" WHERE ");
    where_clause(&mut sql, tenant, filters, now, RolesForm::Holders);
    enrollment_clause(&mut sql, enrollment);
    pushdown_clause(&mut sql, pushdown);
    sql
}

/// Evaluates the enrollment filters inside the query (push-down): a semi-join on the
/// attached learning database's enrollments.
pub(crate) fn pushdown_clause(sql: &mut Sql, pushdown: Option<&EnrollmentSql>) {
    match pushdown {
        None => {}
        Some(EnrollmentSql::Nobody) => {
            sql.push(" AND 0");
        }
        Some(EnrollmentSql::Users {
            sql: sub,
            params,
            except,
        }) => {
            sql.push(if *except {
                " AND u.id NOT IN "
            } else {
                " AND u.id IN "
            });
            sql.push("(SELECT unhex(replace(uid, '-', '')) FROM (")
                .push(sub)
                .push("))");
            sql.params.extend(params.iter().cloned());
        }
    }
}

/// Keeps only the users an enrollment source left (a JSON array of hex ids, so the id list
/// is one parameter however long).
pub(crate) fn enrollment_clause(sql: &mut Sql, enrollment: Option<&EnrollmentMatch>) {
    let (ids, negate) = match enrollment {
        None => return,
        Some(EnrollmentMatch::Only(ids)) => (ids, false),
        Some(EnrollmentMatch::Except(ids)) => (ids, true),
    };
    let hex: Vec<String> = ids
        .iter()
        .map(|id| format!("\"{}\"", id.simple()))
        .collect();
    sql.push(if negate {
        " AND u.id NOT IN "
    } else {
        " AND u.id IN "
    });
    sql.push("(SELECT unhex(value) FROM json_each(")
        .bind(format!("[{}]", hex.join(",")))
        .push("))");
}

/// A UUID as the 16-byte blob it is stored as.
pub(crate) fn uuid_value(id: uuid::Uuid) -> Value {
    Value::Blob(id.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use usermgmt_core::filter::{ListQuery, SortBy, SortOrder};
    use usermgmt_core::model::Status;

    use super::*;

    /// The query plan SQLite picks for the SQL this module generates.
    fn explain(conn: &Connection, sql: &Sql) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
            .unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join(" | ")
    }

    fn plan_of(filters: UserFilters, sort_by: SortBy, sort_order: SortOrder) -> ListPlan {
        ListQuery {
            filters,
            sort_by,
            sort_order,
            ..Default::default()
        }
        .plan(500)
        .unwrap()
    }

    #[test]
    fn generated_queries_use_the_intended_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrations::migrate(&mut conn).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let no_sort = |p: &str| !p.contains("TEMP B-TREE");

        let default = plan_of(UserFilters::default(), SortBy::CreatedAt, SortOrder::Desc);
        let p = explain(
            &conn,
            &page_query(
                "u.id",
                "t",
                &default,
                now,
                &SearchMode::Scan,
                RolesForm::Holders,
                None,
            ),
        );
        assert!(p.contains("users_by_created") && no_sort(&p), "{p}");

        // A cursor page seeks to the cursor in the sort index.
        for (sort_by, index) in [
            (SortBy::CreatedAt, "users_by_created"),
            (SortBy::Name, "users_by_name"),
            (SortBy::Email, "users_by_email"),
            (SortBy::LastLoginAt, "users_by_last_login"),
        ] {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                let mut after = plan_of(UserFilters::default(), sort_by, order);
                let value = match sort_by {
                    SortBy::CreatedAt | SortBy::LastLoginAt => SortValue::Time(Some(now)),
                    _ => SortValue::Text(Some("m".into())),
                };
                after.window = Window::After(Cursor {
                    sort_by,
                    sort_order: order,
                    value,
                    id: uuid::Uuid::nil(),
                });
                let p = explain(
                    &conn,
                    &page_query(
                        "u.id",
                        "t",
                        &after,
                        now,
                        &SearchMode::Scan,
                        RolesForm::Holders,
                        None,
                    ),
                );
                let seeks = p.contains(&format!("INDEX {index} (tenant_id=? AND ("));
                // Descending on a key users can lack, the absent values follow the cursor
                // too: the index is walked in order (no sort) rather than sought.
                let walks = sort_by.can_be_absent() && order == SortOrder::Desc;
                assert!(
                    (seeks || walks) && no_sort(&p),
                    "{sort_by:?} {order:?}: {p}"
                );
            }
        }

        let active = UserFilters {
            status: Some(Status::Active),
            ..Default::default()
        };
        let p = explain(
            &conn,
            &page_query(
                "u.id",
                "t",
                &plan_of(active, SortBy::CreatedAt, SortOrder::Desc),
                now,
                &SearchMode::Scan,
                RolesForm::Holders,
                None,
            ),
        );
        assert!(p.contains("users_by_status") && no_sort(&p), "{p}");

        let by_name = plan_of(UserFilters::default(), SortBy::Name, SortOrder::Asc);
        let p = explain(
            &conn,
            &page_query(
                "u.id",
                "t",
                &by_name,
                now,
                &SearchMode::Scan,
                RolesForm::Holders,
                None,
            ),
        );
        assert!(p.contains("users_by_name") && no_sort(&p), "{p}");

        let searched = UserFilters {
            search: Some("lovelace".into()),
            ..Default::default()
        };
        let mode = SearchMode::Candidates("[1,2,3]".into());
        let p = explain(
            &conn,
            &page_query(
                "u.id",
                "t",
                &plan_of(searched.clone(), SortBy::CreatedAt, SortOrder::Desc),
                now,
                &mode,
                RolesForm::Holders,
                None,
            ),
        );
        assert!(
            p.contains("SCAN c") && p.contains("INTEGER PRIMARY KEY"),
            "candidates drive the query: {p}"
        );
        let p = explain(&conn, &count_query("t", &searched, None, now, &mode, None));
        assert!(
            p.contains("SCAN c") && p.contains("INTEGER PRIMARY KEY"),
            "{p}"
        );
    }

    #[test]
    fn common_terms_are_recognised_from_a_sample() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrations::migrate(&mut conn).unwrap();
        for i in 0..600 {
            let text = if i % 2 == 0 {
                format!("common {i}")
            } else {
                format!("rare {i}")
            };
            conn.execute(
                "INSERT INTO users (id, tenant_id, name, name_key, status, is_admin, is_instructor, is_learner, \
                 email_verified, phone_verified, auth_method, profile_completeness, created_at, updated_at, \
                 version, search_text) VALUES (randomblob(16), 't', 'n', 'n', 'active', 0, 0, 1, 0, 0, 'email', \
                 0, 0, 0, 1, ?1)",
                [text],
            )
            .unwrap();
        }
        // 300 matches: the sample of 256 reaches rowid ~511 of 600, estimating ~300.
        assert_eq!(
            search_mode(&conn, "common", 280).unwrap(),
            SearchMode::Scan,
            "estimated above the threshold"
        );
        match search_mode(&conn, "common", 400).unwrap() {
            SearchMode::Candidates(list) => assert_eq!(list.matches(',').count(), 299),
            SearchMode::Scan => panic!("300 candidates are under a threshold of 400"),
        }
    }

    #[test]
    fn search_mode_follows_selectivity() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrations::migrate(&mut conn).unwrap();
        for i in 0..30 {
            conn.execute(
                "INSERT INTO users (id, tenant_id, name, name_key, status, is_admin, is_instructor, is_learner, \
                 email_verified, phone_verified, auth_method, profile_completeness, created_at, updated_at, \
                 version, search_text) VALUES (randomblob(16), 't', 'n', 'n', 'active', 0, 0, 1, 0, 0, 'email', \
                 0, 0, 0, 1, ?1)",
                [format!("common name {i}\nuser{i}@x.test")],
            )
            .unwrap();
        }
        assert_eq!(
            search_mode(&conn, "co", 10).unwrap(),
            SearchMode::Scan,
            "too short for trigrams"
        );
        assert_eq!(
            search_mode(&conn, "common", 10).unwrap(),
            SearchMode::Scan,
            "not selective"
        );
        assert_eq!(
            search_mode(&conn, "user17@", 10).unwrap(),
            SearchMode::Candidates("[18]".into())
        );
        assert_eq!(
            search_mode(&conn, "zzz", 10).unwrap(),
            SearchMode::Candidates("[]".into())
        );
        assert_eq!(
            search_mode(&conn, "\"x\" OR", 10).unwrap(),
            SearchMode::Candidates("[]".into()),
            "syntax is text"
        );
    }

    #[test]
    fn both_roles_forms_select_the_same_users_and_the_choice_follows_the_holders() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrations::migrate(&mut conn).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        for (role, tenant) in [("a", "t"), ("b", "t"), ("a", "other")] {
            conn.execute(
                "INSERT INTO roles (id, tenant_id, name, created_at, updated_at) VALUES (randomblob(16), ?1, ?2, 0, 0)",
                [tenant, role],
            )
            .unwrap();
        }
        let holders = ROLE_HOLDERS_DRIVE_BELOW + 200;
        for i in 0..holders {
            conn.execute(
                "INSERT INTO users (id, tenant_id, name, name_key, status, is_admin, is_instructor, is_learner, \
                 email_verified, phone_verified, auth_method, profile_completeness, created_at, updated_at, \
                 version, search_text) VALUES (randomblob(16), ?1, 'n', 'n', 'active', 0, 0, 1, 0, 0, 'email', \
                 0, ?2, 0, 1, 'n')",
                rusqlite::params![if i % 97 == 0 { "other" } else { "t" }, i],
            )
            .unwrap();
            // Everyone holds `a` of their tenant; every 7th user of `t` also holds `b`.
            conn.execute(
                "INSERT INTO user_roles (user_seq, role_id) SELECT u.seq, r.id FROM users u JOIN roles r \
                 ON r.tenant_id = u.tenant_id WHERE u.created_at = ?1 AND (r.name = 'a' OR ?1 % 7 = 0)",
                [i],
            )
            .unwrap();
        }
        let ids = |sql: &Sql| -> Vec<Vec<u8>> {
            let mut stmt = conn.prepare(&sql.text).unwrap();
            stmt.query_map(rusqlite::params_from_iter(sql.params.iter()), |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        let number = |sql: &Sql| -> i64 {
            conn.query_row(
                &sql.text,
                rusqlite::params_from_iter(sql.params.iter()),
                |r| r.get(0),
            )
            .unwrap()
        };
        for roles in [vec!["a"], vec!["b"], vec!["a", "b"], vec!["missing"]] {
            let filters = UserFilters {
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                ..Default::default()
            };
            let plan = plan_of(filters.clone(), SortBy::CreatedAt, SortOrder::Desc);
            let page = |form| page_query("u.id", "t", &plan, now, &SearchMode::Scan, form, None);
            assert_eq!(
                ids(&page(RolesForm::Holders)),
                ids(&page(RolesForm::Probe)),
                "{roles:?}"
            );
            let count = count_query("t", &filters, None, now, &SearchMode::Scan, None);
            let mut probe = Sql::default();
            probe.push("SELECT count(*) FROM users u WHERE ");
            where_clause(&mut probe, "t", &filters, now, RolesForm::Probe);
            assert_eq!(number(&count), number(&probe), "{roles:?}");
        }
        let form = |roles: &[&str]| {
            let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
            roles_form(&conn, "t", &roles).unwrap()
        };
        assert_eq!(form(&["a"]), RolesForm::Probe, "common: probe page by page");
        assert_eq!(form(&["b"]), RolesForm::Holders, "few holders drive");
        assert_eq!(form(&["missing"]), RolesForm::Holders);
    }
}
