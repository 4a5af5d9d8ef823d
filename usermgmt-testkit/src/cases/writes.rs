//! Updates (partial, versioned, credentials, status) and deletes (soft, bulk).

use chrono::Duration;
use usermgmt_core::Error;
use usermgmt_core::filter::{ListQuery, UserFilters};
use usermgmt_core::model::{AuditAction, AuditActor, AuditTargetKind, Status};
use usermgmt_core::password::Password;
use usermgmt_core::service::{BulkDeleteRequest, UpdateUser};
use usermgmt_core::storage::Identifier;

use super::common::invalid_fields;
use crate::fixture::Fixture;
use crate::store::TestStore;

/// Absent fields stay, `null` clears, the version increments on every change only.
pub async fn update_is_partial_and_versioned(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx.create("Linus", "linus@x.test").await;
    fx.clock.advance(Duration::minutes(5));
    let patch = UpdateUser {
        city: Some(Some("Helsinki".into())),
        country: Some(Some("fi".into())),
        expertise: Some(vec!["Kernels".into()]),
        is_instructor: Some(true),
        roles: Some(vec!["super_admin".into()]),
        ..Default::default()
    };
    let updated = fx
        .service
        .update_user(&fx.admin, user.id, patch)
        .await
        .unwrap();
    assert_eq!(updated.name, "Linus");
    assert_eq!(updated.email, user.email);
    assert_eq!(updated.profile.city.as_deref(), Some("Helsinki"));
    assert_eq!(updated.profile.country.as_deref(), Some("FI"));
    assert_eq!(
        updated.profile.continent,
        Some(usermgmt_core::model::Continent::Europe)
    );
    assert_eq!(updated.version, 2);
    assert_eq!(updated.updated_at, fx.clock_now());
    assert_eq!(updated.created_at, user.created_at);
    assert_eq!(updated.profile_completeness, 30);

    let cleared = fx
        .service
        .update_user(
            &fx.admin,
            user.id,
            UpdateUser {
                city: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.profile.city, None);
    assert_eq!(cleared.version, 3);
    let same = fx
        .service
        .update_user(
            &fx.admin,
            user.id,
            UpdateUser {
                city: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(same.version, 3, "a no-op update changes nothing");

    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, user.id, 0, 10)
        .await
        .unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::UserUpdated,
            AuditAction::UserUpdated,
            AuditAction::UserGrantsChanged,
            AuditAction::UserCreated
        ]
    );
    assert_eq!(events[0].changes["city"].old, serde_json::json!("Helsinki"));
    assert_eq!(events[0].changes["city"].new, serde_json::Value::Null);
}

/// A stale `expected_version` is refused and nothing changes.
pub async fn update_with_stale_version_changes_nothing(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx.create("Ken", "ken@x.test").await;
    let first = UpdateUser {
        name: Some("Ken T".into()),
        expected_version: Some(1),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, user.id, first)
        .await
        .unwrap();
    let stale = UpdateUser {
        name: Some("Ken Stale".into()),
        expected_version: Some(1),
        ..Default::default()
    };
    match fx.service.update_user(&fx.admin, user.id, stale).await {
        Err(Error::VersionConflict {
            expected: 1,
            current: 2,
        }) => {}
        other => panic!("expected a version conflict, got {other:?}"),
    }
    assert_eq!(
        fx.service.get_user(&fx.admin, user.id).await.unwrap().name,
        "Ken T"
    );
}

/// Admins edit email, phone, username and password directly; the audit names the admin
/// and redacts the password; the new password works, the old hash is gone.
pub async fn update_credentials_directly_and_audits(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx.create("Barbara", "barbara@x.test").await;
    assert!(!user.has_password);
    let patch = UpdateUser {
        email: Some(Some("Liskov@MIT.test".into())),
        phone: Some(Some("+16175550100".into())),
        username: Some(Some("liskov".into())),
        password: Some(Some(Password::new("substitution-principle"))),
        ..Default::default()
    };
    let updated = fx
        .service
        .update_user(&fx.admin, user.id, patch)
        .await
        .unwrap();
    assert_eq!(updated.email.as_deref(), Some("liskov@mit.test"));
    assert_eq!(updated.username.as_deref(), Some("liskov"));
    assert!(updated.has_password);
    let found = fx
        .store
        .storage
        .find_user(&fx.tenant, &Identifier::Username("liskov".into()))
        .await
        .unwrap();
    assert_eq!(found.map(|u| u.id), Some(user.id));

    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, user.id, 0, 10)
        .await
        .unwrap();
    let event = &events[0];
    assert_eq!(event.action, AuditAction::CredentialsChanged);
    assert_eq!(event.actor, AuditActor::User(fx.admin_id));
    let fields: Vec<&str> = event.changes.keys().map(String::as_str).collect();
    assert_eq!(fields, ["email", "password", "phone", "username"]);
    assert_eq!(event.changes["password"].old, serde_json::Value::Null);
    assert_eq!(
        event.changes["password"].new,
        serde_json::json!("[redacted]")
    );
    assert!(!serde_json::to_string(&events).unwrap().contains("argon2"));

    let short = UpdateUser {
        password: Some(Some(Password::new("123"))),
        ..Default::default()
    };
    let err = fx
        .service
        .update_user(&fx.admin, user.id, short)
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["password"]);
    let removed = fx
        .service
        .update_user(
            &fx.admin,
            user.id,
            UpdateUser {
                password: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!removed.has_password);
}

/// Status changes, soft delete through status, reactivation clears `deleted_at`.
pub async fn update_status_and_reactivate(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx.create("Status", "status@x.test").await;
    for status in [
        Status::Suspended,
        Status::Inactive,
        Status::PendingVerification,
        Status::Deleted,
        Status::Active,
    ] {
        let patch = UpdateUser {
            status: Some(status),
            ..Default::default()
        };
        let updated = fx
            .service
            .update_user(&fx.admin, user.id, patch)
            .await
            .unwrap();
        assert_eq!(updated.status, status);
        assert_eq!(updated.deleted_at.is_some(), status == Status::Deleted);
    }
    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, user.id, 0, 10)
        .await
        .unwrap();
    assert_eq!(events[0].action, AuditAction::StatusChanged);
    assert_eq!(events[1].action, AuditAction::UserDeleted);
    assert_eq!(
        events[0].changes["status"].old,
        serde_json::json!("deleted")
    );
}

/// An update that breaks a rule or takes a used value changes nothing.
pub async fn update_validation_changes_nothing(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx.create("Valid", "valid@x.test").await;
    fx.create("Other", "other@x.test").await;
    let no_contact = UpdateUser {
        email: Some(None),
        name: Some("Renamed".into()),
        ..Default::default()
    };
    let err = fx
        .service
        .update_user(&fx.admin, user.id, no_contact)
        .await
        .unwrap_err();
    assert!(invalid_fields(&err).contains(&"email".to_owned()));
    let no_type = UpdateUser {
        is_learner: Some(false),
        ..Default::default()
    };
    assert!(
        invalid_fields(
            &fx.service
                .update_user(&fx.admin, user.id, no_type)
                .await
                .unwrap_err()
        )
        .contains(&"is_learner".to_owned())
    );
    let taken = UpdateUser {
        email: Some(Some("OTHER@x.test".into())),
        ..Default::default()
    };
    assert!(
        matches!(fx.service.update_user(&fx.admin, user.id, taken).await, Err(Error::Conflict { fields }) if fields == ["email"])
    );
    let unknown_role = UpdateUser {
        roles: Some(vec!["nope".into()]),
        ..Default::default()
    };
    assert!(
        invalid_fields(
            &fx.service
                .update_user(&fx.admin, user.id, unknown_role)
                .await
                .unwrap_err()
        )
        .contains(&"roles".to_owned())
    );
    let missing = fx
        .service
        .update_user(&fx.admin, uuid::Uuid::now_v7(), UpdateUser::default())
        .await;
    assert!(matches!(missing, Err(Error::NotFound("user"))));
    assert_eq!(fx.service.get_user(&fx.admin, user.id).await.unwrap(), user);
}

/// Delete keeps the data, hides the user, and is undone by reactivation; never yourself.
pub async fn delete_is_soft_and_reversible(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx.create("Gone", "gone@x.test").await;
    let deleted = fx.service.delete_user(&fx.admin, user.id).await.unwrap();
    assert_eq!(deleted.status, Status::Deleted);
    assert_eq!(deleted.deleted_at, Some(fx.clock_now()));
    assert_eq!(deleted.email, user.email, "data preserved");
    assert_eq!(
        fx.service
            .list_users(&fx.admin, ListQuery::default())
            .await
            .unwrap()
            .total,
        Some(1)
    );
    let again = fx.service.delete_user(&fx.admin, user.id).await.unwrap();
    assert_eq!(again.version, deleted.version, "deleting twice is a no-op");
    let back = UpdateUser {
        status: Some(Status::Active),
        ..Default::default()
    };
    let restored = fx
        .service
        .update_user(&fx.admin, user.id, back)
        .await
        .unwrap();
    assert_eq!(restored.deleted_at, None);
    assert_eq!(
        fx.service
            .list_users(&fx.admin, ListQuery::default())
            .await
            .unwrap()
            .total,
        Some(2)
    );
    let err = fx
        .service
        .delete_user(&fx.admin, fx.admin_id)
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["user_id"]);
    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, user.id, 0, 10)
        .await
        .unwrap();
    assert_eq!(events[1].action, AuditAction::UserDeleted);
}

/// Bulk delete by ids: counts, reports unknown ids, never the actor, audits each user.
pub async fn bulk_delete_by_ids(store: TestStore) {
    let fx = Fixture::new(store).await;
    let a = fx.create("A", "a@bulk.test").await;
    let b = fx.create("B", "b@bulk.test").await;
    let keep = fx.create("Keep", "keep@bulk.test").await;
    let ghost = uuid::Uuid::now_v7();
    let request = BulkDeleteRequest::UserIds(vec![a.id, b.id, fx.admin_id, ghost, a.id]);
    let outcome = fx.service.bulk_delete(&fx.admin, request).await.unwrap();
    assert_eq!(outcome.deleted, 2);
    assert_eq!(outcome.not_found, [ghost]);
    assert!(outcome.skipped_self);
    for id in [a.id, b.id] {
        assert_eq!(
            fx.service.get_user(&fx.admin, id).await.unwrap().status,
            Status::Deleted
        );
        let (events, _) = fx
            .store
            .storage
            .list_audit(&fx.tenant, id, 0, 10)
            .await
            .unwrap();
        assert_eq!(events[0].action, AuditAction::UserBulkDeleted);
        assert_eq!(events[0].target_id, id);
    }
    assert_eq!(
        fx.service
            .get_user(&fx.admin, keep.id)
            .await
            .unwrap()
            .status,
        Status::Active
    );
    assert_eq!(
        fx.service
            .get_user(&fx.admin, fx.admin_id)
            .await
            .unwrap()
            .status,
        Status::Active
    );
    let empty = fx
        .service
        .bulk_delete(&fx.admin, BulkDeleteRequest::UserIds(vec![]))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&empty), ["user_ids"]);
}

/// Bulk delete by filter: refuses an empty filter, deletes exactly the matches, spares the
/// actor and users more powerful than the actor.
pub async fn bulk_delete_by_filter(store: TestStore) {
    let fx = Fixture::new(store).await;
    for i in 0..5 {
        let mut input = Fixture::learner(&format!("Berliner {i}"), &format!("b{i}@bulk.test"));
        input.city = Some("Berlin".into());
        fx.service.create_user(&fx.admin, input).await.unwrap();
    }
    let paris = fx.create("Parisienne", "p@bulk.test").await;
    let err = fx
        .service
        .bulk_delete(&fx.admin, BulkDeleteRequest::Filters(Box::default()))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&err), ["filters"]);
    let bad = UserFilters {
        country: vec!["ZZ".into()],
        ..Default::default()
    };
    assert!(
        fx.service
            .bulk_delete(&fx.admin, BulkDeleteRequest::Filters(Box::new(bad)))
            .await
            .is_err()
    );
    assert_eq!(fx.count_users().await, 7, "failed requests delete nothing");

    let (deleter, deleter_user) = fx
        .principal_with("deleter", &[usermgmt_core::model::Permission::USER_DELETE])
        .await;
    let everyone_here = UserFilters {
        search: Some("bulk.test".into()),
        ..Default::default()
    };
    let mut admin_city = Fixture::learner("Boss", "boss@bulk.test");
    admin_city.roles = vec!["super_admin".into()];
    admin_city.is_admin = true;
    let boss = fx.service.create_user(&fx.admin, admin_city).await.unwrap();
    let outcome = fx
        .service
        .bulk_delete(
            &deleter,
            BulkDeleteRequest::Filters(Box::new(everyone_here)),
        )
        .await
        .unwrap();
    assert_eq!(outcome.deleted, 6);
    assert_eq!(
        outcome.skipped_protected, 1,
        "the super-admin outranks the deleter"
    );
    assert_eq!(
        fx.service
            .get_user(&fx.admin, paris.id)
            .await
            .unwrap()
            .status,
        Status::Deleted
    );
    assert_eq!(
        fx.service
            .get_user(&fx.admin, boss.id)
            .await
            .unwrap()
            .status,
        Status::Active
    );
    let berlin = UserFilters {
        city: vec!["berlin".into()],
        ..Default::default()
    };
    let outcome = fx
        .service
        .bulk_delete(&fx.admin, BulkDeleteRequest::Filters(Box::new(berlin)))
        .await
        .unwrap();
    assert_eq!(
        outcome.deleted, 0,
        "already deleted users are not counted again"
    );
    assert_eq!(
        fx.service
            .get_user(&fx.admin, deleter_user.id)
            .await
            .unwrap()
            .status,
        Status::Active
    );
}

/// Two concurrent edits based on the same version: exactly one wins, the other gets the
/// version conflict and its change is not applied.
pub async fn concurrent_edits_at_same_version_one_wins(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx.create("Racer", "racer@x.test").await;
    let edit = |name: &str| {
        let service = fx.service.clone();
        let admin = fx.admin.clone();
        let patch = UpdateUser {
            name: Some(name.into()),
            expected_version: Some(1),
            ..Default::default()
        };
        tokio::spawn(async move { service.update_user(&admin, user.id, patch).await })
    };
    let (a, b) = (edit("Left"), edit("Right"));
    let results = [a.await.unwrap(), b.await.unwrap()];
    let winners: Vec<&str> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results.iter().any(|r| matches!(
        r,
        Err(Error::VersionConflict {
            expected: 1,
            current: 2
        })
    )));
    let stored = fx.service.get_user(&fx.admin, user.id).await.unwrap();
    assert_eq!((stored.name.as_str(), stored.version), (winners[0], 2));
}

/// Concurrent creations with the same email: exactly one user exists afterwards.
pub async fn concurrent_creates_with_same_email_one_wins(store: TestStore) {
    let fx = Fixture::new(store).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let service = fx.service.clone();
            let admin = fx.admin.clone();
            tokio::spawn(async move {
                service
                    .create_user(
                        &admin,
                        Fixture::learner(&format!("Twin {i}"), "twin@x.test"),
                    )
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(Error::Conflict { fields }) => assert_eq!(fields, ["email"]),
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(fx.count_users().await, 2);
}

/// A batch insert stores every user or, when one of them conflicts, none.
pub async fn batch_insert_is_all_or_nothing(store: TestStore) {
    let fx = Fixture::new(store).await;
    let now = fx.clock_now();
    let users = crate::dataset::users(5, &fx.tenant, 6, now)
        .into_iter()
        .map(|mut new| {
            new.user.roles.clear();
            new
        });
    let mut batch = crate::dataset::with_events(&fx.tenant, users, now);
    batch[4].0.user.email = Some("admin@t1.test".into());
    batch[4].0.user.phone = None;
    let before = fx.count_users().await;
    assert!(
        matches!(fx.store.storage.insert_users(&fx.tenant, batch.clone()).await, Err(Error::Conflict { fields }) if fields == ["email"])
    );
    assert_eq!(fx.count_users().await, before, "nothing stored");
    batch.remove(4);
    assert_eq!(
        fx.store
            .storage
            .insert_users(&fx.tenant, batch)
            .await
            .unwrap(),
        5
    );
    assert_eq!(fx.count_users().await, before + 5);
}

/// A batch insert stores every field as given: grants, expertise, OAuth links, password, and
/// text with tabs, newlines, backslashes and non-Latin scripts.
pub async fn batch_insert_round_trips_every_field(store: TestStore) {
    let fx = Fixture::new(store).await;
    let now = fx.clock_now();
    let storage = &fx.store.storage;
    for role in crate::dataset::roles(&fx.tenant, now) {
        let event = crate::dataset::seed_event(&fx.tenant, role.id, AuditTargetKind::Role, now);
        storage.insert_role(&fx.tenant, &role, event).await.unwrap();
    }
    let mut batch: Vec<_> = crate::dataset::users(11, &fx.tenant, 40, now)
        .into_iter()
        .map(|new| {
            let event =
                crate::dataset::seed_event(&fx.tenant, new.user.id, AuditTargetKind::User, now);
            (new, event)
        })
        .collect();
    batch[0].0.user.name = "Tab\there \\ back\nnew\rline 李 \\N".into();
    batch[0].0.user.profile.bio = Some("line one\nline two\twith tab \\".into());
    batch[0].0.user.refresh_derived();
    assert_eq!(
        storage
            .insert_users(&fx.tenant, batch.clone())
            .await
            .unwrap(),
        40
    );
    for (new, _) in &batch {
        let stored = storage
            .get_user(&fx.tenant, new.user.id)
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(stored, new.user, "{}", new.user.name);
    }
    let with_password = batch
        .iter()
        .find(|(n, _)| n.password_hash.is_some() && n.user.email.is_some())
        .unwrap();
    let login = storage
        .find_user(
            &fx.tenant,
            &Identifier::Email(with_password.0.user.email.clone().unwrap()),
        )
        .await
        .unwrap();
    assert!(login.is_some_and(|u| u.has_password));
}
