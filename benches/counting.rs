//! Counted lists, facets and statistics at a million users (issue 16), on both backends, each
//! case against two baselines measured in the same run:
//!
//! - **hand-written SQL** on our schema: the page query plus `count(*)` (or the `GROUP BY`s),
//!   as the library ran them before its counting index;
//! - **narrow table**: what a generic framework (Django REST Framework + django-filter) runs on
//!   its own table — one narrow row per user (`django_users`, 15 columns, copied from ours once
//!   and cached), the default single-column indexes on the filtered columns, a page query and
//!   `COUNT(*)` per request, `icontains` as `LIKE` over name, email and username.
//!
//! Ours is `UserService` end to end (authorisation, planning, the page with each user's
//! roles, grants, expertise and providers) with the counting index built ahead
//! (`warm_counts`); its build time and the process's resident memory before and after are
//! printed first.
//!
//! Data: `benches/support/million_data.rs` (N users, default 1,000,000;
//! `USERMGMT_BENCH_USERS`). Harness: `USERMGMT_BENCH_ITERS` rounds (default 15) after two
//! warm-up rounds, every variant of every case once per round in a fresh random order;
//! medians. `USERMGMT_BENCH_BACKEND=sqlite|postgres` runs one backend.
//!
//! Run: `cargo bench --bench counting --features postgres`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "support/admin.rs"]
mod admin;
#[path = "support/million_data.rs"]
mod data;

use std::sync::Arc;
use std::time::{Duration, Instant};

use data::{TENANT, env_usize, now};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use usermgmt::filter::{ListQuery, SortBy, SortOrder, UserFilters};
use usermgmt::model::{Status, TenantId};
use usermgmt::{Principal, UserService};

/// A timed operation.
type Run<'a> = Box<dyn FnMut() + 'a>;

/// One case: ours, the hand-written SQL, the narrow table.
struct Case<'a> {
    name: String,
    runs: [Run<'a>; 3],
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Medians of every variant of every case over `iters` shuffled rounds.
fn measure(label: &str, mut cases: Vec<Case<'_>>, iters: usize) {
    let mut samples = vec![[(); 3].map(|_| Vec::<Duration>::new()); cases.len()];
    let mut order: Vec<(usize, usize)> = (0..cases.len())
        .flat_map(|c| (0..3).map(move |v| (c, v)))
        .collect();
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..iters + 2 {
        order.shuffle(&mut rng);
        for &(c, v) in &order {
            let started = Instant::now();
            (cases[c].runs[v])();
            if round >= 2 {
                samples[c][v].push(started.elapsed());
            }
        }
    }
    for (case, mut runs) in cases.iter().zip(samples) {
        let [ours, hand, narrow] = runs.each_mut().map(|v| {
            v.sort();
            v[v.len() / 2].as_secs_f64() * 1e3
        });
        println!(
            "| {label} | {} | {ours:.2} ms | {hand:.2} ms | {narrow:.2} ms | {:.1}× | {:.1}× |",
            case.name,
            hand / ours,
            narrow / ours
        );
    }
}

/// The five list requests of the issue: (name, our filters and sort, the WHERE of both
/// baselines (ours, narrow), the ORDER BY of both).
struct List {
    name: &'static str,
    filters: UserFilters,
    sort_by: SortBy,
    ours_where: &'static str,
    narrow_where: &'static str,
    ours_order: &'static str,
    narrow_order: &'static str,
}

fn lists(d: Dialect) -> Vec<List> {
    let (learner_ours, learner_narrow) = match d {
        Dialect::Sqlite => ("u.is_learner = 1", "is_learner = 1"),
        Dialect::Postgres => ("u.is_learner", "is_learner"),
    };
    let like = |term: &'static str| -> &'static str {
        let s = match d {
            Dialect::Sqlite => format!(
                "(name LIKE '%{term}%' ESCAPE '\\' OR email LIKE '%{term}%' ESCAPE '\\' \
                 OR username LIKE '%{term}%' ESCAPE '\\')"
            ),
            Dialect::Postgres => format!(
                "(UPPER(name) LIKE UPPER('%{term}%') OR UPPER(email) LIKE UPPER('%{term}%') \
                 OR UPPER(username) LIKE UPPER('%{term}%'))"
            ),
        };
        Box::leak(s.into_boxed_str())
    };
    let search = |term: &'static str| -> &'static str {
        let s = match d {
            // A selective term through the trigram index, as the library plans it.
            Dialect::Sqlite if term.len() > 3 => {
                let grams: Vec<String> = term
                    .chars()
                    .collect::<Vec<_>>()
                    .windows(3)
                    .map(|w| format!("\"{}\"", w.iter().collect::<String>()))
                    .collect();
                format!(
                    "u.status <> 'deleted' AND u.seq IN (SELECT rowid FROM users_search \
                     WHERE users_search MATCH '{}') AND instr(u.search_text, '{term}') > 0",
                    grams.join(" AND ")
                )
            }
            Dialect::Sqlite => {
                format!("u.status <> 'deleted' AND instr(u.search_text, '{term}') > 0")
            }
            Dialect::Postgres => format!("u.status <> 'deleted' AND u.search_text LIKE '%{term}%'"),
        };
        Box::leak(s.into_boxed_str())
    };
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    vec![
        List {
            name: "status=active&country=US&is_learner=true",
            filters: UserFilters {
                status: Some(Status::Active),
                country: vec!["US".into()],
                is_learner: Some(true),
                ..Default::default()
            },
            sort_by: SortBy::CreatedAt,
            ours_where: leak(format!(
                "u.status = 'active' AND u.country IN ('US') AND {learner_ours}"
            )),
            narrow_where: leak(format!(
                "status = 'active' AND country = 'US' AND {learner_narrow}"
            )),
            ours_order: "u.created_at DESC, u.id DESC",
            narrow_order: "date_joined DESC",
        },
        List {
            name: "search=sus (6 %)",
            filters: UserFilters {
                search: Some("sus".into()),
                ..Default::default()
            },
            sort_by: SortBy::CreatedAt,
            ours_where: search("sus"),
            narrow_where: like("sus"),
            ours_order: "u.created_at DESC, u.id DESC",
            narrow_order: "date_joined DESC",
        },
        List {
            name: "search=12345@ (selective)",
            filters: UserFilters {
                search: Some("12345@".into()),
                ..Default::default()
            },
            sort_by: SortBy::CreatedAt,
            ours_where: search("12345@"),
            narrow_where: like("12345@"),
            ours_order: "u.created_at DESC, u.id DESC",
            narrow_order: "date_joined DESC",
        },
        List {
            name: "status=suspended&is_learner=true&sort_by=name",
            filters: UserFilters {
                status: Some(Status::Suspended),
                is_learner: Some(true),
                ..Default::default()
            },
            sort_by: SortBy::Name,
            ours_where: leak(format!("u.status = 'suspended' AND {learner_ours}")),
            narrow_where: leak(format!("status = 'suspended' AND {learner_narrow}")),
            ours_order: "u.name_key ASC, u.id ASC",
            narrow_order: "name ASC",
        },
        List {
            name: "no filter",
            filters: UserFilters::default(),
            sort_by: SortBy::CreatedAt,
            ours_where: "u.status <> 'deleted'",
            narrow_where: "status <> 'deleted'",
            ours_order: "u.created_at DESC, u.id DESC",
            narrow_order: "date_joined DESC",
        },
    ]
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// Runs SQL for the baselines and answers the first column of the first row as a number.
trait Sql {
    fn rows(&self, sql: &str) -> usize;
    fn number(&self, sql: &str) -> i64;
}

struct Lite(rusqlite::Connection);

impl Sql for Lite {
    fn rows(&self, sql: &str) -> usize {
        let mut stmt = self.0.prepare_cached(sql).unwrap();
        let columns = stmt.column_count();
        stmt.query_map([], |r| {
            for i in 0..columns {
                std::hint::black_box(rusqlite::types::Value::from(r.get_ref(i)?));
            }
            Ok(())
        })
        .unwrap()
        .count()
    }

    fn number(&self, sql: &str) -> i64 {
        self.0
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .unwrap()
    }
}

struct Pg<'a> {
    runtime: &'a tokio::runtime::Runtime,
    pool: sqlx::PgPool,
}

impl Sql for Pg<'_> {
    fn rows(&self, sql: &str) -> usize {
        let query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
        self.runtime
            .block_on(query.fetch_all(&self.pool))
            .unwrap()
            .len()
    }

    fn number(&self, sql: &str) -> i64 {
        let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()));
        self.runtime.block_on(query.fetch_one(&self.pool)).unwrap()
    }
}

/// The narrow, Django-style table, created from ours once.
fn narrow_table(d: Dialect) -> Vec<String> {
    let create = match d {
        Dialect::Sqlite => "CREATE TABLE django_users AS SELECT seq AS id, ",
        Dialect::Postgres => {
            "CREATE TABLE django_users AS SELECT row_number() OVER ()::integer AS id, "
        }
    };
    let mut out = vec![format!(
        "{create}name, email, username, status, is_admin AS is_staff, is_learner, \
         is_instructor, country, city, state, timezone, locale, designation, \
         created_at AS date_joined, last_login_at AS last_login FROM users \
         WHERE tenant_id = '{TENANT}'"
    )];
    out.push("CREATE UNIQUE INDEX django_users_pk ON django_users (id)".into());
    for column in ["status", "is_learner", "country"] {
        out.push(format!(
            "CREATE INDEX django_users_{column} ON django_users ({column})"
        ));
    }
    out
}

/// The page-plus-count baselines and our request for each list.
fn list_cases<'a>(
    runtime: &'a tokio::runtime::Runtime,
    service: &'a UserService,
    principal: &'a Principal,
    d: Dialect,
    sql: &'a dyn Sql,
) -> Vec<Case<'a>> {
    let mut out = Vec::new();
    for list in lists(d) {
        let query = ListQuery {
            filters: list.filters.clone(),
            sort_by: list.sort_by,
            sort_order: if list.sort_by == SortBy::Name {
                SortOrder::Asc
            } else {
                SortOrder::Desc
            },
            page_size: 20,
            include_total: true,
            ..Default::default()
        };
        let ours_from = format!(
            "FROM users u WHERE u.tenant_id = '{TENANT}' AND {}",
            list.ours_where
        );
        let hand_page = format!(
            "SELECT u.* {ours_from} ORDER BY {} LIMIT 21",
            list.ours_order
        );
        let hand_count = format!("SELECT count(*) {ours_from}");
        let narrow_from = format!("FROM django_users WHERE {}", list.narrow_where);
        let narrow_page = format!(
            "SELECT * {narrow_from} ORDER BY {} LIMIT 20",
            list.narrow_order
        );
        let narrow_count = format!("SELECT COUNT(*) {narrow_from}");
        let page = runtime
            .block_on(service.list_users(principal, query.clone()))
            .unwrap();
        let (total, hand, narrow) = (
            page.total.unwrap() as i64,
            sql.number(&hand_count),
            sql.number(&narrow_count),
        );
        // The bench admin is in our table only.
        assert!(
            (total - hand).abs() <= 1,
            "{}: {total} vs {hand}",
            list.name
        );
        println!("  {}: total {total} (narrow table {narrow})", list.name);
        out.push(Case {
            name: format!("{} (total {total})", list.name),
            runs: [
                Box::new(move || {
                    let page = runtime
                        .block_on(service.list_users(principal, query.clone()))
                        .unwrap();
                    std::hint::black_box(page);
                }),
                Box::new(move || {
                    std::hint::black_box(sql.rows(&hand_page));
                    std::hint::black_box(sql.number(&hand_count));
                }),
                Box::new(move || {
                    std::hint::black_box(sql.rows(&narrow_page));
                    std::hint::black_box(sql.number(&narrow_count));
                }),
            ],
        });
    }
    out
}

/// `filter-values`, `stats` and a field-values page, with their GROUP BY baselines.
fn insight_cases<'a>(
    runtime: &'a tokio::runtime::Runtime,
    service: &'a UserService,
    principal: &'a Principal,
    d: Dialect,
    sql: &'a dyn Sql,
) -> Vec<Case<'a>> {
    let top = |table: &str, column: &str, limit: u32| {
        let live = if table == "users" {
            format!("tenant_id = '{TENANT}' AND status <> 'deleted' AND")
        } else {
            "status <> 'deleted' AND".to_owned()
        };
        format!(
            "SELECT {column}, count(*) FROM {table} WHERE {live} {column} IS NOT NULL \
             GROUP BY {column} ORDER BY 2 DESC, 1 LIMIT {limit}"
        )
    };
    let facets = [
        "country",
        "city",
        "state",
        "timezone",
        "locale",
        "designation",
    ];
    let hand_facets: Vec<String> = facets.iter().map(|c| top("users", c, 200)).collect();
    let narrow_facets: Vec<String> = facets.iter().map(|c| top("django_users", c, 200)).collect();
    let (week, month) = match d {
        Dialect::Sqlite => (
            (now() - chrono::Duration::days(7))
                .timestamp_micros()
                .to_string(),
            (now() - chrono::Duration::days(30))
                .timestamp_micros()
                .to_string(),
        ),
        Dialect::Postgres => (
            format!("'{}'", (now() - chrono::Duration::days(7)).to_rfc3339()),
            format!("'{}'", (now() - chrono::Duration::days(30)).to_rfc3339()),
        ),
    };
    let int = |c: &str| match d {
        Dialect::Sqlite => c.to_owned(),
        Dialect::Postgres => format!("{c}::int"),
    };
    let hand_stats = format!(
        "SELECT status, count(*), sum({}), sum({}), sum({}), sum({}), sum({}), \
         sum(CASE WHEN created_at >= {week} THEN 1 ELSE 0 END), \
         sum(CASE WHEN created_at >= {month} THEN 1 ELSE 0 END) \
         FROM users WHERE tenant_id = '{TENANT}' GROUP BY status",
        int("is_admin"),
        int("is_instructor"),
        int("is_learner"),
        int("email_verified"),
        int("phone_verified")
    );
    let narrow_stats = format!(
        "SELECT status, count(*), sum({}), sum({}), sum({}), \
         sum(CASE WHEN date_joined >= {week} THEN 1 ELSE 0 END), \
         sum(CASE WHEN date_joined >= {month} THEN 1 ELSE 0 END) \
         FROM django_users GROUP BY status",
        int("is_staff"),
        int("is_instructor"),
        int("is_learner")
    );
    let hand_cities = (
        top("users", "city", 20),
        format!(
            "SELECT count(DISTINCT city) FROM users WHERE tenant_id = '{TENANT}' \
             AND status <> 'deleted'"
        ),
    );
    let narrow_cities = (
        top("django_users", "city", 20),
        "SELECT count(DISTINCT city) FROM django_users WHERE status <> 'deleted'".to_owned(),
    );
    vec![
        Case {
            name: "filter-values".into(),
            runs: [
                Box::new(move || {
                    let values = runtime.block_on(service.filter_values(principal)).unwrap();
                    std::hint::black_box(values);
                }),
                Box::new(move || {
                    for q in &hand_facets {
                        std::hint::black_box(sql.rows(q));
                    }
                }),
                Box::new(move || {
                    for q in &narrow_facets {
                        std::hint::black_box(sql.rows(q));
                    }
                }),
            ],
        },
        Case {
            name: "stats".into(),
            runs: [
                Box::new(move || {
                    let stats = runtime.block_on(service.stats(principal)).unwrap();
                    std::hint::black_box(stats);
                }),
                Box::new(move || {
                    std::hint::black_box(sql.rows(&hand_stats));
                }),
                Box::new(move || {
                    std::hint::black_box(sql.rows(&narrow_stats));
                }),
            ],
        },
        Case {
            name: "field-values city, page 1 of 20".into(),
            runs: [
                Box::new(move || {
                    let page = runtime
                        .block_on(service.field_values(principal, "city", None, 1, 20))
                        .unwrap();
                    std::hint::black_box(page);
                }),
                Box::new(move || {
                    std::hint::black_box(sql.rows(&hand_cities.0));
                    std::hint::black_box(sql.number(&hand_cities.1));
                }),
                Box::new(move || {
                    std::hint::black_box(sql.rows(&narrow_cities.0));
                    std::hint::black_box(sql.number(&narrow_cities.1));
                }),
            ],
        },
    ]
}

/// Builds the counting index ahead and reports its cost.
fn warm(runtime: &tokio::runtime::Runtime, label: &str, service: &UserService, users: usize) {
    let tenant = TenantId::new(TENANT).unwrap();
    let before = rss_mib();
    let started = Instant::now();
    assert!(runtime.block_on(service.warm_counts(&tenant)).unwrap());
    let took = started.elapsed();
    let size = service.count_index_size(&tenant).unwrap();
    println!(
        "{label} at {users} users: index built in {:.1} s; {} users, ~{:.0} MiB held; \
         RSS {before:.0} → {:.0} MiB",
        took.as_secs_f64(),
        size.users,
        size.bytes as f64 / 1048576.0,
        rss_mib()
    );
}

fn header() {
    println!(
        "| backend | case | ours (median) | hand-written SQL | narrow table (DRF-style) | \
         hand-written / ours | narrow / ours |"
    );
    println!("|---|---|---|---|---|---|---|");
}

fn main() {
    let users = env_usize("USERMGMT_BENCH_USERS", 1_000_000);
    let iters = env_usize("USERMGMT_BENCH_ITERS", 15);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let only = std::env::var("USERMGMT_BENCH_BACKEND").unwrap_or_default();
    if only != "postgres" {
        sqlite(&runtime, users, iters);
    }
    if only != "sqlite" {
        postgres(&runtime, users, iters);
    }
}

fn sqlite(runtime: &tokio::runtime::Runtime, users: usize, iters: usize) {
    let (path, _) = data::sqlite_dataset(runtime, users);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let exists: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'django_users'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if !exists {
        for statement in narrow_table(Dialect::Sqlite) {
            conn.execute_batch(&statement).unwrap();
        }
        conn.execute_batch("ANALYZE").unwrap();
    }
    // The library's connection settings (page cache, memory map): a comparison of the SQL.
    conn.execute_batch(
        "PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 1073741824;",
    )
    .unwrap();
    let storage = runtime
        .block_on(usermgmt::sqlite::SqliteStorage::open(&path))
        .unwrap();
    let (service, principal) = runtime.block_on(data::service_over(Arc::new(storage), None));
    warm(runtime, "SQLite", &service, users);
    header();
    let sql = Lite(conn);
    let mut cases = list_cases(runtime, &service, &principal, Dialect::Sqlite, &sql);
    cases.extend(insight_cases(
        runtime,
        &service,
        &principal,
        Dialect::Sqlite,
        &sql,
    ));
    measure("SQLite", cases, iters);
}

fn postgres(runtime: &tokio::runtime::Runtime, users: usize, iters: usize) {
    let Some(db_url) = data::pg_dataset(runtime, users) else {
        return;
    };
    let pool = runtime
        .block_on(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&db_url),
        )
        .unwrap();
    let exists: bool = runtime
        .block_on(
            sqlx::query_scalar("SELECT to_regclass('django_users') IS NOT NULL").fetch_one(&pool),
        )
        .unwrap();
    if !exists {
        for statement in narrow_table(Dialect::Postgres) {
            runtime
                .block_on(sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&pool))
                .unwrap();
        }
        runtime
            .block_on(sqlx::query("VACUUM ANALYZE django_users").execute(&pool))
            .unwrap();
    }
    let storage = runtime
        .block_on(usermgmt::postgres::PgStorage::connect(&db_url))
        .unwrap();
    let (service, principal) = runtime.block_on(data::service_over(Arc::new(storage), None));
    warm(runtime, "PostgreSQL", &service, users);
    header();
    let sql = Pg { runtime, pool };
    let mut cases = list_cases(runtime, &service, &principal, Dialect::Postgres, &sql);
    cases.extend(insight_cases(
        runtime,
        &service,
        &principal,
        Dialect::Postgres,
        &sql,
    ));
    measure("PostgreSQL", cases, iters);
}
