//! The list cases of `million.rs`: each request of ours with the hand-written SQL answering it.

use usermgmt::filter::{ListQuery, SortBy, SortOrder, UserFilters};
use usermgmt::model::{EnrollmentStatus, Gender, Status};

use usermgmt::{Principal, UserService};

use crate::data::{TENANT, now};
use crate::keep;

/// Which SQL dialect a baseline is written in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// One list page: our query and the hand-written SQL answering it.
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) query: ListQuery,
    /// `FROM … WHERE …` of the hand-written page, per dialect.
    pub(crate) baseline: Box<dyn Fn(Dialect) -> String>,
    /// `ORDER BY … LIMIT … OFFSET …` of the hand-written page.
    pub(crate) order: Box<dyn Fn(Dialect) -> String>,
}

/// The filters used by the cases, as ours and as SQL (`u` is the users table).
pub(crate) fn where_sql(d: Dialect, parts: &[&str]) -> String {
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

pub(crate) fn search_sql(d: Dialect, term: &str, indexed: bool) -> String {
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

pub(crate) const NEWEST: &str = "ORDER BY u.created_at DESC, u.id DESC";

pub(crate) fn cases() -> Vec<Case> {
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
                enrollment: usermgmt::filter::EnrollmentFilters {
                    enrollment_status: vec![EnrollmentStatus::Completed],
                    progress_min: Some(80),
                    ..Default::default()
                },
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
    out.push(Case {
        name: "no enrollment at all (has_enrollments = false), with total".into(),
        query: ListQuery {
            filters: UserFilters {
                enrollment: usermgmt::filter::EnrollmentFilters {
                    has_enrollments: Some(false),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        },
        baseline: Box::new(|d| {
            // Probes the learning table's user index with each user's id in its stored form.
            let (table, id) = match d {
                Dialect::Sqlite => (
                    "learning.enrollments",
                    "(SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) \
                     || '-' || substr(h, 17, 4) || '-' || substr(h, 21) FROM (SELECT lower(hex(u.id)) AS h))",
                ),
                Dialect::Postgres => ("enrollments", "u.id"),
            };
            format!(
                "FROM users u WHERE {} AND NOT EXISTS (SELECT 1 FROM {table} e \
                 WHERE e.tenant_id = '{TENANT}' AND e.user_id = {id})",
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
pub(crate) fn cursor_cases(
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
pub(crate) const COLUMNS: &str = "u.id, u.name, u.email, u.phone, u.username, u.unique_id, u.status, \
    u.is_admin, u.is_instructor, u.is_learner, u.email_verified, u.phone_verified, u.auth_method, \
    u.avatar_url, u.bio, u.country, u.city, u.state, u.timezone, u.locale, u.gender, \
    u.designation, u.date_of_birth, u.created_at, u.updated_at, u.last_login_at, u.deleted_at, \
    u.failed_login_attempts, u.locked_until, u.version";

pub(crate) fn baseline_sql(case: &Case, d: Dialect) -> (String, Option<String>) {
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
