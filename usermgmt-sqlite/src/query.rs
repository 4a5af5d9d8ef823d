//! The SQLite dialect of the shared SQL ([`usermgmt_sql`]), the binding of its neutral
//! parameters to rusqlite, and the two planning probes only SQLite needs: how selective a
//! search term is (trigram index) and how many users hold the filtered roles.

use rusqlite::Connection;
use rusqlite::types::Value as Sqlite;
use usermgmt_core::filter::SortOrder;
use usermgmt_sql::{Dialect, Placeholders, Value};
pub(crate) use usermgmt_sql::{RolesForm, Sql};
use uuid::Uuid;

use crate::codec::{date_text, micros};

/// SQLite: `?` placeholders, lists as `IN (…)`, child rows keyed by the user's `seq`, case
/// folding by the columns' `NOCASE` collation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lite;

impl Dialect for Lite {
    fn placeholders(&self) -> Placeholders {
        Placeholders::Question
    }

    fn tenant_scoped(&self) -> bool {
        false
    }

    fn user_key(&self) -> (&'static str, &'static str) {
        ("seq", "user_seq")
    }

    fn any_of(&self, sql: &mut Sql, expr: &str, values: Vec<String>) {
        sql.push(expr).push(" IN ").bind_list(values);
    }

    fn folded(&self, expr: &str, values: Vec<String>) -> (String, Vec<String>) {
        (expr.to_owned(), values)
    }

    fn contains(&self, sql: &mut Sql, expr: &str, term: &str) {
        sql.push("instr(")
            .push(expr)
            .push(", ")
            .bind(term)
            .push(") > 0");
    }

    fn uuid_in(&self, sql: &mut Sql, expr: &str, ids: &[Uuid]) {
        // A JSON array of hex ids: one parameter however many ids.
        let hex: Vec<String> = ids
            .iter()
            .map(|id| format!("\"{}\"", id.simple()))
            .collect();
        sql.push(expr)
            .push(" IN (SELECT unhex(value) FROM json_each(")
            .bind(format!("[{}]", hex.join(",")))
            .push("))");
    }

    fn nulls(&self, _order: SortOrder) -> &'static str {
        // NULL is SQLite's lowest value already.
        ""
    }

    fn never(&self) -> &'static str {
        "0"
    }

    fn enrollment_user_id(&self, column: &str) -> String {
        format!("unhex(replace({column}, '-', ''))")
    }

    fn enrollment_user_text(&self, column: &str) -> String {
        column.to_owned()
    }

    fn enrollment_time(&self, column: &str) -> String {
        // Whole seconds in the table: a time within a second compares by its floor.
        format!("{column} * 1000000")
    }
}

/// A new query in the SQLite dialect.
pub(crate) fn sql() -> Sql {
    Lite.sql()
}

/// A neutral parameter as SQLite stores it: times as microseconds, dates as ISO text, UUIDs
/// as 16-byte blobs, booleans as integers.
fn sqlite_value(value: &Value) -> Sqlite {
    match value {
        Value::Null => Sqlite::Null,
        Value::Bool(v) => Sqlite::Integer(i64::from(*v)),
        Value::Int(v) => Sqlite::Integer(*v),
        Value::Text(v) => Sqlite::Text(v.clone()),
        Value::Bytes(v) => Sqlite::Blob(v.clone()),
        Value::Time(v) => Sqlite::Integer(micros(*v)),
        Value::Date(v) => Sqlite::Text(date_text(*v)),
        Value::Uuid(v) => Sqlite::Blob(v.as_bytes().to_vec()),
        Value::Texts(v) => Sqlite::Text(serde_json::Value::from(v.clone()).to_string()),
        Value::Uuids(v) => {
            let texts: Vec<String> = v.iter().map(Uuid::to_string).collect();
            Sqlite::Text(serde_json::Value::from(texts).to_string())
        }
    }
}

/// The parameters of `sql` for rusqlite.
pub(crate) fn args(sql: &Sql) -> rusqlite::ParamsFromIter<Vec<Sqlite>> {
    rusqlite::params_from_iter(sql.params().iter().map(sqlite_value).collect::<Vec<_>>())
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
    let mut sql = sql();
    sql.push("SELECT count(*) FROM (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.tenant_id = ")
        .bind(tenant)
        .push(" AND r.name IN ")
        .bind_list(roles.iter().cloned())
        .push(" LIMIT ")
        .bind(ROLE_HOLDERS_DRIVE_BELOW)
        .push(")");
    let holders: i64 = conn
        .prepare_cached(&sql.text())?
        .query_row(args(&sql), |r| r.get(0))?;
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

/// The tables a list reads. With search candidates, they drive the query (`CROSS JOIN`
/// fixes that order): each is looked up by rowid and the few survivors sorted, instead of
/// walking a sort index and testing every row against the candidate list.
pub(crate) fn from(search: &SearchMode) -> Sql {
    let mut sql = sql();
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
    sql
}

/// A UUID as the 16-byte blob it is stored as.
pub(crate) fn uuid_value(id: Uuid) -> Sqlite {
    Sqlite::Blob(id.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use chrono::{TimeZone, Utc};
    use usermgmt_core::filter::{
        Cursor, ListPlan, ListQuery, SortBy, SortValue, UserFilters, Window,
    };
    use usermgmt_core::model::Status;
    use usermgmt_sql::Matching;

    use super::*;

    /// The query plan SQLite picks for the SQL this module generates.
    fn explain(conn: &Connection, sql: &Sql) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text()))
            .unwrap();
        let rows = stmt
            .query_map(args(sql), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join(" | ")
    }

    fn page_query(
        columns: &str,
        tenant: &str,
        plan: &ListPlan,
        now: DateTime<Utc>,
        search: &SearchMode,
        roles: RolesForm,
        _pushdown: Option<()>,
    ) -> Sql {
        let m = Matching::plan(tenant, plan, now).roles(roles);
        usermgmt_sql::page_query(&Lite, columns, &from(search), plan, &m)
    }

    fn count_query(
        tenant: &str,
        filters: &UserFilters,
        _enrollment: Option<()>,
        now: DateTime<Utc>,
        search: &SearchMode,
        _pushdown: Option<()>,
    ) -> Sql {
        let m = Matching {
            tenant,
            filters,
            enrollment: None,
            pushdown: None,
            now,
            roles: RolesForm::Holders,
        };
        usermgmt_sql::count_query(&Lite, &from(search), &m)
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
            let mut stmt = conn.prepare(&sql.text()).unwrap();
            stmt.query_map(args(sql), |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        let number = |sql: &Sql| -> i64 {
            conn.query_row(&sql.text(), args(sql), |r| r.get(0))
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
            let mut probe = sql();
            probe.push("SELECT count(*) FROM users u WHERE ");
            let m = Matching {
                tenant: "t",
                filters: &filters,
                enrollment: None,
                pushdown: None,
                now,
                roles: RolesForm::Probe,
            };
            usermgmt_sql::where_clause(&mut probe, &Lite, &m);
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
