//! Regression cases for the defects an adversarial review found (issue 14): each failed
//! before its fix.

use chrono::NaiveDate;
use usermgmt_core::Error;
use usermgmt_core::filter::{ListQuery, UserFilters};
use usermgmt_core::model::{
    AuditAction, GrowthInterval, ImpersonationMode, Permission, SUPER_ADMIN_ROLE, Status,
};
use usermgmt_core::password::Password;
use usermgmt_core::service::{BulkDeleteRequest, CreateUser, ImpersonateRequest, UpdateUser};

use super::common::invalid_fields;
use crate::fixture::{Fixture, PASSWORD};
use crate::store::TestStore;

async fn count_active(fx: &Fixture) -> u64 {
    fx.service
        .list_users(&fx.admin, ListQuery::default())
        .await
        .unwrap()
        .total
        .unwrap_or_default()
}

/// A bulk delete whose filters normalise to nothing, or select every user of the tenant, is
/// refused (400) and deletes nobody.
pub async fn bulk_delete_refuses_filters_selecting_everyone(store: TestStore) {
    let fx = Fixture::new(store).await;
    for i in 0..4 {
        fx.create(&format!("User {i}"), &format!("u{i}@x.test"))
            .await;
    }
    let before = count_active(&fx).await;
    let everyone = [
        UserFilters {
            search: Some("   ".into()),
            ..Default::default()
        },
        UserFilters {
            statuses: vec![
                Status::Active,
                Status::PendingVerification,
                Status::Inactive,
                Status::Suspended,
            ],
            ..Default::default()
        },
        UserFilters {
            failed_login_attempts_min: Some(0),
            ..Default::default()
        },
        UserFilters {
            city: vec![],
            roles: vec![],
            ..Default::default()
        },
        // Everyone but the actor, who is never deleted anyway.
        UserFilters {
            is_admin: Some(false),
            ..Default::default()
        },
    ];
    for filters in everyone {
        let err = fx
            .service
            .bulk_delete(
                &fx.admin,
                BulkDeleteRequest::Filters(Box::new(filters.clone())),
            )
            .await
            .expect_err("a filter selecting everyone must be refused");
        assert_eq!(invalid_fields(&err), ["filters"], "{filters:?}: {err}");
    }
    assert_eq!(count_active(&fx).await, before);
    // A narrowing filter still works.
    let outcome = fx
        .service
        .bulk_delete(
            &fx.admin,
            BulkDeleteRequest::Filters(Box::new(UserFilters {
                search: Some(" u1@ ".into()),
                ..Default::default()
            })),
        )
        .await
        .unwrap();
    assert_eq!(outcome.deleted, 1);
}

/// Bulk-delete audit events record the status each user had.
pub async fn bulk_delete_audits_the_old_status(store: TestStore) {
    let fx = Fixture::new(store).await;
    let ada = fx.create("Ada", "ada@x.test").await;
    let bob = fx.create("Bob", "bob@x.test").await;
    fx.service
        .update_user(
            &fx.admin,
            bob.id,
            UpdateUser {
                status: Some(Status::Suspended),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    fx.service
        .bulk_delete(&fx.admin, BulkDeleteRequest::UserIds(vec![ada.id, bob.id]))
        .await
        .unwrap();
    for (user, old) in [(ada.id, "active"), (bob.id, "suspended")] {
        let log = fx.service.audit_log(&fx.admin, user, 1, 50).await.unwrap();
        let event = log
            .items
            .iter()
            .find(|e| e.action == AuditAction::UserBulkDeleted)
            .expect("bulk delete audited");
        let status = &event.changes["status"];
        assert_eq!(status.old, serde_json::json!(old));
        assert_eq!(status.new, serde_json::json!("deleted"));
    }
}

/// An impersonation or masquerade session dies with its impersonator: suspended, deleted,
/// logged out, stripped of `user.impersonate`, or no longer outranking the target.
pub async fn impersonation_dies_with_its_impersonator(store: TestStore) {
    let fx = Fixture::new(store).await;
    let target = fx.create("Target", "target@x.test").await;
    let password = Some(Password::new(PASSWORD));
    let helper_role = fx
        .service
        .create_role(
            &fx.admin,
            usermgmt_core::service::CreateRole {
                name: "helper".into(),
                description: None,
                permissions: vec![
                    Permission::USER_VIEW,
                    Permission::USER_LIST,
                    Permission::USER_UPDATE,
                    Permission::USER_IMPERSONATE,
                ],
            },
        )
        .await
        .unwrap();
    let viewer_role = fx
        .service
        .create_role(
            &fx.admin,
            usermgmt_core::service::CreateRole {
                name: "viewer".into(),
                description: None,
                permissions: vec![
                    Permission::USER_VIEW,
                    Permission::USER_LIST,
                    Permission::USER_UPDATE,
                ],
            },
        )
        .await
        .unwrap();
    let mut n = 0;
    let mut new_helper = async || {
        n += 1;
        let email = format!("helper{n}@x.test");
        let input = CreateUser {
            name: format!("Helper {n}"),
            email: Some(email.clone()),
            password: password.clone(),
            is_admin: true,
            roles: vec![helper_role.name.clone()],
            ..Default::default()
        };
        let helper = fx.service.create_user(&fx.admin, input).await.unwrap();
        let own = fx.login(&email, PASSWORD).await.unwrap();
        let (principal, _) = fx.service.authenticate(&own.token).await.unwrap();
        let masquerade = fx
            .service
            .impersonate(
                &principal,
                target.id,
                ImpersonateRequest {
                    mode: ImpersonationMode::Masquerade,
                    reason: "support".into(),
                },
                Fixture::client(),
            )
            .await
            .unwrap();
        assert!(fx.service.authenticate(&masquerade.token).await.is_ok());
        (helper, principal, masquerade.token)
    };
    let dead = async |token| match fx.service.authenticate(token).await {
        Err(Error::Unauthenticated(_)) => {}
        other => panic!("the masquerade still resolves: {other:?}"),
    };
    let set_status = async |id, status| {
        fx.service
            .update_user(
                &fx.admin,
                id,
                UpdateUser {
                    status: Some(status),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    };

    let (helper, _, token) = new_helper().await;
    set_status(helper.id, Status::Suspended).await;
    dead(&token).await;
    // Reactivating the impersonator does not revive the session.
    set_status(helper.id, Status::Active).await;
    dead(&token).await;

    let (helper, _, token) = new_helper().await;
    fx.service.delete_user(&fx.admin, helper.id).await.unwrap();
    dead(&token).await;

    let (_, own, token) = new_helper().await;
    fx.service.logout(&own).await.unwrap();
    dead(&token).await;

    // Another administrator ends the impersonator's session (a stolen token, say).
    let (helper, own, token) = new_helper().await;
    let own_session = match own {
        usermgmt_core::Principal::User {
            session_id: Some(id),
            ..
        } => id,
        other => panic!("no session: {other:?}"),
    };
    // Ending somebody else's impersonation *of* the helper leaves the helper's own
    // impersonations alone.
    let of_helper = fx
        .service
        .impersonate(
            &fx.admin,
            helper.id,
            ImpersonateRequest {
                mode: ImpersonationMode::Masquerade,
                reason: "audit".into(),
            },
            Fixture::client(),
        )
        .await
        .unwrap();
    fx.service
        .terminate_session(&fx.admin, helper.id, of_helper.session.id)
        .await
        .unwrap();
    assert!(fx.service.authenticate(&token).await.is_ok());
    fx.service
        .terminate_session(&fx.admin, helper.id, own_session)
        .await
        .unwrap();
    dead(&token).await;

    let (helper, _, token) = new_helper().await;
    fx.service
        .update_user(
            &fx.admin,
            helper.id,
            UpdateUser {
                roles: Some(vec![viewer_role.name.clone()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    dead(&token).await;

    let (_, _, token) = new_helper().await;
    fx.service
        .update_user(
            &fx.admin,
            target.id,
            UpdateUser {
                permissions: Some(vec![Permission::USER_EXPORT]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    dead(&token).await;
}

/// An admin cannot set their own status to anything but active, and the last super admin
/// cannot lose the super-admin role by any route; the role keeps every permission.
pub async fn the_last_super_admin_is_kept(store: TestStore) {
    let fx = Fixture::new(store).await;
    for status in [
        Status::Deleted,
        Status::Suspended,
        Status::Inactive,
        Status::PendingVerification,
    ] {
        let err = fx
            .service
            .update_user(
                &fx.admin,
                fx.admin_id,
                UpdateUser {
                    status: Some(status),
                    ..Default::default()
                },
            )
            .await
            .expect_err("self status change must be refused");
        assert_eq!(invalid_fields(&err), ["status"], "{status:?}: {err}");
    }
    let editor = fx
        .service
        .create_role(
            &fx.admin,
            usermgmt_core::service::CreateRole {
                name: "editor".into(),
                description: None,
                permissions: vec![Permission::USER_LIST],
            },
        )
        .await
        .unwrap();
    let demote = UpdateUser {
        roles: Some(vec![editor.name.clone()]),
        ..Default::default()
    };
    let err = fx
        .service
        .update_user(&fx.admin, fx.admin_id, demote.clone())
        .await
        .expect_err("the last super admin cannot demote themselves");
    assert_eq!(invalid_fields(&err), ["roles"], "{err}");
    let role = fx
        .service
        .list_roles(&fx.admin)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == SUPER_ADMIN_ROLE)
        .unwrap();
    for change in [
        usermgmt_core::service::UpdateRole {
            permissions: Some(vec![Permission::USER_LIST]),
            ..Default::default()
        },
        usermgmt_core::service::UpdateRole {
            name: Some("root".into()),
            ..Default::default()
        },
    ] {
        let err = fx
            .service
            .update_role(&fx.admin, role.id, change)
            .await
            .expect_err("the super-admin role keeps its name and permissions");
        assert!(!invalid_fields(&err).is_empty(), "{err}");
    }

    // With a second super admin, one may step down, and the other is then the last.
    let second = fx
        .service
        .create_user(
            &fx.admin,
            CreateUser {
                name: "Second".into(),
                email: Some("second@x.test".into()),
                is_admin: true,
                roles: vec![SUPER_ADMIN_ROLE.into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    fx.service
        .update_user(&fx.admin, fx.admin_id, demote)
        .await
        .unwrap();
    let second_principal = usermgmt_core::Principal::user(fx.tenant.clone(), second.id);
    for request in [
        BulkDeleteRequest::UserIds(vec![second.id]),
        BulkDeleteRequest::Filters(Box::new(UserFilters {
            roles: vec![SUPER_ADMIN_ROLE.into()],
            ..Default::default()
        })),
    ] {
        // The acting admin is never deleted; nobody else removes the last one either.
        let outcome = fx
            .service
            .bulk_delete(&second_principal, request)
            .await
            .unwrap();
        assert_eq!(outcome.deleted, 0);
    }
    let err = fx
        .service
        .delete_user(&second_principal, second.id)
        .await
        .expect_err("no self delete");
    assert!(!invalid_fields(&err).is_empty());

    // The configured admin gets the role back at the next bootstrap.
    let again = fx.bootstrap_again().await;
    assert_eq!(again.id, fx.admin_id);
    assert!(
        again.roles.contains(&SUPER_ADMIN_ROLE.to_owned()),
        "{again:?}"
    );
}

/// Lists a request carries are capped (roles, permissions, expertise): a clear field error,
/// not a storage failure; error bodies stay small.
pub async fn request_lists_are_capped(store: TestStore) {
    let fx = Fixture::new(store).await;
    let many: Vec<String> = (0..40_000).map(|i| format!("role-{i}")).collect();
    let input = CreateUser {
        roles: many.clone(),
        ..Fixture::learner("Ada", "ada@x.test")
    };
    let err = fx.service.create_user(&fx.admin, input).await.unwrap_err();
    assert_eq!(invalid_fields(&err), ["roles"], "{}", short(&err));
    assert!(err.to_string().len() < 2_000, "{}", short(&err));
    let ada = fx.create("Ada", "ada@x.test").await;
    for patch in [
        UpdateUser {
            roles: Some(many.clone()),
            ..Default::default()
        },
        UpdateUser {
            expertise: Some(many.clone()),
            ..Default::default()
        },
        UpdateUser {
            permissions: Some(vec![Permission::USER_LIST; 10_000]),
            ..Default::default()
        },
    ] {
        let err = fx
            .service
            .update_user(&fx.admin, ada.id, patch)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Validation(_)), "{}", short(&err));
        assert!(err.to_string().len() < 2_000, "{}", short(&err));
    }
    // 100 unknown role names: every one named would be a long body; it stays bounded.
    let input = CreateUser {
        roles: many[..100].to_vec(),
        ..Fixture::learner("Bob", "bob@x.test")
    };
    let err = fx.service.create_user(&fx.admin, input).await.unwrap_err();
    assert_eq!(invalid_fields(&err), ["roles"]);
    assert!(err.to_string().len() < 2_000, "{}", short(&err));
}

fn short(err: &Error) -> String {
    err.to_string().chars().take(300).collect()
}

/// Growth series refuse dates outside the documented range instead of overflowing.
pub async fn growth_refuses_extreme_dates(store: TestStore) {
    let fx = Fixture::new(store).await;
    let extreme = [
        (NaiveDate::MAX, NaiveDate::MAX),
        (NaiveDate::MIN, NaiveDate::MIN),
        (
            NaiveDate::from_ymd_opt(262_142, 12, 30).unwrap(),
            NaiveDate::from_ymd_opt(262_142, 12, 31).unwrap(),
        ),
        (NaiveDate::MIN, NaiveDate::MAX),
    ];
    for (from, to) in extreme {
        for interval in [
            GrowthInterval::Day,
            GrowthInterval::Week,
            GrowthInterval::Month,
        ] {
            let err = fx
                .service
                .growth(&fx.admin, interval, from, to)
                .await
                .expect_err("out of range");
            assert!(matches!(err, Error::Validation(_)), "{from} {to}: {err}");
        }
    }
}

/// A limited admin cannot add, list or delete notes on a user who outranks them.
pub async fn notes_respect_rank(store: TestStore) {
    let fx = Fixture::new(store).await;
    let note = fx
        .service
        .create_note(&fx.admin, fx.admin_id, "about root")
        .await
        .unwrap();
    let (limited, _) = fx
        .principal_with("limited", &[Permission::USER_VIEW, Permission::USER_UPDATE])
        .await;
    let forbidden = |r: Result<_, Error>| assert!(matches!(r, Err(Error::Forbidden(_))));
    forbidden(
        fx.service
            .create_note(&limited, fx.admin_id, "hi")
            .await
            .map(|_| ()),
    );
    forbidden(
        fx.service
            .list_notes(&limited, fx.admin_id)
            .await
            .map(|_| ()),
    );
    forbidden(fx.service.delete_note(&limited, fx.admin_id, note.id).await);
    // The audit log carries note texts: it needs the same rank.
    forbidden(
        fx.service
            .audit_log(&limited, fx.admin_id, 1, 20)
            .await
            .map(|_| ()),
    );
    assert_eq!(
        fx.service
            .list_notes(&fx.admin, fx.admin_id)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A username that starts with a digit signs in by username.
pub async fn digit_usernames_sign_in(store: TestStore) {
    let fx = Fixture::new(store).await;
    let bond = fx
        .create_with_password("James", "james@x.test", "007bond", "+1 415 555 0007")
        .await;
    let outcome = fx.login("007bond", PASSWORD).await.unwrap();
    assert_eq!(outcome.user.id, bond.id);
    let outcome = fx.login("+1 415 555 0007", PASSWORD).await.unwrap();
    assert_eq!(outcome.user.id, bond.id);
}

/// An unknown identifier is answered exactly like a known one under repeated failures: it
/// locks after the same number of attempts.
pub async fn lockout_does_not_reveal_accounts(store: TestStore) {
    let fx = Fixture::new(store).await;
    fx.create_with_password("Ada", "ada@x.test", "ada", "+1 415 555 2671")
        .await;
    let limit = fx.service.config().login.max_failed_attempts;
    let mut answers = Vec::new();
    for identifier in ["ada@x.test", "nobody@x.test"] {
        let mut codes = Vec::new();
        for _ in 0..limit + 1 {
            codes.push(
                fx.login(identifier, "wrong password")
                    .await
                    .unwrap_err()
                    .code(),
            );
        }
        answers.push(codes);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].last(), Some(&"locked"));
}

/// A locked account opens with the right password from an address its owner signed in from
/// recently, and stays locked for everyone else: strangers cannot lock the owner out.
pub async fn a_known_client_passes_the_lock(store: TestStore) {
    let fx = Fixture::new(store).await;
    let ada = fx
        .create_with_password("Ada", "ada@x.test", "ada", "+1 415 555 2671")
        .await;
    fx.login("ada@x.test", PASSWORD).await.unwrap();
    let limit = fx.service.config().login.max_failed_attempts;
    let stranger = usermgmt_core::service::ClientInfo {
        user_agent: None,
        ip: "198.51.100.66".parse().ok(),
    };
    let attempt = async |password: &str, client: usermgmt_core::service::ClientInfo| {
        let request = usermgmt_core::service::LoginRequest {
            identifier: "ada@x.test".into(),
            password: Password::new(password),
        };
        fx.service.login(&fx.tenant, request, client).await
    };
    for _ in 0..limit {
        attempt("wrong", stranger.clone()).await.unwrap_err();
    }
    let err = attempt(PASSWORD, stranger.clone()).await.unwrap_err();
    assert_eq!(err.code(), "locked");
    let err = attempt("wrong", Fixture::client()).await.unwrap_err();
    assert_eq!(err.code(), "locked");
    let outcome = attempt(PASSWORD, Fixture::client()).await.unwrap();
    assert_eq!(outcome.user.id, ada.id);
    assert_eq!(outcome.user.failed_login_attempts, 0);

    // Failures from the known client count too: past twice the limit the lock holds for it.
    for _ in 0..limit * 2 {
        attempt("wrong", Fixture::client()).await.unwrap_err();
    }
    let err = attempt(PASSWORD, Fixture::client()).await.unwrap_err();
    assert_eq!(err.code(), "locked");
}

/// Bootstrap never promotes an account it did not create as a super admin just because it
/// has the configured email (a user who may create learners could take the tenant).
pub async fn bootstrap_never_promotes_a_stranger(store: TestStore) {
    let fx = Fixture::new(store).await;
    // The configured admin moved to another address; someone registers the old one.
    fx.service
        .update_user(
            &fx.admin,
            fx.admin_id,
            UpdateUser {
                email: Some(Some("root@elsewhere.test".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (recruiter, _) = fx
        .principal_with(
            "recruiter",
            &[Permission::USER_CREATE, Permission::USER_LIST],
        )
        .await;
    let squatter = fx
        .service
        .create_user(&recruiter, Fixture::learner("Squatter", "admin@t1.test"))
        .await
        .unwrap();
    let after = fx.bootstrap_again().await;
    assert_eq!(after.id, squatter.id);
    assert!(after.roles.is_empty(), "{after:?}");
    assert!(!after.is_admin);
}

/// Concurrent removals of super admins, through two service instances over one store, cannot
/// each leave "the other" in place.
pub async fn concurrent_removals_keep_a_super_admin(store: TestStore) {
    let fx = Fixture::new(store).await;
    let mut admins = vec![fx.admin_id];
    for i in 0..4 {
        let input = CreateUser {
            name: format!("Super {i}"),
            email: Some(format!("super{i}@x.test")),
            is_admin: true,
            roles: vec![SUPER_ADMIN_ROLE.into()],
            ..Default::default()
        };
        admins.push(fx.service.create_user(&fx.admin, input).await.unwrap().id);
    }
    // An actor holding every permission directly, without the role.
    let input = CreateUser {
        name: "Everything".into(),
        email: Some("everything@x.test".into()),
        is_learner: true,
        permissions: Fixture::all_permissions().into_iter().collect(),
        ..Default::default()
    };
    let actor = fx.service.create_user(&fx.admin, input).await.unwrap();
    let actor = usermgmt_core::Principal::user(fx.tenant.clone(), actor.id);
    // Two instances of the service over the one store, as two processes over one database.
    let other = usermgmt_core::UserService::with_config(
        fx.store.storage.clone(),
        fx.service.config().clone(),
    );
    let deletes = admins.iter().enumerate().map(|(i, id)| {
        let service = if i % 2 == 0 {
            fx.service.clone()
        } else {
            other.clone()
        };
        let actor = actor.clone();
        let id = *id;
        tokio::spawn(async move { service.delete_user(&actor, id).await })
    });
    let mut deleted = 0;
    for handle in deletes.collect::<Vec<_>>() {
        if handle.await.unwrap().is_ok() {
            deleted += 1;
        }
    }
    assert_eq!(deleted, admins.len() - 1, "exactly one super admin stays");
}

/// A store writes an entity only under the tenant it is given: a role, user, note, event or
/// session of another tenant is refused and nothing is stored in either tenant.
pub async fn records_are_written_only_under_their_tenant(store: TestStore) {
    let fx = Fixture::new(store).await;
    let now = fx.clock_now();
    let other = crate::fixture::tenant("t2");
    let storage = &fx.store.storage;
    let role = crate::dataset::roles(&fx.tenant, now).remove(0);
    let event = crate::dataset::seed_event(
        &fx.tenant,
        role.id,
        usermgmt_core::model::AuditTargetKind::Role,
        now,
    );
    let refused = storage.insert_role(&other, &role, event.clone()).await;
    assert!(matches!(refused, Err(Error::Validation(_))), "{refused:?}");
    let refused = storage.update_role(&other, &role, event.clone()).await;
    assert!(matches!(refused, Err(Error::Validation(_))), "{refused:?}");
    let refused = storage.insert_audit(&other, event).await;
    assert!(matches!(refused, Err(Error::Validation(_))), "{refused:?}");
    assert!(storage.list_roles(&other).await.unwrap().is_empty());
    assert!(
        storage
            .list_roles(&fx.tenant)
            .await
            .unwrap()
            .iter()
            .all(|r| r.id != role.id)
    );
    let batch = crate::dataset::with_events(
        &fx.tenant,
        crate::dataset::users(5, &fx.tenant, 2, now),
        now,
    );
    let before = fx.count_users().await;
    let refused = storage.insert_users(&other, batch.clone()).await;
    assert!(matches!(refused, Err(Error::Validation(_))), "{refused:?}");
    let (new, event) = batch[0].clone();
    let refused = storage.insert_user(&other, new, event).await;
    assert!(matches!(refused, Err(Error::Validation(_))), "{refused:?}");
    assert_eq!(fx.count_users().await, before, "nothing stored");
    assert!(
        storage
            .get_user(&other, batch[0].0.user.id)
            .await
            .unwrap()
            .is_none()
    );
}
