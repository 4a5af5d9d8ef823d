//! Create and get.

use chrono::NaiveDate;
use usermgmt_core::model::{AuditAction, AuthMethod, Continent, Gender, Status};
use usermgmt_core::password::Password;
use usermgmt_core::service::CreateUser;
use usermgmt_core::{Error, Principal};

use super::common::invalid_fields;
use crate::fixture::{Fixture, tenant};
use crate::store::TestStore;

/// Every field round-trips; derived values are computed; the creation is audited.
pub async fn create_and_get_round_trip(store: TestStore) {
    let fx = Fixture::new(store).await;
    let input = CreateUser {
        name: "  Ada Lovelace ".into(),
        email: Some("Ada@Example.COM".into()),
        phone: Some("+1 (415) 555-2671".into()),
        username: Some("ada.l".into()),
        unique_id: Some("STU-0001".into()),
        password: Some(Password::new("analytical-engine")),
        is_learner: true,
        is_instructor: true,
        roles: vec!["super_admin".into()],
        email_verified: true,
        avatar_url: Some("https://img.test/ada.png".into()),
        bio: Some("First programmer".into()),
        country: Some("gb".into()),
        city: Some("London".into()),
        state: Some("England".into()),
        timezone: Some("Europe/London".into()),
        locale: Some("en-GB".into()),
        gender: Some(Gender::Female),
        designation: Some("Mathematician".into()),
        expertise: vec!["Math".into(), "math".into(), "Engines".into()],
        date_of_birth: NaiveDate::from_ymd_opt(1990, 12, 10),
        ..Default::default()
    };
    let created = fx.service.create_user(&fx.admin, input).await.unwrap();
    assert_eq!(created.name, "Ada Lovelace");
    assert_eq!(created.email.as_deref(), Some("ada@example.com"));
    assert_eq!(created.phone.as_deref(), Some("+14155552671"));
    assert_eq!(created.status, Status::Active);
    assert_eq!(created.auth_method, AuthMethod::Email);
    assert!(created.has_password);
    assert_eq!(created.profile.country.as_deref(), Some("GB"));
    assert_eq!(created.profile.continent, Some(Continent::Europe));
    assert_eq!(
        created.profile.expertise,
        vec!["Math".to_owned(), "Engines".to_owned()]
    );
    assert_eq!(created.profile_completeness, 100);
    assert_eq!(created.roles, vec!["super_admin".to_owned()]);
    assert_eq!(created.version, 1);
    assert_eq!(created.age(fx.clock_today()), Some(35));
    assert!(!created.is_locked(fx.clock_now()));

    let fetched = fx.service.get_user(&fx.admin, created.id).await.unwrap();
    assert_eq!(fetched, created);

    let (events, total) = fx
        .store
        .storage
        .list_audit(&fx.tenant, created.id, 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(events[0].action, AuditAction::UserCreated);
    assert_eq!(
        events[0].actor,
        usermgmt_core::model::AuditActor::User(fx.admin_id)
    );
    assert_eq!(
        events[0].changes["password"].new,
        serde_json::json!("[redacted]")
    );
}

/// All invalid fields are reported in one error, and nothing is stored.
pub async fn create_reports_every_invalid_field(store: TestStore) {
    let fx = Fixture::new(store).await;
    let input = CreateUser {
        name: " ".into(),
        email: Some("nope".into()),
        phone: Some("12".into()),
        username: Some("No Spaces".into()),
        unique_id: Some("has space".into()),
        password: Some(Password::new("short")),
        status: Some(Status::Deleted),
        is_admin: true,
        roles: vec!["ghost".into()],
        country: Some("XX".into()),
        timezone: Some("Nowhere/City".into()),
        locale: Some("not a locale!".into()),
        avatar_url: Some("javascript:alert(1)".into()),
        date_of_birth: NaiveDate::from_ymd_opt(2999, 1, 1),
        ..Default::default()
    };
    let err = fx.service.create_user(&fx.admin, input).await.unwrap_err();
    let fields = invalid_fields(&err);
    for field in [
        "name",
        "email",
        "phone",
        "username",
        "unique_id",
        "password",
        "status",
        "roles",
        "country",
        "timezone",
        "locale",
        "avatar_url",
        "date_of_birth",
    ] {
        assert!(
            fields.contains(&field.to_owned()),
            "{field} not reported in {err}"
        );
    }
    let no_flags = CreateUser {
        name: "X".into(),
        email: Some("x@t.test".into()),
        ..Default::default()
    };
    let err = fx
        .service
        .create_user(&fx.admin, no_flags)
        .await
        .unwrap_err();
    assert!(invalid_fields(&err).contains(&"is_learner".to_owned()));
    let no_contact = CreateUser {
        name: "X".into(),
        is_learner: true,
        ..Default::default()
    };
    assert!(
        invalid_fields(
            &fx.service
                .create_user(&fx.admin, no_contact)
                .await
                .unwrap_err()
        )
        .contains(&"email".to_owned())
    );
    let instructor = CreateUser {
        name: "X".into(),
        email: Some("x@t.test".into()),
        is_instructor: true,
        ..Default::default()
    };
    assert!(
        invalid_fields(
            &fx.service
                .create_user(&fx.admin, instructor)
                .await
                .unwrap_err()
        )
        .contains(&"roles".to_owned())
    );
    assert_eq!(fx.count_users().await, 1, "only the admin exists");
}

/// Email/username/unique ID are unique ignoring case, phone after normalisation; per tenant.
pub async fn create_refuses_taken_values_per_tenant(store: TestStore) {
    let fx = Fixture::new(store).await;
    let first = CreateUser {
        username: Some("grace".into()),
        unique_id: Some("EMP-1".into()),
        phone: Some("+44 20 7946 0958".into()),
        ..Fixture::learner("Grace", "grace@navy.test")
    };
    fx.service.create_user(&fx.admin, first).await.unwrap();
    let clash = CreateUser {
        username: Some("grace".into()),
        unique_id: Some("emp-1".into()),
        phone: Some("+442079460958".into()),
        ..Fixture::learner("Other", "GRACE@NAVY.TEST")
    };
    match fx.service.create_user(&fx.admin, clash.clone()).await {
        Err(Error::Conflict { fields }) => {
            assert_eq!(fields, vec!["email", "phone", "username", "unique_id"]);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let only_email = Fixture::learner("Other", "grace@navy.test");
    assert!(
        matches!(fx.service.create_user(&fx.admin, only_email).await, Err(Error::Conflict { fields }) if fields == ["email"])
    );

    // The same values are free in another tenant.
    let other = tenant("t2");
    let admin2 = fx.second_tenant_admin().await;
    let principal2 = Principal::user(other, admin2.id);
    fx.service.create_user(&principal2, clash).await.unwrap();
    assert_eq!(fx.count_users().await, 2);
}

/// Unknown ids and other tenants' users are both simply "not found".
pub async fn get_unknown_or_foreign_user_is_not_found(store: TestStore) {
    let fx = Fixture::new(store).await;
    assert!(matches!(
        fx.service.get_user(&fx.admin, uuid::Uuid::now_v7()).await,
        Err(Error::NotFound("user"))
    ));
    let admin2 = fx.second_tenant_admin().await;
    assert!(matches!(
        fx.service.get_user(&fx.admin, admin2.id).await,
        Err(Error::NotFound("user"))
    ));
}

impl Fixture {
    /// The clock's current time.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        usermgmt_core::Clock::now(self.clock.as_ref())
    }

    /// The clock's current date.
    pub fn clock_today(&self) -> NaiveDate {
        self.clock_now().date_naive()
    }

    /// Users of `t1` in any status, counted through the admin.
    pub async fn count_users(&self) -> u64 {
        let query = usermgmt_core::filter::ListQuery {
            filters: usermgmt_core::filter::UserFilters {
                statuses: Status::ALL.to_vec(),
                ..Default::default()
            },
            ..Default::default()
        };
        self.service
            .list_users(&self.admin, query)
            .await
            .unwrap()
            .total
            .unwrap_or(0)
    }
}
