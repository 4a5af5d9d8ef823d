//! Statistics, overview, growth series, filter values and field values.

use chrono::Duration;
use usermgmt_core::model::{GrowthInterval, OverviewPeriod, Status};
use usermgmt_core::service::{CreateUser, UpdateUser};

use super::common::invalid_fields;
use crate::fixture::{Fixture, PASSWORD};
use crate::store::TestStore;

/// Builds: day 0 — admin, u1 (learner, email verified), u2 (instructor, phone verified);
/// day 21 — u3, u4 (suspended); day 31 — u5 (then deleted), u6. The clock ends on day 31.
async fn history(fx: &Fixture) -> Vec<uuid::Uuid> {
    let mut ids = Vec::new();
    let u1 = CreateUser {
        email_verified: true,
        password: Some(usermgmt_core::password::Password::new(PASSWORD)),
        ..Fixture::learner("U1", "u1@x.test")
    };
    ids.push(fx.service.create_user(&fx.admin, u1).await.unwrap().id);
    let u2 = CreateUser {
        is_learner: false,
        is_instructor: true,
        roles: vec!["super_admin".into()],
        phone: Some("+1 415 555 2690".into()),
        phone_verified: true,
        ..Fixture::learner("U2", "u2@x.test")
    };
    ids.push(fx.service.create_user(&fx.admin, u2).await.unwrap().id);
    fx.clock.advance(Duration::days(21));
    ids.push(fx.create("U3", "u3@x.test").await.id);
    let u4 = fx.create("U4", "u4@x.test").await.id;
    fx.service
        .update_user(
            &fx.admin,
            u4,
            UpdateUser {
                status: Some(Status::Suspended),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    ids.push(u4);
    fx.clock.advance(Duration::days(10));
    let u5 = fx.create("U5", "u5@x.test").await.id;
    fx.service.delete_user(&fx.admin, u5).await.unwrap();
    ids.push(u5);
    ids.push(fx.create("U6", "u6@x.test").await.id);
    ids
}

/// Statistics count by status (deleted included), type, verification and recency.
pub async fn stats_counts(store: TestStore) {
    let fx = Fixture::new(store).await;
    history(&fx).await;
    let stats = fx.service.stats(&fx.admin).await.unwrap();
    assert_eq!(stats.total, 6);
    assert_eq!(stats.by_status[&Status::Active], 5);
    assert_eq!(stats.by_status[&Status::Suspended], 1);
    assert_eq!(stats.by_status[&Status::Deleted], 1);
    assert_eq!(stats.by_status[&Status::Inactive], 0);
    assert_eq!(
        (
            stats.by_type.admins,
            stats.by_type.instructors,
            stats.by_type.learners
        ),
        (1, 1, 4)
    );
    let v = stats.by_verification;
    assert_eq!(
        (v.email_verified, v.phone_verified, v.unverified),
        (2, 1, 3)
    );
    assert_eq!(
        (stats.registered_last_7_days, stats.registered_last_30_days),
        (1, 3)
    );
}

/// The overview compares the period ending now with the one before.
pub async fn overview_compares_periods(store: TestStore) {
    let fx = Fixture::new(store).await;
    let ids = history(&fx).await;
    fx.login("u1@x.test", PASSWORD).await.unwrap();
    let overview = fx
        .service
        .overview(&fx.admin, OverviewPeriod::Week)
        .await
        .unwrap();
    assert_eq!(
        (
            overview.current.new_users,
            overview.current.active_users,
            overview.current.deleted_users
        ),
        (2, 1, 1)
    );
    assert_eq!(
        (
            overview.previous.new_users,
            overview.previous.active_users,
            overview.previous.deleted_users
        ),
        (2, 0, 0)
    );
    assert_eq!(overview.new_users_change.delta, 0);
    assert_eq!(overview.new_users_change.percent, Some(0.0));
    assert_eq!(
        overview.deleted_users_change.percent, None,
        "no percentage from zero"
    );
    let month = fx
        .service
        .overview(&fx.admin, OverviewPeriod::Month)
        .await
        .unwrap();
    assert_eq!(month.current.new_users, 4);
    assert_eq!(month.previous.new_users, 3);
    assert_eq!(
        month.new_users_change.percent.map(|p| p.round()),
        Some(33.0)
    );

    // A reactivated user no longer counts as deleted; a bulk delete counts, once per user.
    let u5 = ids[4];
    let deleted = |fx: &Fixture| {
        let (service, admin) = (fx.service.clone(), fx.admin.clone());
        async move {
            let overview = service.overview(&admin, OverviewPeriod::Week).await;
            overview.unwrap().current.deleted_users
        }
    };
    let reactivate = UpdateUser {
        status: Some(Status::Active),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, u5, reactivate)
        .await
        .unwrap();
    assert_eq!(deleted(&fx).await, 0);
    let request = usermgmt_core::service::BulkDeleteRequest::UserIds(vec![u5, ids[5]]);
    let outcome = fx.service.bulk_delete(&fx.admin, request).await.unwrap();
    assert_eq!(outcome.deleted, 2);
    assert_eq!(deleted(&fx).await, 2);
}

/// Growth series are zero-filled per day, week or month, with running totals.
pub async fn growth_series_are_zero_filled(store: TestStore) {
    let fx = Fixture::new(store).await;
    let start = fx.clock_today();
    history(&fx).await;
    let days = fx
        .service
        .growth(&fx.admin, GrowthInterval::Day, start, fx.clock_today())
        .await
        .unwrap();
    assert_eq!(days.len(), 32);
    assert_eq!(
        (days[0].new_users, days[21].new_users, days[31].new_users),
        (3, 2, 2)
    );
    assert_eq!(days.iter().map(|p| p.new_users).sum::<u64>(), 7);
    assert_eq!(days[20].total_users, 3);
    assert_eq!(days[31].total_users, 7);
    let later = fx
        .service
        .growth(
            &fx.admin,
            GrowthInterval::Month,
            start + Duration::days(1),
            fx.clock_today(),
        )
        .await
        .unwrap();
    assert_eq!(
        later.first().map(|p| (p.new_users, p.total_users)),
        Some((0, 3)),
        "earlier users in the running total"
    );
    let weeks = fx
        .service
        .growth(&fx.admin, GrowthInterval::Week, start, fx.clock_today())
        .await
        .unwrap();
    assert_eq!(weeks.iter().map(|p| p.new_users).sum::<u64>(), 7);
    let err = fx
        .service
        .growth(&fx.admin, GrowthInterval::Day, fx.clock_today(), start)
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["from"]);
    let far = start - Duration::days(20 * 365);
    assert_eq!(
        invalid_fields(
            &fx.service
                .growth(&fx.admin, GrowthInterval::Day, far, start)
                .await
                .unwrap_err()
        ),
        ["to"]
    );
}

/// Filter values list vocabularies and the tenant's values with counts; field values page
/// through one whitelisted field matching a substring.
pub async fn filter_and_field_values(store: TestStore) {
    let fx = Fixture::new(store).await;
    for (i, (city, designation, expertise)) in [
        ("Berlin", "Engineer", vec!["Rust", "Go"]),
        ("berlin", "Teacher", vec!["rust"]),
        ("Paris", "Engineer", vec!["Math"]),
        ("Lagos", "Ärztin", vec![]),
    ]
    .into_iter()
    .enumerate()
    {
        let input = CreateUser {
            city: Some(city.into()),
            designation: Some(designation.into()),
            expertise: expertise.into_iter().map(str::to_owned).collect(),
            country: Some("DE".into()),
            ..Fixture::learner(&format!("V{i}"), &format!("v{i}@x.test"))
        };
        fx.service.create_user(&fx.admin, input).await.unwrap();
    }
    let deleted = fx
        .service
        .create_user(
            &fx.admin,
            CreateUser {
                city: Some("Paris".into()),
                ..Fixture::learner("Gone", "gone@x.test")
            },
        )
        .await
        .unwrap();
    fx.service.delete_user(&fx.admin, deleted.id).await.unwrap();

    let values = fx.service.filter_values(&fx.admin).await.unwrap();
    assert_eq!(values.statuses.len(), 5);
    let cities: Vec<(String, u64)> = values
        .cities
        .iter()
        .map(|v| (v.value.to_lowercase(), v.count))
        .collect();
    assert_eq!(
        cities,
        [
            ("berlin".to_owned(), 2),
            ("lagos".to_owned(), 1),
            ("paris".to_owned(), 1)
        ]
    );
    assert_eq!(
        values
            .countries
            .iter()
            .map(|v| (v.value.as_str(), v.count))
            .collect::<Vec<_>>(),
        [("DE", 4)]
    );
    assert_eq!(
        values
            .roles
            .iter()
            .map(|v| (v.value.as_str(), v.count))
            .collect::<Vec<_>>(),
        [("super_admin", 1)]
    );
    assert_eq!(
        values
            .expertise
            .first()
            .map(|v| (v.value.to_lowercase(), v.count)),
        Some(("rust".to_owned(), 2))
    );

    let page = fx
        .service
        .field_values(&fx.admin, "designation", Some("ENG"), 1, 10)
        .await
        .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|v| (v.value.as_str(), v.count))
            .collect::<Vec<_>>(),
        [("Engineer", 2)]
    );
    let page = fx
        .service
        .field_values(&fx.admin, "city", None, 2, 2)
        .await
        .unwrap();
    assert_eq!((page.total, page.items.len()), (Some(3), 1));
    assert_eq!(
        invalid_fields(
            &fx.service
                .field_values(&fx.admin, "password_hash", None, 1, 10)
                .await
                .unwrap_err()
        ),
        ["field"]
    );
    assert_eq!(
        invalid_fields(
            &fx.service
                .field_values(&fx.admin, "city", None, 0, 10)
                .await
                .unwrap_err()
        ),
        ["page"]
    );
}

/// Statistics over the users matching filters, enrollment filters included (through a source,
/// or skipped and named without one).
pub async fn stats_honour_filters(store: TestStore) {
    let fx = Fixture::new(store).await;
    let ids = history(&fx).await;
    let learners = usermgmt_core::filter::UserFilters {
        is_learner: Some(true),
        ..Default::default()
    };
    let stats = fx
        .service
        .stats_filtered(&fx.admin, learners)
        .await
        .unwrap();
    assert_eq!(stats.total, 4);
    assert_eq!(
        (
            stats.by_status[&Status::Active],
            stats.by_status[&Status::Suspended]
        ),
        (3, 1)
    );
    assert_eq!(stats.by_type.instructors, 0);
    assert!(stats.skipped_filters.is_empty());

    let enrolled = usermgmt_core::filter::UserFilters {
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            has_enrollments: Some(true),
            ..Default::default()
        },
        ..Default::default()
    };
    let skipped = fx
        .service
        .stats_filtered(&fx.admin, enrolled.clone())
        .await
        .unwrap();
    assert_eq!(skipped.skipped_filters, ["has_enrollments"]);
    assert_eq!(skipped.total, 6, "without a source the filter is skipped");
    let enrollments = [ids[0], ids[1]]
        .iter()
        .map(|&user_id| usermgmt_core::model::Enrollment {
            user_id,
            program_id: "p1".into(),
            program_type: "course".into(),
            status: usermgmt_core::model::EnrollmentStatus::Active,
            progress: 10,
            time_spent_seconds: 60,
            last_activity_at: None,
        })
        .collect();
    let source = crate::enrollments::MemoryEnrollmentSource::new(fx.tenant.clone(), enrollments);
    let service = fx.service.clone().with_enrollment_source(
        std::sync::Arc::new(source),
        usermgmt_core::service::EnrollmentOptions::default(),
    );
    let stats = service.stats_filtered(&fx.admin, enrolled).await.unwrap();
    assert_eq!(
        (
            stats.total,
            stats.by_type.learners,
            stats.by_type.instructors
        ),
        (2, 1, 1)
    );
    assert!(stats.skipped_filters.is_empty());
}
