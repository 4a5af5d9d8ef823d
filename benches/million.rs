//! The list, search and paging benchmarks at a million users on both backends, each case
//! against the equivalent hand-written SQL on the same database, indexes and statement cache,
//! measured in the same run.
//!
//! Data: [`usermgmt_testkit::realistic`] (seed 42), N users (default 1,000,000;
//! `USERMGMT_BENCH_USERS`), loaded once through `Storage::insert_users` (SQLite: prepared
//! inserts in 10k-user transactions; PostgreSQL: COPY) and cached: the SQLite file under
//! `target/bench-data/`, the PostgreSQL database `usermgmt_million_<N>` on the server named by
//! `USERMGMT_BENCH_POSTGRES_URL` (without it only SQLite runs).
//!
//! Harness: plain timing loops. Each round runs every case (ours and its baseline) once in a
//! fresh random order; `USERMGMT_BENCH_ITERS` rounds (default 15) after 2 warm-up rounds. The
//! baseline reads the page's user columns and the page users' roles (and `count(*)` when the
//! case has a total); ours also authorises (reads the caller's grants), plans, decodes into
//! `User`s and loads each page user's roles, direct grants, expertise and OAuth providers.
//! `USERMGMT_BENCH_ONLY=<text>` keeps the cases whose name contains the text;
//! `USERMGMT_BENCH_BACKEND=sqlite|postgres` runs one backend.
//!
//! Run: `cargo bench --bench million --features postgres`.

// A benchmark harness: failing loudly on a broken set-up is the point.
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
use usermgmt::model::{EnrollmentStatus, Gender, Status};
use usermgmt::{Principal, UserService};

/// Which SQL dialect a baseline is written in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// One list page: our query and the hand-written SQL answering it.
struct Case {
    name: String,
    query: ListQuery,
    /// `FROM … WHERE …` of the hand-written page, per dialect.
    baseline: Box<dyn Fn(Dialect) -> String>,
    /// `ORDER BY … LIMIT … OFFSET …` of the hand-written page.
    order: Box<dyn Fn(Dialect) -> String>,
}

/// The filters used by the cases, as ours and as SQL (`u` is the users table).
fn where_sql(d: Dialect, parts: &[&str]) -> String {
    let mut out = vec![format!("u.tenant_id = '{TENANT}'")];
    for part in parts {
        out.push(match (*part, d) {
            ("not_deleted", _) => "u.status <> 'deleted'".into(),
            ("active", _) => "u.status = 'active'".into(),
            ("learner", Dialect::Sqlite) => "u.is_learner = 1".into(),
            ("learner", Dialect::Postgres) => "u.is_learner".into(),
            ("verified", Dialect::Sqlite) => "u.email_verified = 1".into(),
            ("verified", Dialect::Postgres) => "u.email_verified".into(),
            ("countries2", _) => "u.country IN ('US', 'IN')".into(),
            ("countries3", _) => "u.country IN ('US', 'IN', 'BR')".into(),
            ("avatar", _) => "u.avatar_url IS NOT NULL".into(),
            ("female", _) => "u.gender = 'female'".into(),
            ("created2y", Dialect::Sqlite) => format!(
                "u.created_at >= {}",
                (now() - chrono::Duration::days(730)).timestamp_micros()
            ),
            ("created2y", Dialect::Postgres) => format!(
                "u.created_at >= '{}'",
                (now() - chrono::Duration::days(730)).to_rfc3339()
            ),
            ("login1y", Dialect::Sqlite) => format!(
                "u.last_login_at >= {}",
                (now() - chrono::Duration::days(365)).timestamp_micros()
            ),
            ("login1y", Dialect::Postgres) => format!(
                "u.last_login_at >= '{}'",
                (now() - chrono::Duration::days(365)).to_rfc3339()
            ),
            ("role_reviewer", Dialect::Sqlite) => format!(
                "u.seq IN (SELECT ur.user_seq FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                 WHERE r.tenant_id = '{TENANT}' AND r.name = 'reviewer')"
            ),
            ("role_reviewer", Dialect::Postgres) => {
                "EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id \
                 WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id AND r.name = 'reviewer')"
                    .into()
            }
            (other, _) => panic!("unknown filter {other}"),
        });
    }
    out.join(" AND ")
}

fn search_sql(d: Dialect, term: &str, indexed: bool) -> String {
    match d {
        // FTS5 trigram drives a selective term; anything else is a scan of the folded text.
        Dialect::Sqlite if indexed => {
            let grams: Vec<String> = term
                .chars()
                .collect::<Vec<_>>()
                .windows(3)
                .map(|w| format!("\"{}\"", w.iter().collect::<String>()))
                .collect();
            format!(
                "u.seq IN (SELECT rowid FROM users_search WHERE users_search MATCH '{}') AND instr(u.search_text, '{term}') > 0",
                grams.join(" AND ")
            )
        }
        Dialect::Sqlite => format!("instr(u.search_text, '{term}') > 0"),
        Dialect::Postgres => format!("u.search_text LIKE '%{term}%'"),
    }
}

const NEWEST: &str = "ORDER BY u.created_at DESC, u.id DESC";

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut list = |name: &str, filters: UserFilters, parts: &'static [&'static str]| {
        for total in [true, false] {
            let query = ListQuery {
                filters: filters.clone(),
                include_total: total,
                ..Default::default()
            };
            out.push(Case {
                name: format!("{name}{}", if total { ", with total" } else { "" }),
                query,
                baseline: Box::new(move |d| format!("FROM users u WHERE {}", where_sql(d, parts))),
                order: Box::new(|_| format!("{NEWEST} LIMIT 20")),
            });
        }
    };
    let three = UserFilters {
        status: Some(Status::Active),
        is_learner: Some(true),
        country: vec!["US".into(), "IN".into()],
        ..Default::default()
    };
    list("no filter", UserFilters::default(), &["not_deleted"]);
    list(
        "3 filters (status, type, 2 countries)",
        three.clone(),
        &["active", "learner", "countries2"],
    );
    list(
        "8 filters",
        UserFilters {
            status: Some(Status::Active),
            is_learner: Some(true),
            country: vec!["US".into(), "IN".into(), "BR".into()],
            email_verified: Some(true),
            has_avatar: Some(true),
            gender: vec![Gender::Female],
            created_after: Some(now() - chrono::Duration::days(730)),
            last_login_after: Some(now() - chrono::Duration::days(365)),
            ..Default::default()
        },
        &[
            "active",
            "learner",
            "countries3",
            "verified",
            "avatar",
            "female",
            "created2y",
            "login1y",
        ],
    );
    list(
        "roles filter",
        UserFilters {
            roles: vec!["reviewer".into()],
            ..Default::default()
        },
        &["not_deleted", "role_reviewer"],
    );
    for total in [true, false] {
        out.push(Case {
            name: format!(
                "status + sort by name{}",
                if total { ", with total" } else { "" }
            ),
            query: ListQuery {
                filters: UserFilters {
                    status: Some(Status::Active),
                    ..Default::default()
                },
                sort_by: SortBy::Name,
                sort_order: SortOrder::Asc,
                include_total: total,
                ..Default::default()
            },
            baseline: Box::new(|d| format!("FROM users u WHERE {}", where_sql(d, &["active"]))),
            order: Box::new(|_| "ORDER BY u.name_key ASC, u.id ASC LIMIT 20".into()),
        });
    }
    for (label, term, indexed) in [
        ("selective", "12345@", true),
        ("medium", "garcia", false),
        ("non-selective", "son", false),
        ("2 characters", "ma", false),
    ] {
        out.push(Case {
            name: format!("search {label} \"{term}\", with total"),
            query: ListQuery {
                filters: UserFilters {
                    search: Some(term.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            baseline: Box::new(move |d| {
                format!(
                    "FROM users u WHERE {} AND {}",
                    where_sql(d, &["not_deleted"]),
                    search_sql(d, term, indexed)
                )
            }),
            order: Box::new(|_| format!("{NEWEST} LIMIT 20")),
        });
    }
    out.push(Case {
        name: "2 enrollment filters (completed, progress ≥ 80), with total".into(),
        query: ListQuery {
            filters: UserFilters {
                enrollment_status: vec![EnrollmentStatus::Completed],
                progress_min: Some(80),
                ..Default::default()
            },
            ..Default::default()
        },
        baseline: Box::new(|d| {
            let (table, user) = match d {
                Dialect::Sqlite => ("learning.enrollments", "unhex(replace(e.user_id, '-', ''))"),
                Dialect::Postgres => ("enrollments", "e.user_id"),
            };
            format!(
                "FROM users u WHERE {} AND u.id IN (SELECT {user} FROM {table} e \
                 WHERE e.tenant_id = '{TENANT}' AND e.status = 'completed' AND e.progress >= 80)",
                where_sql(d, &["not_deleted"])
            )
        }),
        order: Box::new(|_| format!("{NEWEST} LIMIT 20")),
    });
    for page in [100u32, 20_000] {
        out.push(Case {
            name: format!("page {page} by offset, no total"),
            query: ListQuery {
                page,
                include_total: false,
                ..Default::default()
            },
            baseline: Box::new(|d| {
                format!("FROM users u WHERE {}", where_sql(d, &["not_deleted"]))
            }),
            order: Box::new(move |_| format!("{NEWEST} LIMIT 20 OFFSET {}", (page - 1) * 20)),
        });
    }
    out
}

/// Pages 100 and 20,000 by cursor: the cursor comes from the page before (read by offset);
/// the hand-written query continues from that page's last row by keyset.
fn cursor_cases(
    runtime: &tokio::runtime::Runtime,
    service: &UserService,
    principal: &Principal,
) -> Vec<Case> {
    let mut out = Vec::new();
    for page in [100u32, 20_000] {
        let name = format!("page {page} by cursor, no total");
        if !keep(&name) {
            continue;
        }
        let before = ListQuery {
            page: page - 1,
            include_total: false,
            ..Default::default()
        };
        let before = runtime
            .block_on(service.list_users(principal, before))
            .unwrap();
        // The page before must be followed by more: without a cursor the query would be page 1.
        let (Some(last), Some(cursor)) = (before.items.last().cloned(), before.next_cursor) else {
            eprintln!("{name}: the data set has fewer pages; skipped");
            continue;
        };
        let query = ListQuery {
            cursor: Some(cursor),
            include_total: false,
            ..Default::default()
        };
        out.push(Case {
            name,
            query,
            baseline: Box::new(move |d| {
                let after = match d {
                    Dialect::Sqlite => format!(
                        "(u.created_at < {t} OR (u.created_at = {t} AND u.id < X'{id}'))",
                        t = last.created_at.timestamp_micros(),
                        id = last.id.simple()
                    ),
                    Dialect::Postgres => format!(
                        "(u.created_at, u.id) < ('{}', '{}')",
                        last.created_at.to_rfc3339(),
                        last.id
                    ),
                };
                format!(
                    "FROM users u WHERE {} AND {after}",
                    where_sql(d, &["not_deleted"])
                )
            }),
            order: Box::new(|_| format!("{NEWEST} LIMIT 20")),
        });
    }
    out
}

/// The page's user columns, as the hand-written query reads them.
const COLUMNS: &str = "u.id, u.name, u.email, u.phone, u.username, u.unique_id, u.status, \
    u.is_admin, u.is_instructor, u.is_learner, u.email_verified, u.phone_verified, u.auth_method, \
    u.avatar_url, u.bio, u.country, u.city, u.state, u.timezone, u.locale, u.gender, \
    u.designation, u.date_of_birth, u.created_at, u.updated_at, u.last_login_at, u.deleted_at, \
    u.failed_login_attempts, u.locked_until, u.version";

fn baseline_sql(case: &Case, d: Dialect) -> (String, Option<String>) {
    let from = (case.baseline)(d);
    // SQLite also selects the row's `seq`, the key of its role rows.
    let seq = if d == Dialect::Sqlite { ", u.seq" } else { "" };
    let page = format!("SELECT {COLUMNS}{seq} {from} {}", (case.order)(d));
    let count = case
        .query
        .include_total
        .then(|| format!("SELECT count(*) {from}"));
    (page, count)
}

/// A timed operation.
type Run<'a> = Box<dyn FnMut() + 'a>;

/// Medians of every case's ours/baseline pair over `iters` shuffled rounds.
fn measure(label: &str, mut runs: Vec<(String, Run<'_>, Run<'_>)>, iters: usize) -> Vec<String> {
    let mut samples: Vec<(Vec<Duration>, Vec<Duration>)> =
        vec![(Vec::new(), Vec::new()); runs.len()];
    let mut order: Vec<usize> = (0..runs.len() * 2).collect();
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..iters + 2 {
        order.shuffle(&mut rng);
        for &slot in &order {
            let (_, ours, baseline) = &mut runs[slot / 2];
            let started = Instant::now();
            if slot % 2 == 0 {
                ours()
            } else {
                baseline()
            }
            let elapsed = started.elapsed();
            if round >= 2 {
                let pair = &mut samples[slot / 2];
                if slot % 2 == 0 {
                    pair.0.push(elapsed)
                } else {
                    pair.1.push(elapsed)
                }
            }
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut rows = Vec::new();
    for ((name, _, _), (mut ours, mut base)) in runs.iter().zip(samples) {
        let (o, b) = (median(&mut ours), median(&mut base));
        let row = format!(
            "| {label} | {name} | {:.2} ms | {:.2} ms | {:.2} |",
            o.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            o.as_secs_f64() / b.as_secs_f64()
        );
        println!("{row}");
        rows.push(row);
    }
    rows
}

fn keep(name: &str) -> bool {
    std::env::var("USERMGMT_BENCH_ONLY").map_or(true, |only| name.contains(&only))
}

/// Our list call for a case.
fn ours<'a>(
    runtime: &'a tokio::runtime::Runtime,
    service: &'a UserService,
    principal: &'a Principal,
    query: ListQuery,
) -> Run<'a> {
    Box::new(move || {
        let page = runtime
            .block_on(service.list_users(principal, query.clone()))
            .unwrap();
        std::hint::black_box(page);
    })
}

/// How a backend runs the hand-written SQL of a case.
trait HandWritten {
    /// The rows the page query returns.
    fn rows(&self, page: &str) -> usize;
    /// The count query's answer.
    fn count(&self, count: &str) -> i64;
    /// The timed baseline: the page (every column read), the page users' roles, the count.
    fn page_with_roles(&self, page: &str, count: Option<&str>);
}

/// SQLite, on one connection with the library's settings.
struct SqliteSql<'a>(&'a rusqlite::Connection);

impl HandWritten for SqliteSql<'_> {
    fn rows(&self, page: &str) -> usize {
        let mut stmt = self.0.prepare(page).unwrap();
        stmt.query_map([], |_| Ok(())).unwrap().count()
    }

    fn count(&self, count: &str) -> i64 {
        self.0
            .prepare_cached(count)
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .unwrap()
    }

    fn page_with_roles(&self, page: &str, count: Option<&str>) {
        let mut stmt = self.0.prepare_cached(page).unwrap();
        let columns = stmt.column_count();
        let seqs: Vec<i64> = stmt
            .query_map([], |r| {
                for i in 0..columns - 1 {
                    std::hint::black_box(rusqlite::types::Value::from(r.get_ref(i)?));
                }
                r.get(columns - 1)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let roles = self
            .0
            .prepare_cached(
                "SELECT ur.user_seq, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                 WHERE ur.user_seq IN (SELECT value FROM json_each(?1))",
            )
            .unwrap()
            .query_map([serde_json::to_string(&seqs).unwrap()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .unwrap()
            .count();
        std::hint::black_box(roles);
        if let Some(count) = count {
            std::hint::black_box(self.count(count));
        }
    }
}

/// PostgreSQL, on a one-connection pool (so prepared statements stay cached).
struct PostgresSql<'a> {
    runtime: &'a tokio::runtime::Runtime,
    pool: &'a sqlx::PgPool,
}

impl HandWritten for PostgresSql<'_> {
    fn rows(&self, page: &str) -> usize {
        let query = sqlx::query(sqlx::AssertSqlSafe(page.to_owned()));
        self.runtime
            .block_on(query.fetch_all(self.pool))
            .unwrap()
            .len()
    }

    fn count(&self, count: &str) -> i64 {
        let query = sqlx::query_scalar(sqlx::AssertSqlSafe(count.to_owned()));
        self.runtime.block_on(query.fetch_one(self.pool)).unwrap()
    }

    fn page_with_roles(&self, page: &str, count: Option<&str>) {
        use sqlx::Row;
        let rows = self
            .runtime
            .block_on(sqlx::query(sqlx::AssertSqlSafe(page.to_owned())).fetch_all(self.pool))
            .unwrap();
        let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.get(0)).collect();
        let roles = sqlx::query(
            "SELECT ur.user_id, r.name FROM user_roles ur JOIN roles r \
             ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id \
             WHERE ur.tenant_id = $1 AND ur.user_id = ANY($2)",
        )
        .bind(TENANT)
        .bind(&ids);
        let roles = self.runtime.block_on(roles.fetch_all(self.pool)).unwrap();
        std::hint::black_box(roles.len());
        if let Some(count) = count {
            std::hint::black_box(self.count(count));
        }
    }
}

/// Every kept case as ours and its baseline, after checking that both answer the same number
/// of rows and the same total (ours counts the bench admin too when the filters let it in).
fn runs<'a>(
    runtime: &'a tokio::runtime::Runtime,
    service: &'a UserService,
    principal: &'a Principal,
    dialect: Dialect,
    hand: &'a dyn HandWritten,
) -> Vec<(String, Run<'a>, Run<'a>)> {
    let mut runs: Vec<(String, Run<'a>, Run<'a>)> = Vec::new();
    let cursors = cursor_cases(runtime, service, principal);
    for case in cases().into_iter().filter(|c| keep(&c.name)).chain(cursors) {
        let (page, count) = baseline_sql(&case, dialect);
        let ours_page = runtime
            .block_on(service.list_users(principal, case.query.clone()))
            .unwrap();
        assert_eq!(ours_page.items.len(), hand.rows(&page), "{}", case.name);
        if let Some(count) = &count {
            let (total, n) = (ours_page.total.unwrap() as i64, hand.count(count));
            assert!((total - n).abs() <= 1, "{}: {total} vs {n}", case.name);
        }
        let baseline: Run<'a> = Box::new(move || hand.page_with_roles(&page, count.as_deref()));
        runs.push((
            case.name.clone(),
            ours(runtime, service, principal, case.query),
            baseline,
        ));
    }
    runs
}

fn main() {
    let users = env_usize("USERMGMT_BENCH_USERS", 1_000_000);
    let iters = env_usize("USERMGMT_BENCH_ITERS", 15);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| backend | case | ours (median) | hand-written SQL (median) | ratio |");
    println!("|---|---|---|---|---|");

    let only = std::env::var("USERMGMT_BENCH_BACKEND").unwrap_or_default();
    if only != "postgres" {
        sqlite(&runtime, users, iters);
    }
    if only != "sqlite" {
        postgres(&runtime, users, iters);
    }
}

fn sqlite(runtime: &tokio::runtime::Runtime, users: usize, iters: usize) {
    let (path, learning) = data::sqlite_dataset(runtime, users);
    let storage = runtime
        .block_on(usermgmt::sqlite::SqliteStorage::open(&path))
        .unwrap();
    // SQLite asks an enrollment source (the learning database) for the enrollment filters.
    let source = usermgmt::sqlite::SqliteEnrollmentSource::new(
        &learning,
        usermgmt::storage::EnrollmentLayout::default(),
    )
    .unwrap();
    let (service, principal) = runtime.block_on(data::service_over(
        Arc::new(storage),
        Some(Arc::new(source)),
    ));
    let conn = rusqlite::Connection::open(&path).unwrap();
    // The library's connection settings (page cache, memory map), so the comparison is of the SQL.
    conn.execute_batch(
        "PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 1073741824;",
    )
    .unwrap();
    conn.execute(
        "ATTACH DATABASE ?1 AS learning",
        [learning.to_str().unwrap()],
    )
    .unwrap();
    let hand = SqliteSql(&conn);
    let runs = runs(runtime, &service, &principal, Dialect::Sqlite, &hand);
    measure("SQLite", runs, iters);
}

fn postgres(runtime: &tokio::runtime::Runtime, users: usize, iters: usize) {
    let Some(db_url) = data::pg_dataset(runtime, users) else {
        return;
    };
    // PostgreSQL evaluates the enrollment filters in the list query (push-down).
    let options = usermgmt::postgres::PgOptions {
        enrollments_in_database: Some(usermgmt::storage::EnrollmentLayout::default()),
        enrollments_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let storage = runtime
        .block_on(usermgmt::postgres::PgStorage::connect_with(
            &db_url, options,
        ))
        .unwrap();
    let (service, principal) = runtime.block_on(data::service_over(Arc::new(storage), None));
    // One connection, so the baseline's prepared statements stay cached.
    let pool = runtime
        .block_on(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&db_url),
        )
        .unwrap();
    let hand = PostgresSql {
        runtime,
        pool: &pool,
    };
    let runs = runs(runtime, &service, &principal, Dialect::Postgres, &hand);
    measure("PostgreSQL", runs, iters);
}
