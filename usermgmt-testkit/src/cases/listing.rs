//! Listing: default visibility, order, paging, validation, search, skipped filters.

use chrono::Duration;
use usermgmt_core::filter::{ListQuery, SortBy, SortOrder, UserFilters};
use usermgmt_core::model::{Status, User};
use usermgmt_core::service::UpdateUser;
use uuid::Uuid;

use super::common::invalid_fields;
use crate::fixture::Fixture;
use crate::store::TestStore;

async fn seed(fx: &Fixture, names: &[&str]) -> Vec<User> {
    let mut users = Vec::new();
    for (i, name) in names.iter().enumerate() {
        fx.clock.advance(Duration::seconds(1));
        users.push(fx.create(name, &format!("u{i}@list.test")).await);
    }
    users
}

fn ids(users: &[User]) -> Vec<Uuid> {
    users.iter().map(|u| u.id).collect()
}

/// Deleted users are hidden unless asked for; the default order is newest first.
pub async fn list_excludes_deleted_and_orders_stably(store: TestStore) {
    let fx = Fixture::new(store).await;
    let users = seed(&fx, &["Cleo", "bob", "Ängel", "alice"]).await;
    fx.service
        .delete_user(&fx.admin, users[1].id)
        .await
        .unwrap();

    let page = fx
        .service
        .list_users(&fx.admin, ListQuery::default())
        .await
        .unwrap();
    let expected = vec![users[3].id, users[2].id, users[0].id, fx.admin_id];
    assert_eq!(ids(&page.items), expected);
    assert_eq!(page.total, Some(4));
    assert_eq!(page.page, Some(1));
    assert!(page.next_cursor.is_none());

    let by_name = ListQuery {
        sort_by: SortBy::Name,
        sort_order: SortOrder::Asc,
        ..Default::default()
    };
    let page = fx.service.list_users(&fx.admin, by_name).await.unwrap();
    let names: Vec<&str> = page.items.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        ["alice", "Cleo", "Root Admin", "Ängel"],
        "lower-cased byte order"
    );

    let deleted = ListQuery {
        filters: UserFilters {
            status: Some(Status::Deleted),
            ..Default::default()
        },
        ..Default::default()
    };
    let page = fx.service.list_users(&fx.admin, deleted).await.unwrap();
    assert_eq!(ids(&page.items), vec![users[1].id]);
}

/// Walking by cursor yields exactly the offset pages, for every sort key and direction,
/// including ties and absent values.
pub async fn list_pages_by_offset_and_cursor_agree(store: TestStore) {
    let fx = Fixture::new(store).await;
    let names = [
        "Zed", "amy", "Amy", "bo", "Bo", "cy", "Dee", "eve", "Eve", "fay", "Gus",
    ];
    let users = seed(&fx, &names).await;
    // Some users logged in (at identical times), some never did; some have no email.
    for (i, user) in users.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let patch = UpdateUser {
            phone: Some(Some(format!("+1415555{:04}", 2600 + i))),
            email: Some(None),
            auth_method: Some(usermgmt_core::model::AuthMethod::Phone),
            ..Default::default()
        };
        fx.service
            .update_user(&fx.admin, user.id, patch)
            .await
            .unwrap();
    }
    for sort_by in SortBy::ALL {
        for sort_order in [SortOrder::Asc, SortOrder::Desc] {
            let all = ListQuery {
                sort_by,
                sort_order,
                page_size: 100,
                ..Default::default()
            };
            let everything = ids(&fx.service.list_users(&fx.admin, all).await.unwrap().items);
            assert_eq!(everything.len(), names.len() + 1);
            let mut by_offset = Vec::new();
            for page in 1..=4 {
                let q = ListQuery {
                    sort_by,
                    sort_order,
                    page,
                    page_size: 3,
                    ..Default::default()
                };
                by_offset.extend(ids(&fx
                    .service
                    .list_users(&fx.admin, q)
                    .await
                    .unwrap()
                    .items));
            }
            assert_eq!(
                by_offset, everything,
                "offset paging, {sort_by:?} {sort_order:?}"
            );
            let mut by_cursor = Vec::new();
            let mut cursor = None;
            loop {
                let q = ListQuery {
                    sort_by,
                    sort_order,
                    page_size: 3,
                    cursor: cursor.clone(),
                    include_total: false,
                    ..Default::default()
                };
                let page = fx.service.list_users(&fx.admin, q).await.unwrap();
                assert_eq!(page.total, None);
                by_cursor.extend(ids(&page.items));
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            assert_eq!(
                by_cursor, everything,
                "cursor paging, {sort_by:?} {sort_order:?}"
            );
        }
    }
}

/// Out-of-range paging and bad filter values are validation errors naming the field.
pub async fn list_validates_paging_and_filters(store: TestStore) {
    let fx = Fixture::new(store).await;
    let cases: Vec<(ListQuery, &str)> = vec![
        (
            ListQuery {
                page: 0,
                ..Default::default()
            },
            "page",
        ),
        (
            ListQuery {
                page_size: 0,
                ..Default::default()
            },
            "page_size",
        ),
        (
            ListQuery {
                page_size: 501,
                ..Default::default()
            },
            "page_size",
        ),
        (
            ListQuery {
                cursor: Some("garbage".into()),
                ..Default::default()
            },
            "cursor",
        ),
        (
            ListQuery {
                filters: UserFilters {
                    age_min: Some(50),
                    age_max: Some(20),
                    ..Default::default()
                },
                ..Default::default()
            },
            "age_min",
        ),
        (
            ListQuery {
                filters: UserFilters {
                    country: vec!["Germany".into()],
                    ..Default::default()
                },
                ..Default::default()
            },
            "country",
        ),
        (
            ListQuery {
                filters: UserFilters {
                    timezone: vec!["Mars/Base".into()],
                    ..Default::default()
                },
                ..Default::default()
            },
            "timezone",
        ),
        (
            ListQuery {
                filters: UserFilters {
                    search: Some("a\u{7}b".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            "search",
        ),
        (
            ListQuery {
                filters: UserFilters {
                    enrollment: usermgmt_core::filter::EnrollmentFilters {
                        progress_max: Some(101),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                ..Default::default()
            },
            "progress_max",
        ),
        (
            ListQuery {
                filters: UserFilters {
                    created_in_last_days: Some(1_000_000),
                    ..Default::default()
                },
                ..Default::default()
            },
            "created_in_last_days",
        ),
    ];
    for (query, field) in cases {
        let err = fx.service.list_users(&fx.admin, query).await.unwrap_err();
        assert!(
            invalid_fields(&err).contains(&field.to_owned()),
            "{field}: {err}"
        );
    }
    let desc_cursor = {
        fx.create("A", "a@x.test").await;
        fx.create("B", "b@x.test").await;
        let q = ListQuery {
            page_size: 1,
            ..Default::default()
        };
        fx.service
            .list_users(&fx.admin, q)
            .await
            .unwrap()
            .next_cursor
            .unwrap()
    };
    let wrong_sort = ListQuery {
        cursor: Some(desc_cursor),
        sort_order: SortOrder::Asc,
        ..Default::default()
    };
    assert!(
        invalid_fields(
            &fx.service
                .list_users(&fx.admin, wrong_sort)
                .await
                .unwrap_err()
        )
        .contains(&"cursor".to_owned())
    );
}

/// Search is a case-insensitive substring match over name, email, phone, username, unique ID;
/// SQL and FTS metacharacters are plain text.
pub async fn list_search_matches_substrings(store: TestStore) {
    let fx = Fixture::new(store).await;
    let people = [
        ("Zoë Ñúñez", "zoe@search.test"),
        ("O'Brien", "obrien@search.test"),
        ("Percent 100%", "pct@search.test"),
        ("Quote \"Q\" Man", "quote@search.test"),
        ("Under_Score", "under@search.test"),
    ];
    let mut created = Vec::new();
    for (name, email) in people {
        created.push(fx.create(name, email).await);
    }
    let patch = UpdateUser {
        unique_id: Some(Some("STU-42".into())),
        username: Some(Some("zzz_top".into())),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, created[4].id, patch)
        .await
        .unwrap();
    let search = |term: &str| {
        let query = ListQuery {
            filters: UserFilters {
                search: Some(term.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let service = fx.service.clone();
        let admin = fx.admin.clone();
        async move {
            service
                .list_users(&admin, query)
                .await
                .map(|p| p.items.iter().map(|u| u.name.clone()).collect::<Vec<_>>())
        }
    };
    assert_eq!(search("ÑÚÑ").await.unwrap(), ["Zoë Ñúñez"]);
    assert_eq!(search("zo").await.unwrap(), ["Zoë Ñúñez"]);
    assert_eq!(search("'b").await.unwrap(), ["O'Brien"]);
    assert_eq!(search("0%").await.unwrap(), ["Percent 100%"]);
    assert_eq!(search("%").await.unwrap(), ["Percent 100%"]);
    assert_eq!(search("\"q\"").await.unwrap(), ["Quote \"Q\" Man"]);
    assert_eq!(search("_").await.unwrap(), ["Under_Score"]);
    assert_eq!(search("stu-4").await.unwrap(), ["Under_Score"]);
    assert_eq!(search("ZZZ_T").await.unwrap(), ["Under_Score"]);
    assert_eq!(search("search.test").await.unwrap().len(), 5);
    assert!(search("' OR 1=1 --").await.unwrap().is_empty());
    assert!(search("nomatch").await.unwrap().is_empty());
    assert_eq!(
        search("   ").await.unwrap().len(),
        6,
        "a blank search does not filter"
    );
}

/// Cross-service filters without an enrollment source are ignored and named.
pub async fn list_skips_cross_service_filters(store: TestStore) {
    let fx = Fixture::new(store).await;
    fx.create("Learner", "l@x.test").await;
    let filters = UserFilters {
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            has_enrollments: Some(true),
            progress_min: Some(50),
            ..Default::default()
        },
        ..Default::default()
    };
    let page = fx
        .service
        .list_users(
            &fx.admin,
            ListQuery {
                filters,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, Some(2));
    assert_eq!(page.skipped_filters, ["has_enrollments", "progress_min"]);
    let page = fx
        .service
        .list_users(&fx.admin, ListQuery::default())
        .await
        .unwrap();
    assert!(page.skipped_filters.is_empty());
}
