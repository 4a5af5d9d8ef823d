//! The SQLite dialect's queries: index use, search and role-holder probes.

use chrono::DateTime;
use chrono::{TimeZone, Utc};
use usermgmt_core::filter::{Cursor, ListPlan, ListQuery, SortBy, SortValue, UserFilters, Window};
use usermgmt_core::model::Status;
use usermgmt_sql::{Matching, ROLE_HOLDERS_DRIVE_BELOW};

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
    usermgmt_sql::page_query(&Lite, columns, &from(search, super::walk(plan)), plan, &m)
}

fn count_query(
    tenant: &str,
    filters: &UserFilters,
    _enrollment: Option<()>,
    now: DateTime<Utc>,
    search: &SearchMode,
    _pushdown: Option<()>,
) -> Sql {
    let m = Matching::filters(tenant, filters, now);
    usermgmt_sql::count_query(&Lite, &from(search, None), &m)
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
            &plan_of(active.clone(), SortBy::CreatedAt, SortOrder::Desc),
            now,
            &SearchMode::Scan,
            RolesForm::Holders,
            None,
        ),
    );
    assert!(p.contains("users_by_status") && no_sort(&p), "{p}");

    // Told that many rows match (order_first), a filtered page walks the sort index instead
    // of collecting every match through the filter's index and sorting them.
    let common = UserFilters {
        status: Some(Status::Suspended),
        is_learner: Some(true),
        ..Default::default()
    };
    for (sort_by, index) in [
        (SortBy::Name, "users_by_name"),
        (SortBy::Email, "users_by_email"),
        (SortBy::LastLoginAt, "users_by_last_login"),
    ] {
        let mut walk = plan_of(common.clone(), sort_by, SortOrder::Asc);
        walk.order_first = true;
        let p = explain(
            &conn,
            &page_query(
                "u.id",
                "t",
                &walk,
                now,
                &SearchMode::Scan,
                RolesForm::Holders,
                None,
            ),
        );
        assert!(p.contains(index) && no_sort(&p), "{sort_by:?}: {p}");
    }

    // One status sorted by registration: users_by_status serves both; no walk is forced.
    let mut served = plan_of(active.clone(), SortBy::CreatedAt, SortOrder::Desc);
    served.order_first = true;
    let p = explain(
        &conn,
        &page_query(
            "u.id",
            "t",
            &served,
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
        assert_eq!(
            ids(&page(RolesForm::Few)),
            ids(&page(RolesForm::Probe)),
            "{roles:?}"
        );
        let count = count_query("t", &filters, None, now, &SearchMode::Scan, None);
        let mut probe = sql();
        probe.push("SELECT count(*) FROM users u WHERE ");
        let m = Matching::filters("t", &filters, now).roles(RolesForm::Probe);
        usermgmt_sql::where_clause(&mut probe, &Lite, &m);
        assert_eq!(number(&count), number(&probe), "{roles:?}");
    }
    let form = |roles: &[&str]| {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        roles_form(&conn, "t", &roles).unwrap()
    };
    assert_eq!(form(&["a"]), RolesForm::Probe, "common: probe page by page");
    assert_eq!(form(&["b"]), RolesForm::Few, "few holders drive");
    assert_eq!(form(&["missing"]), RolesForm::Few);
}
