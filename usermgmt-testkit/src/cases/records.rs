//! The per-user audit log, administrator notes and unique IDs.

use std::collections::HashSet;

use usermgmt_core::Error;
use usermgmt_core::model::{AuditAction, AuditActor};
use usermgmt_core::service::{SetUniqueId, UpdateUser};

use super::common::invalid_fields;
use crate::fixture::Fixture;
use crate::store::TestStore;

/// The audit log is newest first, paginated, names the actor and hides secrets.
pub async fn audit_log_pages_newest_first(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx.create("Audited", "audited@x.test").await;
    for name in ["One", "Two", "Three"] {
        fx.service
            .update_user(
                &fx.admin,
                user.id,
                UpdateUser {
                    name: Some(name.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let secret = UpdateUser {
        password: Some(Some(usermgmt_core::password::Password::new(
            "super-secret-pw",
        ))),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, user.id, secret)
        .await
        .unwrap();
    let first = fx
        .service
        .audit_log(&fx.admin, user.id, 1, 2)
        .await
        .unwrap();
    assert_eq!(first.total, Some(5));
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.items[0].action, AuditAction::CredentialsChanged);
    assert_eq!(
        first.items[1].changes["name"].new,
        serde_json::json!("Three")
    );
    let last = fx
        .service
        .audit_log(&fx.admin, user.id, 3, 2)
        .await
        .unwrap();
    assert_eq!(
        last.items.iter().map(|e| e.action).collect::<Vec<_>>(),
        [AuditAction::UserCreated]
    );
    assert!(
        first
            .items
            .iter()
            .chain(&last.items)
            .all(|e| e.actor == AuditActor::User(fx.admin_id))
    );
    let text = serde_json::to_string(
        &fx.service
            .audit_log(&fx.admin, user.id, 1, 50)
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(!text.contains("super-secret-pw") && !text.contains("$argon2"));
    assert_eq!(
        invalid_fields(
            &fx.service
                .audit_log(&fx.admin, user.id, 0, 10)
                .await
                .unwrap_err()
        ),
        ["page"]
    );
    assert_eq!(
        invalid_fields(
            &fx.service
                .audit_log(&fx.admin, user.id, 1, 0)
                .await
                .unwrap_err()
        ),
        ["page_size"]
    );
    assert!(matches!(
        fx.service
            .audit_log(&fx.admin, uuid::Uuid::now_v7(), 1, 10)
            .await,
        Err(Error::NotFound("user"))
    ));
}

/// Notes are created (validated), listed newest first, deleted, and every change audited.
pub async fn notes_are_kept_and_audited(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx.create("Noted", "noted@x.test").await;
    assert_eq!(
        invalid_fields(
            &fx.service
                .create_note(&fx.admin, user.id, "   ")
                .await
                .unwrap_err()
        ),
        ["body"]
    );
    let long = "x".repeat(usermgmt_core::service::MAX_NOTE_LEN + 1);
    assert_eq!(
        invalid_fields(
            &fx.service
                .create_note(&fx.admin, user.id, &long)
                .await
                .unwrap_err()
        ),
        ["body"]
    );
    let first = fx
        .service
        .create_note(&fx.admin, user.id, "Called about billing")
        .await
        .unwrap();
    fx.clock.advance(chrono::Duration::seconds(1));
    let second = fx
        .service
        .create_note(&fx.admin, user.id, " Refund approved ")
        .await
        .unwrap();
    assert_eq!(second.body, "Refund approved");
    assert_eq!(second.author, AuditActor::User(fx.admin_id));
    let listed: Vec<_> = fx
        .service
        .list_notes(&fx.admin, user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(listed, [second.id, first.id]);
    fx.service
        .delete_note(&fx.admin, user.id, first.id)
        .await
        .unwrap();
    assert!(matches!(
        fx.service.delete_note(&fx.admin, user.id, first.id).await,
        Err(Error::NotFound("note"))
    ));
    let other = fx.create("Other", "other@x.test").await;
    assert!(matches!(
        fx.service.delete_note(&fx.admin, other.id, second.id).await,
        Err(Error::NotFound("note"))
    ));
    assert_eq!(
        fx.service
            .list_notes(&fx.admin, user.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        fx.service
            .create_note(&fx.admin, uuid::Uuid::now_v7(), "x")
            .await,
        Err(Error::NotFound("user"))
    ));
    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, user.id, 0, 3)
        .await
        .unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::NoteDeleted,
            AuditAction::NoteCreated,
            AuditAction::NoteCreated
        ]
    );
    assert_eq!(
        events[0].changes["note"].old["body"],
        serde_json::json!("Called about billing")
    );
}

/// Unique IDs are set (validated, unique ignoring case) or generated from the pattern,
/// skipping values already taken.
pub async fn unique_ids_set_or_generated(store: TestStore) {
    let fx = Fixture::new(store).await;
    let a = fx.create("A", "a@x.test").await;
    let b = fx.create("B", "b@x.test").await;
    let set = |value: &str| SetUniqueId {
        unique_id: Some(value.into()),
        generate: false,
    };
    assert_eq!(
        fx.service
            .set_unique_id(&fx.admin, a.id, set("EMP-7"))
            .await
            .unwrap()
            .unique_id
            .as_deref(),
        Some("EMP-7")
    );
    assert!(
        matches!(fx.service.set_unique_id(&fx.admin, b.id, set("emp-7")).await, Err(Error::Conflict { fields }) if fields == ["unique_id"])
    );
    assert_eq!(
        invalid_fields(
            &fx.service
                .set_unique_id(&fx.admin, b.id, set("bad id!"))
                .await
                .unwrap_err()
        ),
        ["unique_id"]
    );
    let neither = SetUniqueId::default();
    assert_eq!(
        invalid_fields(
            &fx.service
                .set_unique_id(&fx.admin, b.id, neither)
                .await
                .unwrap_err()
        ),
        ["unique_id"]
    );
    let both = SetUniqueId {
        unique_id: Some("X-1".into()),
        generate: true,
    };
    assert_eq!(
        invalid_fields(
            &fx.service
                .set_unique_id(&fx.admin, b.id, both)
                .await
                .unwrap_err()
        ),
        ["unique_id"]
    );

    let generate = SetUniqueId {
        unique_id: None,
        generate: true,
    };
    let year = fx.clock_today().format("%Y").to_string();
    let generated = fx
        .service
        .set_unique_id(&fx.admin, b.id, generate.clone())
        .await
        .unwrap();
    assert_eq!(generated.unique_id, Some(format!("ID-{year}-000001")));
    // Someone takes the next value by hand: generation skips it.
    fx.service
        .set_unique_id(&fx.admin, a.id, set(&format!("ID-{year}-000002")))
        .await
        .unwrap();
    let c = fx.create("C", "c@x.test").await;
    let generated = fx
        .service
        .set_unique_id(&fx.admin, c.id, generate.clone())
        .await
        .unwrap();
    assert_eq!(generated.unique_id, Some(format!("ID-{year}-000003")));
    assert!(matches!(
        fx.service
            .set_unique_id(&fx.admin, uuid::Uuid::now_v7(), generate)
            .await,
        Err(Error::NotFound("user"))
    ));
    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, c.id, 0, 1)
        .await
        .unwrap();
    assert_eq!(
        events[0].changes["unique_id"].new,
        serde_json::json!(format!("ID-{year}-000003"))
    );
}

/// Generating unique IDs for many users at once never hands out a value twice.
pub async fn parallel_unique_id_generation_never_repeats(store: TestStore) {
    let fx = Fixture::new(store).await;
    let mut users = Vec::new();
    for i in 0..12 {
        users.push(fx.create(&format!("P{i}"), &format!("p{i}@x.test")).await);
    }
    let tasks: Vec<_> = users
        .iter()
        .map(|user| {
            let (service, admin, id) = (fx.service.clone(), fx.admin.clone(), user.id);
            tokio::spawn(async move {
                service
                    .set_unique_id(
                        &admin,
                        id,
                        SetUniqueId {
                            unique_id: None,
                            generate: true,
                        },
                    )
                    .await
            })
        })
        .collect();
    let mut values = HashSet::new();
    for task in tasks {
        let user = task.await.unwrap().unwrap();
        assert!(
            values.insert(user.unique_id.unwrap()),
            "a value was handed out twice"
        );
    }
    assert_eq!(values.len(), 12);
}

/// Provider accounts link once per tenant, show in the OAuth filters, and the last way to
/// sign in cannot be unlinked.
pub async fn oauth_link_and_unlink(store: TestStore) {
    use usermgmt_core::filter::{ListQuery, UserFilters};
    use usermgmt_core::model::OAuthProvider::{Github, Google};
    use usermgmt_core::service::LinkOAuth;

    let fx = Fixture::new(store).await;
    let user = fx.create("Linked", "linked@x.test").await;
    let other = fx.create("Other", "other@x.test").await;
    let link = |provider, id: &str| LinkOAuth {
        provider,
        provider_user_id: id.into(),
    };
    let linked = fx
        .service
        .link_oauth(&fx.admin, user.id, link(Google, "g-123"))
        .await
        .unwrap();
    assert_eq!(linked.oauth_providers, [Google]);
    assert_eq!(linked.version, user.version + 1);
    assert!(
        matches!(fx.service.link_oauth(&fx.admin, other.id, link(Google, "g-123")).await,
        Err(Error::Conflict { fields }) if fields == ["provider_user_id"])
    );
    assert!(
        matches!(fx.service.link_oauth(&fx.admin, user.id, link(Google, "g-456")).await,
        Err(Error::Conflict { fields }) if fields == ["provider"])
    );
    assert_eq!(
        invalid_fields(
            &fx.service
                .link_oauth(&fx.admin, user.id, link(Github, " "))
                .await
                .unwrap_err()
        ),
        ["provider_user_id"]
    );

    let filtered = |filters: UserFilters| {
        let (service, admin) = (fx.service.clone(), fx.admin.clone());
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
            page.items.into_iter().map(|u| u.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        filtered(UserFilters {
            has_oauth: Some(true),
            ..Default::default()
        })
        .await,
        [user.id]
    );
    assert_eq!(
        filtered(UserFilters {
            oauth_provider: vec![Google],
            ..Default::default()
        })
        .await,
        [user.id]
    );
    assert!(
        filtered(UserFilters {
            oauth_provider: vec![Github],
            ..Default::default()
        })
        .await
        .is_empty()
    );

    let err = fx
        .service
        .unlink_oauth(&fx.admin, user.id, Google)
        .await
        .unwrap_err();
    assert_eq!(
        invalid_fields(&err),
        ["provider"],
        "no password and no other provider"
    );
    fx.service
        .link_oauth(&fx.admin, user.id, link(Github, "gh-9"))
        .await
        .unwrap();
    let unlinked = fx
        .service
        .unlink_oauth(&fx.admin, user.id, Google)
        .await
        .unwrap();
    assert_eq!(unlinked.oauth_providers, [Github]);
    assert!(matches!(
        fx.service.unlink_oauth(&fx.admin, user.id, Google).await,
        Err(Error::NotFound("oauth link"))
    ));
    let with_password = UpdateUser {
        password: Some(Some(usermgmt_core::password::Password::new("a password!"))),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, user.id, with_password)
        .await
        .unwrap();
    let last = fx
        .service
        .unlink_oauth(&fx.admin, user.id, Github)
        .await
        .unwrap();
    assert!(
        last.oauth_providers.is_empty(),
        "a password remains as a way in"
    );
    // The same provider account is free again, and in another tenant anyway.
    fx.service
        .link_oauth(&fx.admin, other.id, link(Github, "gh-9"))
        .await
        .unwrap();
    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, user.id, 0, 10)
        .await
        .unwrap();
    assert_eq!(events[0].action, AuditAction::OAuthUnlinked);
    assert_eq!(
        events[0].changes["oauth_provider"].old,
        serde_json::json!("github")
    );
}
