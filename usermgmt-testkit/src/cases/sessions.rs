//! Login, lockout, sessions, logout and impersonation.

use chrono::Duration;
use usermgmt_core::Error;
use usermgmt_core::filter::ListQuery;
use usermgmt_core::model::{
    AuditAction, AuditActor, ImpersonationMode, Permission, SessionToken, Status,
};
use usermgmt_core::password::Password;
use usermgmt_core::service::{BulkDeleteRequest, ImpersonateRequest, UpdateUser};

use super::common::invalid_fields;
use crate::fixture::{Fixture, PASSWORD};
use crate::store::TestStore;

/// Email, phone and username all sign in, ignoring case and phone formatting; the login is
/// recorded and the token resolves to the user.
pub async fn login_with_any_identifier(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Ada", "ada@x.test", "ada.l", "+1 415 555 2671")
        .await;
    for identifier in [
        "ADA@X.TEST",
        " ada@x.test ",
        "+14155552671",
        "+1 (415) 555-2671",
        "Ada.L",
    ] {
        let outcome = fx
            .login(identifier, PASSWORD)
            .await
            .unwrap_or_else(|e| panic!("{identifier}: {e}"));
        assert_eq!(outcome.user.id, user.id);
        assert_eq!(outcome.user.last_login_at, Some(fx.clock_now()));
        assert_eq!(
            outcome.session.user_agent.as_deref(),
            Some("Mozilla/5.0 (X11; Linux x86_64) Testkit")
        );
        assert_eq!(outcome.session.ip, "203.0.113.7".parse().ok());
        assert_eq!(
            outcome.session.expires_at,
            fx.clock_now() + Duration::days(7)
        );
        let (principal, session) = fx.service.authenticate(&outcome.token).await.unwrap();
        assert_eq!(principal.user_id(), Some(user.id));
        assert_eq!(session.id, outcome.session.id);
        assert_eq!(
            fx.service.current_user(&principal).await.unwrap().id,
            user.id
        );
    }
    assert_eq!(
        fx.service
            .list_sessions(&fx.admin, user.id)
            .await
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        fx.service
            .get_user(&fx.admin, user.id)
            .await
            .unwrap()
            .version,
        user.version,
        "logins keep the version"
    );
}

/// Unknown identifiers, wrong passwords, users without a password and deleted users all get
/// the same error; status refusals come only after a correct password.
pub async fn login_refusals(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Bea", "bea@x.test", "bea", "+1 415 555 2672")
        .await;
    let no_password = fx.create("Nopass", "nopass@x.test").await;
    for (identifier, password) in [
        ("ghost@x.test", PASSWORD),
        ("bea@x.test", "wrong password"),
        ("nopass@x.test", PASSWORD),
        ("no such", PASSWORD),
        ("", ""),
    ] {
        assert!(
            matches!(
                fx.login(identifier, password).await,
                Err(Error::InvalidCredentials)
            ),
            "{identifier}"
        );
    }
    let refusals = [
        (Status::PendingVerification, "verification_required"),
        (Status::Inactive, "account_inactive"),
        (Status::Suspended, "account_suspended"),
        (Status::Deleted, "invalid_credentials"),
    ];
    for (status, code) in refusals {
        fx.service
            .update_user(
                &fx.admin,
                user.id,
                UpdateUser {
                    status: Some(status),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let err = fx.login("bea@x.test", PASSWORD).await.unwrap_err();
        assert_eq!(err.code(), code, "{status}");
        assert!(matches!(
            fx.login("bea@x.test", "wrong again").await,
            Err(Error::InvalidCredentials)
        ));
    }
    assert!(!no_password.has_password);
    let bea = fx.service.get_user(&fx.admin, user.id).await.unwrap();
    assert_eq!(
        bea.failed_login_attempts, 4,
        "wrong passwords count whatever the status"
    );
}

/// Five failures lock the account for fifteen minutes (the fifth already answers `Locked`);
/// the lock refuses even the right password; afterwards a correct login resets the count.
pub async fn lockout_after_failed_logins(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Cy", "cy@x.test", "cy1", "+1 415 555 2673")
        .await;
    for attempt in 1..=4 {
        assert!(
            matches!(
                fx.login("cy@x.test", "nope").await,
                Err(Error::InvalidCredentials)
            ),
            "attempt {attempt}"
        );
    }
    let until = fx.clock_now() + Duration::minutes(15);
    assert!(
        matches!(fx.login("cy@x.test", "nope").await, Err(Error::Locked { until: u }) if u == until)
    );
    assert!(
        matches!(
            fx.login("cy@x.test", PASSWORD).await,
            Err(Error::Locked { .. })
        ),
        "locked even with the password"
    );
    let locked = fx.service.get_user(&fx.admin, user.id).await.unwrap();
    assert!(locked.is_locked(fx.clock_now()));
    assert_eq!(locked.failed_login_attempts, 5);
    let filter = usermgmt_core::filter::UserFilters {
        is_locked: Some(true),
        ..Default::default()
    };
    let page = fx
        .service
        .list_users(
            &fx.admin,
            ListQuery {
                filters: filter,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        [user.id]
    );

    fx.clock.advance(Duration::minutes(16));
    assert!(matches!(
        fx.login("cy@x.test", "nope").await,
        Err(Error::InvalidCredentials)
    ));
    assert_eq!(
        fx.service
            .get_user(&fx.admin, user.id)
            .await
            .unwrap()
            .failed_login_attempts,
        1,
        "count restarts"
    );
    let outcome = fx.login("cy@x.test", PASSWORD).await.unwrap();
    assert_eq!(outcome.user.failed_login_attempts, 0);
    assert_eq!(outcome.user.locked_until, None);
}

/// Concurrent wrong passwords are each counted.
pub async fn parallel_failed_logins_all_count(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Dee", "dee@x.test", "dee", "+1 415 555 2674")
        .await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let service = fx.service.clone();
            let tenant = fx.tenant.clone();
            tokio::spawn(async move {
                let request = usermgmt_core::service::LoginRequest {
                    identifier: "dee".into(),
                    password: Password::new("bad"),
                };
                service.login(&tenant, request, Fixture::client()).await
            })
        })
        .collect();
    for task in tasks {
        assert!(matches!(
            task.await.unwrap(),
            Err(Error::InvalidCredentials)
        ));
    }
    assert_eq!(
        fx.service
            .get_user(&fx.admin, user.id)
            .await
            .unwrap()
            .failed_login_attempts,
        4
    );
    assert!(
        matches!(fx.login("dee", "bad").await, Err(Error::Locked { .. })),
        "the fifth locks"
    );
}

/// Sessions are listed newest first; ending one kills its token only; ending all kills the
/// rest; expired and garbage tokens never resolve; logout ends the caller's own session.
pub async fn sessions_list_terminate_expire(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Eve", "eve@x.test", "eve", "+1 415 555 2675")
        .await;
    let first = fx.login("eve", PASSWORD).await.unwrap();
    fx.clock.advance(Duration::seconds(5));
    let second = fx.login("eve", PASSWORD).await.unwrap();
    fx.clock.advance(Duration::seconds(5));
    let third = fx.login("eve", PASSWORD).await.unwrap();
    let listed: Vec<_> = fx
        .service
        .list_sessions(&fx.admin, user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        listed,
        [third.session.id, second.session.id, first.session.id]
    );

    fx.service
        .terminate_session(&fx.admin, user.id, first.session.id)
        .await
        .unwrap();
    assert!(matches!(
        fx.service.authenticate(&first.token).await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(fx.service.authenticate(&second.token).await.is_ok());
    assert!(matches!(
        fx.service
            .terminate_session(&fx.admin, user.id, first.session.id)
            .await,
        Err(Error::NotFound("session"))
    ));
    let (principal, _) = fx.service.authenticate(&third.token).await.unwrap();
    fx.service.logout(&principal).await.unwrap();
    assert!(fx.service.authenticate(&third.token).await.is_err());
    assert_eq!(
        fx.service
            .terminate_all_sessions(&fx.admin, user.id)
            .await
            .unwrap(),
        1
    );
    assert!(fx.service.authenticate(&second.token).await.is_err());
    assert!(
        fx.service
            .list_sessions(&fx.admin, user.id)
            .await
            .unwrap()
            .is_empty()
    );

    let fresh = fx.login("eve", PASSWORD).await.unwrap();
    fx.clock.advance(Duration::days(7));
    assert!(
        fx.service.authenticate(&fresh.token).await.is_err(),
        "expired"
    );
    for garbage in ["", "x", &"a".repeat(500), "' OR 1=1 --"] {
        assert!(
            fx.service
                .authenticate(&SessionToken::from_client(garbage))
                .await
                .is_err()
        );
    }
    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, user.id, 0, 20)
        .await
        .unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).take(3).collect();
    assert_eq!(
        actions,
        [
            AuditAction::SessionsTerminated,
            AuditAction::SessionTerminated,
            AuditAction::SessionTerminated
        ]
    );
    assert_eq!(
        events[1].actor,
        AuditActor::User(user.id),
        "logout is the user's own act"
    );
}

/// `last_seen_at` moves when the token is used (at most once a minute).
pub async fn sessions_record_last_seen(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Fay", "fay@x.test", "fay", "+1 415 555 2676")
        .await;
    let outcome = fx.login("fay", PASSWORD).await.unwrap();
    fx.clock.advance(Duration::seconds(30));
    fx.service.authenticate(&outcome.token).await.unwrap();
    let seen = |fx: &Fixture| {
        let service = fx.service.clone();
        let admin = fx.admin.clone();
        async move { service.list_sessions(&admin, user.id).await.unwrap()[0].last_seen_at }
    };
    assert_eq!(
        seen(&fx).await,
        outcome.session.created_at,
        "within the touch interval"
    );
    fx.clock.advance(Duration::seconds(31));
    fx.service.authenticate(&outcome.token).await.unwrap();
    assert_eq!(seen(&fx).await, fx.clock_now());
}

/// An admin password change ends the user's sessions unless asked not to; suspension,
/// delete and bulk delete end them too.
pub async fn credential_and_status_changes_end_sessions(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Gus", "gus@x.test", "gus", "+1 415 555 2677")
        .await;
    let alive = |token: SessionToken| {
        let service = fx.service.clone();
        async move { service.authenticate(&token).await.is_ok() }
    };
    let session = fx.login("gus", PASSWORD).await.unwrap();
    let keep = UpdateUser {
        password: Some(Some(Password::new("second password"))),
        keep_sessions: true,
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, user.id, keep)
        .await
        .unwrap();
    assert!(alive(session.token.clone()).await, "opted out");
    let change = UpdateUser {
        password: Some(Some(Password::new(PASSWORD))),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, user.id, change)
        .await
        .unwrap();
    assert!(!alive(session.token).await, "password change ends sessions");
    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, user.id, 0, 1)
        .await
        .unwrap();
    assert_eq!(events[0].action, AuditAction::SessionsTerminated);

    let session = fx.login("gus", PASSWORD).await.unwrap();
    let rename = UpdateUser {
        name: Some("Gus B".into()),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, user.id, rename)
        .await
        .unwrap();
    assert!(
        alive(session.token.clone()).await,
        "other edits keep sessions"
    );
    fx.service
        .update_user(
            &fx.admin,
            user.id,
            UpdateUser {
                status: Some(Status::Suspended),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!alive(session.token).await, "suspension ends sessions");
    fx.service
        .update_user(
            &fx.admin,
            user.id,
            UpdateUser {
                status: Some(Status::Active),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let session = fx.login("gus", PASSWORD).await.unwrap();
    fx.service.delete_user(&fx.admin, user.id).await.unwrap();
    assert!(!alive(session.token).await, "delete ends sessions");
    fx.service
        .update_user(
            &fx.admin,
            user.id,
            UpdateUser {
                status: Some(Status::Active),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let session = fx.login("gus", PASSWORD).await.unwrap();
    fx.service
        .bulk_delete(&fx.admin, BulkDeleteRequest::UserIds(vec![user.id]))
        .await
        .unwrap();
    assert!(!alive(session.token).await, "bulk delete ends sessions");
}

fn request(mode: ImpersonationMode) -> ImpersonateRequest {
    ImpersonateRequest {
        mode,
        reason: "ticket #42: cannot see course".into(),
    }
}

/// `impersonate` reads but refuses every change; `masquerade` changes as the user, with the
/// impersonator recorded; start and end are audited.
pub async fn impersonation_modes(store: TestStore) {
    let fx = Fixture::new(store).await;
    let (_, helper) = fx
        .principal_with(
            "helper",
            &[
                Permission::USER_LIST,
                Permission::USER_VIEW,
                Permission::USER_UPDATE,
            ],
        )
        .await;
    let learner = fx.create("Learner", "learner@x.test").await;

    let read_only = fx
        .service
        .impersonate(
            &fx.admin,
            helper.id,
            request(ImpersonationMode::Impersonate),
            Fixture::client(),
        )
        .await
        .unwrap();
    assert_eq!(read_only.session.impersonator_id, Some(fx.admin_id));
    assert_eq!(
        read_only.session.impersonation_reason.as_deref(),
        Some("ticket #42: cannot see course")
    );
    assert_eq!(
        read_only.session.expires_at,
        fx.clock_now() + Duration::hours(1)
    );
    let (as_helper, _) = fx.service.authenticate(&read_only.token).await.unwrap();
    assert!(
        fx.service
            .list_users(&as_helper, ListQuery::default())
            .await
            .is_ok()
    );
    let rename = UpdateUser {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    assert!(matches!(
        fx.service
            .update_user(&as_helper, learner.id, rename.clone())
            .await,
        Err(Error::ReadOnlyImpersonation)
    ));
    assert!(matches!(
        fx.service.create_note(&as_helper, learner.id, "hi").await,
        Err(Error::ReadOnlyImpersonation)
    ));
    fx.service.logout(&as_helper).await.unwrap();

    let full = fx
        .service
        .impersonate(
            &fx.admin,
            helper.id,
            request(ImpersonationMode::Masquerade),
            Fixture::client(),
        )
        .await
        .unwrap();
    let (as_helper, _) = fx.service.authenticate(&full.token).await.unwrap();
    assert!(
        matches!(
            fx.service
                .create_user(&as_helper, Fixture::learner("X", "x@x.test"))
                .await,
            Err(Error::Forbidden(_))
        ),
        "the user's own permissions"
    );
    fx.service
        .update_user(&as_helper, learner.id, rename)
        .await
        .unwrap();
    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, learner.id, 0, 1)
        .await
        .unwrap();
    assert_eq!(events[0].actor, AuditActor::User(helper.id));
    assert_eq!(events[0].impersonator_id, Some(fx.admin_id));

    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, helper.id, 0, 10)
        .await
        .unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).take(3).collect();
    assert_eq!(
        actions,
        [
            AuditAction::ImpersonationStarted,
            AuditAction::ImpersonationEnded,
            AuditAction::ImpersonationStarted
        ]
    );
    assert_eq!(events[0].actor, AuditActor::User(fx.admin_id));
    assert_eq!(
        events[0].changes["mode"].new,
        serde_json::json!("masquerade")
    );
    assert_eq!(
        events[1].impersonator_id,
        Some(fx.admin_id),
        "the end names the impersonator"
    );
}

/// Impersonation needs `user.impersonate`, a reason, an active target holding no permission
/// the actor lacks, another user, and no impersonation already in progress.
pub async fn impersonation_rules(store: TestStore) {
    let fx = Fixture::new(store).await;
    let learner = fx.create("Learner", "learner@x.test").await;
    let (limited, _) = fx
        .principal_with(
            "limited",
            &[Permission::USER_IMPERSONATE, Permission::USER_VIEW],
        )
        .await;
    let (no_right, _) = fx.principal_with("noright", &[Permission::USER_VIEW]).await;
    let mode = ImpersonationMode::Masquerade;
    let client = Fixture::client;
    assert!(matches!(
        fx.service
            .impersonate(&no_right, learner.id, request(mode), client())
            .await,
        Err(Error::Forbidden(p)) if p == Permission::USER_IMPERSONATE
    ));
    assert!(matches!(
        fx.service
            .impersonate(&limited, fx.admin_id, request(mode), client())
            .await,
        Err(Error::Forbidden(_))
    ));
    let self_id = fx.admin_id;
    assert_eq!(
        invalid_fields(
            &fx.service
                .impersonate(&fx.admin, self_id, request(mode), client())
                .await
                .unwrap_err()
        ),
        ["user_id"]
    );
    let no_reason = ImpersonateRequest {
        mode,
        reason: "  ".into(),
    };
    assert_eq!(
        invalid_fields(
            &fx.service
                .impersonate(&fx.admin, learner.id, no_reason, client())
                .await
                .unwrap_err()
        ),
        ["reason"]
    );
    assert!(matches!(
        fx.service
            .impersonate(&fx.admin, uuid::Uuid::now_v7(), request(mode), client())
            .await,
        Err(Error::NotFound("user"))
    ));
    let nested_target = fx.create("Other", "other@x.test").await;
    let (_, helper) = fx
        .principal_with("helper", &[Permission::USER_IMPERSONATE])
        .await;
    let outcome = fx
        .service
        .impersonate(&fx.admin, helper.id, request(mode), client())
        .await
        .unwrap();
    let (as_helper, _) = fx.service.authenticate(&outcome.token).await.unwrap();
    assert_eq!(
        invalid_fields(
            &fx.service
                .impersonate(&as_helper, nested_target.id, request(mode), client())
                .await
                .unwrap_err()
        ),
        ["user_id"]
    );
    fx.service
        .update_user(
            &fx.admin,
            learner.id,
            UpdateUser {
                status: Some(Status::Suspended),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        invalid_fields(
            &fx.service
                .impersonate(&fx.admin, learner.id, request(mode), client())
                .await
                .unwrap_err()
        ),
        ["user_id"]
    );
    let ok = fx
        .service
        .impersonate(
            &limited,
            nested_target.id,
            request(ImpersonationMode::Impersonate),
            client(),
        )
        .await;
    assert!(
        ok.is_ok(),
        "a learner holds nothing the limited admin lacks"
    );
}
