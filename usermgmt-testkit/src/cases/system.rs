//! The service-to-service operations.

use std::collections::HashSet;

use usermgmt_core::model::{AuditActor, Permission};
use usermgmt_core::service::{GetOrCreateUser, SetFlags};
use usermgmt_core::{Error, Principal};

use super::common::invalid_fields;
use crate::fixture::Fixture;
use crate::store::TestStore;

fn by_email(email: &str) -> GetOrCreateUser {
    GetOrCreateUser {
        email: Some(email.into()),
        ..Default::default()
    }
}

/// Get-or-create returns the existing user or creates exactly one, even when 24 calls race.
pub async fn system_get_or_create_is_idempotent(store: TestStore) {
    let fx = Fixture::new(store).await;
    let system = Principal::system(fx.tenant.clone());
    let first = fx
        .service
        .system_get_or_create(&system, by_email("New@Example.COM"))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.user.name, "new");
    assert!(first.user.is_learner);
    let again = fx
        .service
        .system_get_or_create(&system, by_email("new@example.com"))
        .await
        .unwrap();
    assert_eq!((again.user.id, again.created), (first.user.id, false));
    let by_phone = GetOrCreateUser {
        phone: Some("+1 415 555 2680".into()),
        name: Some("Phoned".into()),
        ..Default::default()
    };
    let phoned = fx
        .service
        .system_get_or_create(&system, by_phone.clone())
        .await
        .unwrap();
    assert_eq!(
        (phoned.user.name.as_str(), phoned.created),
        ("Phoned", true)
    );
    assert_eq!(
        fx.service
            .system_get_or_create(&system, by_phone)
            .await
            .unwrap()
            .user
            .id,
        phoned.user.id
    );
    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, first.user.id, 0, 1)
        .await
        .unwrap();
    assert_eq!(events[0].actor, AuditActor::System);

    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let (service, system) = (fx.service.clone(), system.clone());
            tokio::spawn(async move {
                service
                    .system_get_or_create(&system, by_email("race@example.com"))
                    .await
            })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut created = 0;
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
        ids.insert(outcome.user.id);
        created += usize::from(outcome.created);
    }
    assert_eq!(
        (ids.len(), created),
        (1, 1),
        "exactly one user, created once"
    );

    assert_eq!(
        invalid_fields(
            &fx.service
                .system_get_or_create(&system, GetOrCreateUser::default())
                .await
                .unwrap_err()
        ),
        ["email"]
    );
    assert_eq!(
        invalid_fields(
            &fx.service
                .system_get_or_create(&system, by_email("bad"))
                .await
                .unwrap_err()
        ),
        ["email"]
    );
    assert!(matches!(
        fx.service
            .system_get_or_create(&fx.admin, by_email("x@example.com"))
            .await,
        Err(Error::Unauthenticated(_))
    ));
}

/// Search, by-ids (request order, missing reported), role and permission grants by name,
/// flags and role look-up; user principals are refused.
pub async fn system_lookups_and_grants(store: TestStore) {
    let fx = Fixture::new(store).await;
    let system = Principal::system(fx.tenant.clone());
    let ada = fx.create("Ada Lovelace", "ada@x.test").await;
    let alan = fx.create("Alan Turing", "alan@x.test").await;
    let names: Vec<String> = fx
        .service
        .system_search(&system, "x.test", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["Ada Lovelace", "Alan Turing"]);
    assert_eq!(
        fx.service
            .system_search(&system, "TURING", 10)
            .await
            .unwrap()[0]
            .id,
        alan.id
    );
    assert_eq!(
        invalid_fields(
            &fx.service
                .system_search(&system, " ", 10)
                .await
                .unwrap_err()
        ),
        ["q"]
    );
    assert_eq!(
        invalid_fields(&fx.service.system_search(&system, "a", 0).await.unwrap_err()),
        ["limit"]
    );

    let ghost = uuid::Uuid::now_v7();
    let found = fx
        .service
        .system_users_by_ids(&system, &[alan.id, ghost, ada.id])
        .await
        .unwrap();
    assert_eq!(
        found.users.iter().map(|u| u.id).collect::<Vec<_>>(),
        [alan.id, ada.id]
    );
    assert_eq!(found.missing, [ghost]);

    let role = fx
        .service
        .system_role_by_name(&system, " SUPER_ADMIN ")
        .await
        .unwrap();
    assert_eq!(role.name, "super_admin");
    assert!(matches!(
        fx.service.system_role_by_name(&system, "nope").await,
        Err(Error::NotFound("role"))
    ));
    let err = fx
        .service
        .system_assign_roles(&system, ada.id, &["nope".into()])
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["roles"]);
    let granted = fx
        .service
        .system_assign_roles(&system, ada.id, &["super_admin".into()])
        .await
        .unwrap();
    assert_eq!(granted.roles, ["super_admin"]);
    let granted = fx
        .service
        .system_grant_permissions(&system, alan.id, &[Permission::USER_LIST])
        .await
        .unwrap();
    assert_eq!(granted.permissions, [Permission::USER_LIST]);
    let err = fx
        .service
        .system_set_flags(
            &system,
            alan.id,
            SetFlags {
                is_instructor: Some(true),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        invalid_fields(&err.unwrap_err()),
        ["roles"],
        "instructors need a role"
    );
    let flagged = fx
        .service
        .system_set_flags(
            &system,
            ada.id,
            SetFlags {
                is_admin: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(flagged.is_admin && flagged.is_learner);
    assert!(matches!(
        fx.service.system_search(&fx.admin, "a", 10).await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(matches!(
        fx.service.system_assign_roles(&fx.admin, ada.id, &[]).await,
        Err(Error::Unauthenticated(_))
    ));
}
