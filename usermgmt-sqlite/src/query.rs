//! The SQLite dialect of the shared SQL ([`usermgmt_sql`]), the binding of its neutral
//! parameters to rusqlite, and the two planning probes only SQLite needs: how selective a
//! search term is (trigram index) and how many users hold the filtered roles.

use rusqlite::Connection;
use rusqlite::types::Value as Sqlite;
use usermgmt_core::filter::{ListPlan, SortBy, SortOrder, Window};
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

/// Chooses how a page evaluates the `roles` filter, by counting the holders (bounded).
pub(crate) fn roles_form(
    conn: &Connection,
    tenant: &str,
    roles: &[String],
) -> rusqlite::Result<RolesForm> {
    if roles.is_empty() {
        return Ok(RolesForm::Holders);
    }
    let sql = usermgmt_sql::role_holders_probe(&Lite, tenant, roles);
    let holders: i64 = conn
        .prepare_cached(&sql.text())?
        .query_row(args(&sql), |r| r.get(0))?;
    Ok(usermgmt_sql::roles_form_for(holders))
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
///
/// `walk`: walk the users in the index of this sort key (see
/// [`usermgmt_core::filter::ListPlan::order_first`]); SQLite's planner, not knowing how many
/// rows match, would otherwise often collect every match through a filter's index and sort.
pub(crate) fn from(search: &SearchMode, walk: Option<SortBy>) -> Sql {
    let mut sql = sql();
    match search {
        SearchMode::Candidates(seqs) => {
            sql.push("json_each(")
                .bind(seqs.clone())
                .push(") AS c CROSS JOIN users u ON u.seq = c.value");
        }
        SearchMode::Scan => {
            sql.push("users u");
            let index = match walk {
                Some(SortBy::Name) => Some("users_by_name"),
                Some(SortBy::Email) => Some("users_by_email"),
                Some(SortBy::CreatedAt) => Some("users_by_created"),
                Some(SortBy::LastLoginAt) => Some("users_by_last_login"),
                // No index orders by status and id.
                Some(SortBy::Status) | None => None,
            };
            if let Some(index) = index {
                sql.push(" INDEXED BY ").push(index);
            }
        }
    }
    sql
}

/// The sort key whose index a page walks, when the plan says many users match
/// ([`ListPlan::order_first`]) and no index already serves both a filter and the order:
/// `users_by_status` and `users_by_country` end with `created_at`, so one status or one
/// country sorted by registration seeks there (and walking `users_by_created` could read far
/// when matches cluster, e.g. the newest users pending). A descending cursor on a key users
/// can lack walks from the top of its index anyway; forcing it would read up to the cursor.
pub(crate) fn walk(plan: &ListPlan) -> Option<SortBy> {
    let f = &plan.filters;
    let served = plan.sort_by == SortBy::CreatedAt
        && (f.status.is_some() || f.statuses.len() == 1 || f.country.len() == 1);
    let cursor_from_top = matches!(plan.window, Window::After(_))
        && plan.sort_by.can_be_absent()
        && plan.sort_order == SortOrder::Desc;
    (plan.order_first && !served && !cursor_from_top).then_some(plan.sort_by)
}

/// A UUID as the 16-byte blob it is stored as.
pub(crate) fn uuid_value(id: Uuid) -> Sqlite {
    Sqlite::Blob(id.as_bytes().to_vec())
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
