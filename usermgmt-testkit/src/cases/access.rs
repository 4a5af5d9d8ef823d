//! Permission checks on every operation, refused principals, tenant isolation, secrets.

use std::future::Future;
use std::pin::Pin;

use usermgmt_core::filter::{ListQuery, UserFilters};
use usermgmt_core::model::{ImpersonationMode, Permission, Status};
use usermgmt_core::password::Password;
use usermgmt_core::service::{
    BulkDeleteRequest, CreateRole, ExportFormat, ImpersonateRequest, LinkOAuth, SetUniqueId,
    UpdateRole, UpdateUser,
};
use usermgmt_core::{Error, Principal, UserService};
use uuid::Uuid;

use crate::fixture::{Fixture, tenant};
use crate::store::TestStore;

type Call =
    Box<dyn Fn(UserService, Principal) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>>;

/// Whether an operation changes data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

macro_rules! op {
    ($perm:ident, $kind:ident, $name:literal, |$s:ident, $p:ident| $body:expr) => {
        (
            Permission::$perm,
            Kind::$kind,
            $name,
            Box::new(
                move |$s: UserService,
                      $p: Principal|
                      -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> {
                    Box::pin(async move { $body.map(drop) })
                },
            ) as Call,
        )
    };
}

/// One call per operation, with the permission it requires and whether it changes data.
fn operations(target: Uuid, role_id: Uuid) -> Vec<(Permission, Kind, &'static str, Call)> {
    let t = target;
    vec![
        op!(USER_CREATE, Write, "create_user", |s, p| s
            .create_user(&p, Fixture::learner("New", "new@x.test"))
            .await),
        op!(USER_VIEW, Read, "get_user", |s, p| s.get_user(&p, t).await),
        op!(USER_VIEW, Read, "effective_permissions", |s, p| s
            .effective_permissions(&p, t)
            .await),
        op!(USER_LIST, Read, "list_users", |s, p| s
            .list_users(&p, ListQuery::default())
            .await),
        op!(USER_UPDATE, Write, "update_user", |s, p| {
            s.update_user(
                &p,
                t,
                UpdateUser {
                    name: Some("Changed".into()),
                    ..Default::default()
                },
            )
            .await
        }),
        op!(USER_DELETE, Write, "delete_user", |s, p| s
            .delete_user(&p, t)
            .await),
        op!(USER_DELETE, Write, "bulk_delete ids", |s, p| s
            .bulk_delete(&p, BulkDeleteRequest::UserIds(vec![t]))
            .await),
        op!(USER_DELETE, Write, "bulk_delete filter", |s, p| {
            let filters = UserFilters {
                status: Some(Status::Active),
                ..Default::default()
            };
            s.bulk_delete(&p, BulkDeleteRequest::Filters(Box::new(filters)))
                .await
        }),
        op!(ROLE_MANAGE, Read, "list_roles", |s, p| s
            .list_roles(&p)
            .await),
        op!(ROLE_MANAGE, Read, "get_role", |s, p| s
            .get_role(&p, role_id)
            .await),
        op!(ROLE_MANAGE, Read, "permission_catalog", |s, p| s
            .permission_catalog(&p)
            .await),
        op!(ROLE_MANAGE, Write, "create_role", |s, p| {
            s.create_role(
                &p,
                CreateRole {
                    name: "new-role".into(),
                    ..Default::default()
                },
            )
            .await
        }),
        op!(ROLE_MANAGE, Write, "update_role", |s, p| {
            s.update_role(
                &p,
                role_id,
                UpdateRole {
                    name: Some("renamed".into()),
                    ..Default::default()
                },
            )
            .await
        }),
        op!(ROLE_MANAGE, Write, "delete_role", |s, p| s
            .delete_role(&p, role_id)
            .await),
        op!(USER_VIEW, Read, "list_sessions", |s, p| s
            .list_sessions(&p, t)
            .await),
        op!(USER_UPDATE, Write, "terminate_session", |s, p| s
            .terminate_session(&p, t, Uuid::now_v7())
            .await),
        op!(USER_UPDATE, Write, "terminate_all_sessions", |s, p| s
            .terminate_all_sessions(&p, t)
            .await),
        op!(USER_IMPERSONATE, Write, "impersonate", |s, p| {
            let request = ImpersonateRequest {
                mode: ImpersonationMode::Impersonate,
                reason: "support".into(),
            };
            s.impersonate(&p, t, request, Fixture::client()).await
        }),
        op!(USER_VIEW, Read, "audit_log", |s, p| s
            .audit_log(&p, t, 1, 20)
            .await),
        op!(USER_EXPORT, Read, "export", |s, p| s
            .export(&p, UserFilters::default(), ExportFormat::Csv)
            .await),
        op!(USER_LIST, Read, "stats", |s, p| s.stats(&p).await),
        op!(USER_LIST, Read, "stats_filtered", |s, p| {
            s.stats_filtered(
                &p,
                UserFilters {
                    is_learner: Some(true),
                    ..Default::default()
                },
            )
            .await
        }),
        op!(USER_LIST, Read, "overview", |s, p| s
            .overview(&p, usermgmt_core::model::OverviewPeriod::Week)
            .await),
        op!(USER_LIST, Read, "growth", |s, p| {
            let today = chrono::Utc::now().date_naive();
            s.growth(&p, usermgmt_core::model::GrowthInterval::Day, today, today)
                .await
        }),
        op!(USER_LIST, Read, "filter_values", |s, p| s
            .filter_values(&p)
            .await),
        op!(USER_LIST, Read, "field_values", |s, p| s
            .field_values(&p, "city", None, 1, 10)
            .await),
        op!(USER_UPDATE, Write, "link_oauth", |s, p| {
            let link = LinkOAuth {
                provider: usermgmt_core::model::OAuthProvider::Github,
                provider_user_id: "gh".into(),
            };
            s.link_oauth(&p, t, link).await
        }),
        op!(USER_UPDATE, Write, "unlink_oauth", |s, p| s
            .unlink_oauth(&p, t, usermgmt_core::model::OAuthProvider::Apple)
            .await),
        op!(USER_UPDATE, Write, "create_note", |s, p| s
            .create_note(&p, t, "note")
            .await),
        op!(USER_UPDATE, Read, "list_notes", |s, p| s
            .list_notes(&p, t)
            .await),
        op!(USER_UPDATE, Write, "delete_note", |s, p| s
            .delete_note(&p, t, Uuid::now_v7())
            .await),
        op!(USER_UPDATE, Write, "set_unique_id", |s, p| {
            s.set_unique_id(
                &p,
                t,
                SetUniqueId {
                    unique_id: None,
                    generate: true,
                },
            )
            .await
        }),
    ]
}

async fn snapshot(fx: &Fixture, target: Uuid) -> String {
    let users = fx.service.list_users(
        &fx.admin,
        ListQuery {
            filters: UserFilters {
                statuses: Status::ALL.to_vec(),
                ..Default::default()
            },
            page_size: 500,
            ..Default::default()
        },
    );
    let users = serde_json::to_string(&users.await.unwrap().items).unwrap();
    let roles = serde_json::to_string(&fx.service.list_roles(&fx.admin).await.unwrap()).unwrap();
    let audit = fx
        .store
        .storage
        .list_audit(&fx.tenant, target, 0, 100)
        .await
        .unwrap()
        .1;
    format!("{users}|{roles}|{audit}")
}

/// Each operation is refused without its permission (naming it), and nothing changes.
pub async fn every_operation_requires_its_permission(store: TestStore) {
    let fx = Fixture::new(store).await;
    let target = fx.create("Target", "target@x.test").await;
    let spare_role = fx
        .service
        .create_role(
            &fx.admin,
            CreateRole {
                name: "spare".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for (required, _, name, call) in operations(target.id, spare_role.id) {
        let others: Vec<Permission> = Fixture::all_permissions()
            .into_iter()
            .filter(|p| *p != required)
            .collect();
        let label = format!("lacks-{}", name.replace([' ', '_'], "-"));
        let (principal, _) = fx.principal_with(&label, &others).await;
        let before = snapshot(&fx, target.id).await;
        match call(fx.service.clone(), principal).await {
            Err(Error::Forbidden(missing)) => assert_eq!(missing, required, "{name}"),
            other => panic!("{name} without {required}: expected Forbidden, got {other:?}"),
        }
        assert_eq!(
            snapshot(&fx, target.id).await,
            before,
            "{name} changed something"
        );
    }
}

/// A read-only impersonation session is refused every operation that changes data (and
/// nothing changes), while reads still work.
pub async fn read_only_impersonation_refuses_every_change(store: TestStore) {
    let fx = Fixture::new(store).await;
    let target = fx.create("Target", "target@x.test").await;
    let spare_role = fx
        .service
        .create_role(
            &fx.admin,
            CreateRole {
                name: "spare".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut twin = Fixture::learner("Twin Admin", "twin@x.test");
    twin.is_admin = true;
    twin.roles = vec!["super_admin".into()];
    let twin = fx.service.create_user(&fx.admin, twin).await.unwrap();
    let request = ImpersonateRequest {
        mode: ImpersonationMode::Impersonate,
        reason: "audit".into(),
    };
    let outcome = fx
        .service
        .impersonate(&fx.admin, twin.id, request, Fixture::client())
        .await
        .unwrap();
    let (read_only, _) = fx.service.authenticate(&outcome.token).await.unwrap();
    for (_, kind, name, call) in operations(target.id, spare_role.id) {
        let before = snapshot(&fx, target.id).await;
        let result = call(fx.service.clone(), read_only.clone()).await;
        match kind {
            Kind::Write => {
                assert!(
                    matches!(result, Err(Error::ReadOnlyImpersonation)),
                    "{name}: {result:?}"
                );
                assert_eq!(
                    snapshot(&fx, target.id).await,
                    before,
                    "{name} changed something"
                );
            }
            Kind::Read => assert!(result.is_ok(), "{name}: {result:?}"),
        }
    }
}

/// The system principal, unknown users and non-active users cannot use admin operations.
pub async fn inactive_and_system_principals_are_refused(store: TestStore) {
    let fx = Fixture::new(store).await;
    let target = fx.create("Target", "target@x.test").await;
    let role_id = Uuid::now_v7();
    let (suspended, suspended_user) = fx
        .principal_with("suspended", &Permission::BUILT_IN[..1])
        .await;
    let patch = UpdateUser {
        status: Some(Status::Suspended),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, suspended_user.id, patch)
        .await
        .unwrap();
    let principals = [
        Principal::system(fx.tenant.clone()),
        Principal::user(fx.tenant.clone(), Uuid::now_v7()),
        Principal::user(tenant("elsewhere"), fx.admin_id),
        suspended,
    ];
    for principal in principals {
        for (_, _, name, call) in operations(target.id, role_id) {
            match call(fx.service.clone(), principal.clone()).await {
                Err(Error::Unauthenticated(_)) => {}
                other => panic!("{name} as {principal:?}: expected Unauthenticated, got {other:?}"),
            }
        }
    }
}

/// One tenant's admin can neither see nor touch another tenant's users or roles.
pub async fn tenants_are_isolated(store: TestStore) {
    let fx = Fixture::new(store).await;
    let mine = fx.create("Mine", "shared@x.test").await;
    let t2 = tenant("t2");
    let admin2 = fx.second_tenant_admin().await;
    let other = Principal::user(t2.clone(), admin2.id);
    let theirs = fx
        .service
        .create_user(&other, Fixture::learner("Theirs", "shared@x.test"))
        .await
        .unwrap();

    let mine_listed = fx
        .service
        .list_users(&fx.admin, ListQuery::default())
        .await
        .unwrap();
    assert!(mine_listed.items.iter().all(|u| u.tenant_id == fx.tenant));
    assert_eq!(mine_listed.total, Some(2));
    let search = ListQuery {
        filters: UserFilters {
            search: Some("shared".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        fx.service
            .list_users(&other, search)
            .await
            .unwrap()
            .items
            .iter()
            .map(|u| u.id)
            .collect::<Vec<_>>(),
        [theirs.id]
    );

    assert!(matches!(
        fx.service.get_user(&fx.admin, theirs.id).await,
        Err(Error::NotFound(_))
    ));
    let patch = UpdateUser {
        name: Some("Hijacked".into()),
        ..Default::default()
    };
    assert!(matches!(
        fx.service.update_user(&fx.admin, theirs.id, patch).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        fx.service.delete_user(&fx.admin, theirs.id).await,
        Err(Error::NotFound(_))
    ));
    let bulk = fx
        .service
        .bulk_delete(&fx.admin, BulkDeleteRequest::UserIds(vec![theirs.id]))
        .await
        .unwrap();
    assert_eq!((bulk.deleted, bulk.not_found), (0, vec![theirs.id]));
    // A user the filter leaves out (a filter selecting everyone is refused).
    fx.create("Keeper", "keeper@y.example").await;
    let x_test = UserFilters {
        search: Some("x.test".into()),
        ..Default::default()
    };
    let bulk = fx
        .service
        .bulk_delete(&fx.admin, BulkDeleteRequest::Filters(Box::new(x_test)))
        .await
        .unwrap();
    assert_eq!(bulk.deleted, 1);
    assert_eq!(
        fx.service.get_user(&other, theirs.id).await.unwrap().status,
        Status::Active
    );
    assert_eq!(
        fx.service
            .get_user(&fx.admin, mine.id)
            .await
            .unwrap()
            .status,
        Status::Deleted
    );

    let their_roles = fx.service.list_roles(&other).await.unwrap();
    assert_eq!(their_roles.len(), 1);
    assert!(matches!(
        fx.service.get_role(&fx.admin, their_roles[0].id).await,
        Err(Error::NotFound("role"))
    ));
    assert!(matches!(
        fx.service.delete_role(&fx.admin, their_roles[0].id).await,
        Err(Error::NotFound("role"))
    ));
    assert!(
        fx.service
            .list_roles(&fx.admin)
            .await
            .unwrap()
            .iter()
            .all(|r| r.tenant_id == fx.tenant)
    );
}

/// Password hashes appear in no returned value, audit diff or debug output.
pub async fn secrets_never_leave_storage(store: TestStore) {
    let fx = Fixture::new(store).await;
    let mut input = Fixture::learner("Secretive", "secret@x.test");
    input.password = Some(Password::new("my-very-secret"));
    let user = fx.service.create_user(&fx.admin, input).await.unwrap();
    let patch = UpdateUser {
        password: Some(Some(Password::new("another-secret"))),
        ..Default::default()
    };
    let updated = fx
        .service
        .update_user(&fx.admin, user.id, patch.clone())
        .await
        .unwrap();
    let listed = fx
        .service
        .list_users(&fx.admin, ListQuery::default())
        .await
        .unwrap();
    let (audit, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, user.id, 0, 10)
        .await
        .unwrap();
    let everything = format!(
        "{}{}{}{}{:?}{:?}",
        serde_json::to_string(&updated).unwrap(),
        serde_json::to_string(&listed).unwrap(),
        serde_json::to_string(&audit).unwrap(),
        serde_json::to_string(&fx.service.get_user(&fx.admin, user.id).await.unwrap()).unwrap(),
        patch,
        audit,
    );
    for secret in [
        "$argon2",
        "my-very-secret",
        "another-secret",
        "password_hash",
    ] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    assert!(updated.has_password);
}

/// Bootstrapping twice returns the same admin and creates nothing new.
pub async fn bootstrap_is_idempotent(store: TestStore) {
    let fx = Fixture::new(store).await;
    let again = fx
        .service
        .bootstrap_super_admin(
            &fx.tenant,
            "Root Admin",
            "ADMIN@t1.test",
            Password::new("whatever-else"),
        )
        .await
        .unwrap();
    assert_eq!(again.id, fx.admin_id);
    assert_eq!(fx.service.list_roles(&fx.admin).await.unwrap().len(), 1);
    assert_eq!(fx.count_users().await, 1);
    let weak = fx
        .service
        .bootstrap_super_admin(
            &tenant("t3"),
            "Weak",
            "weak@t3.test",
            Password::new("short"),
        )
        .await;
    assert!(matches!(weak, Err(Error::Validation(_))));
}
