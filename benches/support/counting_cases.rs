//! The cases of `counting.rs`: the five list requests of issue 16, `filter-values`, `stats`
//! and a field-values page, each as ours and its two baselines (hand-written SQL on our
//! schema, and the narrow Django-style table).

use usermgmt::filter::{ListQuery, SortBy, SortOrder, UserFilters};
use usermgmt::model::Status;
use usermgmt::{Principal, UserService};

use crate::data::{TENANT, now};

/// A timed operation.
pub(crate) type Run<'a> = Box<dyn FnMut() + 'a>;

/// One case: ours, the hand-written SQL, the narrow table.
pub(crate) struct Case<'a> {
    pub(crate) name: String,
    pub(crate) runs: [Run<'a>; 3],
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
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// Runs SQL for the baselines and answers the first column of the first row as a number.
pub(crate) trait Sql {
    fn rows(&self, sql: &str) -> usize;
    fn number(&self, sql: &str) -> i64;
}

pub(crate) struct Lite(pub(crate) rusqlite::Connection);

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

pub(crate) struct Pg<'a> {
    pub(crate) runtime: &'a tokio::runtime::Runtime,
    pub(crate) pool: sqlx::PgPool,
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
pub(crate) fn narrow_table(d: Dialect) -> Vec<String> {
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
pub(crate) fn list_cases<'a>(
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
pub(crate) fn insight_cases<'a>(
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
