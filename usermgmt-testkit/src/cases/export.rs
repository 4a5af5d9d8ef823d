//! Export: the same users as the list of the same filters, every one of them, safely.

use usermgmt_core::filter::{ListQuery, UserFilters};
use usermgmt_core::model::Status;
use usermgmt_core::password::Password;
use usermgmt_core::service::{CSV_COLUMNS, CreateUser, ExportFormat, ExportStream, UpdateUser};

use crate::fixture::Fixture;
use crate::store::TestStore;

async fn collect(mut stream: ExportStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next_chunk().await {
        bytes.extend(chunk.unwrap());
    }
    bytes
}

/// CSV and JSON Lines exports hold exactly the users (and order) of the list with the same
/// filters — across several batches — with formula cells neutralised and no secret.
pub async fn export_matches_the_list(store: TestStore) {
    let fx = Fixture::new(store).await;
    let risky = CreateUser {
        password: Some(Password::new("secret-password-1")),
        city: Some("@Berlin".into()),
        phone: Some("+1 415 555 2691".into()),
        ..Fixture::learner("=HYPERLINK(\"http://evil\")", "risky@x.test")
    };
    let risky = fx.service.create_user(&fx.admin, risky).await.unwrap();
    for i in 0..800 {
        let country = if i % 4 == 0 { "FR" } else { "DE" };
        let input = CreateUser {
            country: Some(country.into()),
            ..Fixture::learner(&format!("Bulk {i}"), &format!("bulk{i}@x.test"))
        };
        let user = fx.service.create_user(&fx.admin, input).await.unwrap();
        if i % 10 == 0 {
            fx.service
                .update_user(
                    &fx.admin,
                    user.id,
                    UpdateUser {
                        status: Some(Status::Inactive),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
    }
    let filters = UserFilters {
        country: vec!["DE".into()],
        status: Some(Status::Active),
        ..Default::default()
    };
    let listed = fx
        .service
        .list_users(
            &fx.admin,
            ListQuery {
                filters: filters.clone(),
                page_size: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut expected: Vec<String> = listed.items.iter().map(|u| u.id.to_string()).collect();
    let mut cursor = listed.next_cursor;
    while let Some(next) = cursor {
        let page = ListQuery {
            filters: filters.clone(),
            page_size: 500,
            cursor: Some(next),
            ..Default::default()
        };
        let page = fx.service.list_users(&fx.admin, page).await.unwrap();
        expected.extend(page.items.iter().map(|u| u.id.to_string()));
        cursor = page.next_cursor;
    }
    assert!(
        expected.len() > usermgmt_core::service::EXPORT_BATCH as usize,
        "more than one batch"
    );

    let csv_bytes = collect(
        fx.service
            .export(&fx.admin, filters.clone(), ExportFormat::Csv)
            .await
            .unwrap(),
    )
    .await;
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        CSV_COLUMNS
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(
        rows.iter().map(|r| r[0].to_owned()).collect::<Vec<_>>(),
        expected
    );
    assert!(rows.iter().all(|r| &r[6] == "active" && &r[15] == "DE"));

    let everyone = collect(
        fx.service
            .export(
                &fx.admin,
                UserFilters {
                    search: Some("risky".into()),
                    ..Default::default()
                },
                ExportFormat::Csv,
            )
            .await
            .unwrap(),
    )
    .await;
    let mut reader = csv::Reader::from_reader(everyone.as_slice());
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[0], risky.id.to_string());
    assert_eq!(&row[1], "'=HYPERLINK(\"http://evil\")");
    assert_eq!(&row[3], "'+14155552691");
    assert_eq!(&row[16], "'@Berlin");
    assert_eq!(&row[7], "learner");
    assert!(
        row[13].ends_with('Z') && row[13].contains('T'),
        "RFC 3339 UTC: {}",
        &row[13]
    );

    let lines = collect(
        fx.service
            .export(&fx.admin, filters, ExportFormat::JsonLines)
            .await
            .unwrap(),
    )
    .await;
    let ids: Vec<String> = String::from_utf8(lines.clone())
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, expected);
    for bytes in [&csv_bytes, &everyone, &lines] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("$argon2")
                && !text.contains("secret-password")
                && !text.contains("password_hash")
        );
    }

    let skipped = fx
        .service
        .export(
            &fx.admin,
            UserFilters {
                enrollment: usermgmt_core::filter::EnrollmentFilters {
                    has_enrollments: Some(true),
                    ..Default::default()
                },
                ..Default::default()
            },
            ExportFormat::Csv,
        )
        .await
        .unwrap();
    assert_eq!(skipped.skipped_filters, ["has_enrollments"]);
}

/// An export is one snapshot: a user changed while the export runs (after its first chunk)
/// is exported as it was when the export began — row and related lists alike.
pub async fn an_export_sees_one_snapshot(store: TestStore) {
    let fx = Fixture::new(store).await;
    let oldest = CreateUser {
        expertise: vec!["Old".into()],
        ..Fixture::learner("Oldest", "oldest@x.test")
    };
    let oldest = fx.service.create_user(&fx.admin, oldest).await.unwrap();
    // Enough users for many batches, so the export is still reading when the change lands.
    let mut csv = String::from("name,email,user_type\n");
    for i in 0..6_000 {
        csv.push_str(&format!("Many {i},many{i}@x.test,learner\n"));
    }
    let options = usermgmt_core::service::ImportOptions {
        format: ExportFormat::Csv,
        ..Default::default()
    };
    let input = std::io::Cursor::new(csv.into_bytes());
    let summary = fx
        .service
        .import_users(&fx.admin, input, options, |_| {})
        .await
        .unwrap();
    assert_eq!(summary.created, 6_000);
    let mut stream = fx
        .service
        .export(&fx.admin, UserFilters::default(), ExportFormat::JsonLines)
        .await
        .unwrap();
    let mut bytes = stream.next_chunk().await.unwrap().unwrap();
    let change = UpdateUser {
        name: Some("Renamed".into()),
        expertise: Some(vec!["New".into()]),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, oldest.id, change)
        .await
        .unwrap();
    bytes.extend(collect(stream).await);
    let exported: Vec<serde_json::Value> = bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    assert_eq!(
        exported.len(),
        6_002,
        "the admin, the oldest and the imported"
    );
    let id = oldest.id.to_string();
    let row = exported.iter().find(|u| u["id"] == id.as_str()).unwrap();
    assert_eq!(
        (&row["name"], &row["expertise"]),
        (&serde_json::json!("Oldest"), &serde_json::json!(["Old"]))
    );
}
