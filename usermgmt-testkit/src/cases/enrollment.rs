//! Cross-service enrollment filters through an enrollment source, and its failures.

use std::sync::Arc;
use std::time::Duration;

use usermgmt_core::Error;
use usermgmt_core::filter::{ListQuery, UserFilters};
use usermgmt_core::model::{Enrollment, EnrollmentStatus};
use usermgmt_core::service::{EnrollmentOptions, ExportFormat};

use crate::enrollments::{Behaviour, MemoryEnrollmentSource, assert_enrollment_filters_skipped};
use crate::fixture::Fixture;
use crate::store::TestStore;

fn enrollment(
    user: uuid::Uuid,
    program: &str,
    status: EnrollmentStatus,
    progress: u8,
    time: u64,
) -> Enrollment {
    Enrollment {
        user_id: user,
        program_id: program.into(),
        program_type: "course".into(),
        status,
        progress,
        time_spent_seconds: time,
        last_activity_at: None,
    }
}

/// With a source, the enrollment filters narrow the list, its total and the export, and
/// nothing is skipped.
pub async fn enrollment_filters_use_the_source(store: TestStore) {
    let fx = Fixture::new(store).await;
    let a = fx.create("Alpha", "alpha@x.test").await;
    let b = fx.create("Beta", "beta@x.test").await;
    fx.create("Gamma", "gamma@x.test").await;
    let enrollments = vec![
        enrollment(a.id, "p1", EnrollmentStatus::Active, 40, 600),
        enrollment(a.id, "p2", EnrollmentStatus::Completed, 100, 900),
        enrollment(b.id, "p1", EnrollmentStatus::Active, 90, 100),
    ];
    let source = MemoryEnrollmentSource::new(fx.tenant.clone(), enrollments);
    let service = fx
        .service
        .clone()
        .with_enrollment_source(Arc::new(source), EnrollmentOptions::default());
    let names = |filters: UserFilters| {
        let (service, admin) = (service.clone(), fx.admin.clone());
        async move {
            let page = service
                .list_users(
                    &admin,
                    ListQuery {
                        filters,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            assert!(page.skipped_filters.is_empty());
            let mut names: Vec<String> = page.items.into_iter().map(|u| u.name).collect();
            names.sort();
            (names, page.total)
        }
    };
    let with = UserFilters {
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            has_enrollments: Some(true),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        names(with).await,
        (vec!["Alpha".to_owned(), "Beta".to_owned()], Some(2))
    );
    let without = UserFilters {
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            has_enrollments: Some(false),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        names(without).await,
        (vec!["Gamma".to_owned(), "Root Admin".to_owned()], Some(2))
    );
    let active_far = UserFilters {
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            enrollment_status: vec![EnrollmentStatus::Active],
            progress_min: Some(50),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        names(active_far).await.0,
        ["Beta"],
        "both conditions on one enrollment"
    );
    let time = UserFilters {
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            total_time_spent_min: Some(1000),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(names(time).await.0, ["Alpha"]);
    let program = UserFilters {
        search: Some("a".into()),
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            enrolled_program_ids: vec!["p1".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(names(program).await.0, ["Alpha", "Beta"]);
    let mut stream = service
        .export(
            &fx.admin,
            UserFilters {
                enrollment: usermgmt_core::filter::EnrollmentFilters {
                    has_enrollments: Some(true),
                    ..Default::default()
                },
                ..Default::default()
            },
            ExportFormat::JsonLines,
        )
        .await
        .unwrap();
    assert!(stream.skipped_filters.is_empty());
    let mut lines = 0;
    while let Some(chunk) = stream.next_chunk().await {
        lines += chunk.unwrap().iter().filter(|b| **b == b'\n').count();
    }
    assert_eq!(lines, 2);
}

/// A failing or slow source leaves the list answering with the enrollment filters skipped
/// and named; a strict service reports the source as unavailable instead.
pub async fn enrollment_source_failures_skip_or_fail(store: TestStore) {
    let fx = Fixture::new(store).await;
    fx.create("Alpha", "alpha@x.test").await;
    let quick = EnrollmentOptions {
        timeout: Duration::from_millis(100),
        strict: false,
    };
    for behaviour in [Behaviour::Fail, Behaviour::Slow(Duration::from_millis(400))] {
        let label = format!("{behaviour:?}");
        let source = MemoryEnrollmentSource::new(fx.tenant.clone(), Vec::new()).behaving(behaviour);
        let service = fx
            .service
            .clone()
            .with_enrollment_source(Arc::new(source), quick.clone());
        assert_enrollment_filters_skipped(&service, &fx.admin, 2, &label).await;
        let strict = EnrollmentOptions {
            strict: true,
            ..quick.clone()
        };
        let source = MemoryEnrollmentSource::new(fx.tenant.clone(), Vec::new()).behaving(behaviour);
        let service = fx
            .service
            .clone()
            .with_enrollment_source(Arc::new(source), strict);
        let filters = UserFilters {
            enrollment: usermgmt_core::filter::EnrollmentFilters {
                has_enrollments: Some(true),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = service
            .list_users(
                &fx.admin,
                ListQuery {
                    filters,
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::EnrollmentSourceUnavailable(_)),
            "{label}: {err:?}"
        );
    }
}
