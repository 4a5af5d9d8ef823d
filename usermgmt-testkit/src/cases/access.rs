//! Permission checks on every operation, refused principals, tenant isolation, secrets.

use std::future::Future;
use std::pin::Pin;

use usermgmt_core::filter::{ListQuery, UserFilters};
use usermgmt_core::model::{Permission, Status};
use usermgmt_core::password::Password;
use usermgmt_core::service::{BulkDeleteRequest, CreateRole, UpdateRole, UpdateUser};
use usermgmt_core::{Error, Principal, UserService};
use uuid::Uuid;

use crate::TestStore;
use crate::fixture::{Fixture, tenant};

type Call =
    Box<dyn Fn(UserService, Principal) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>>;

/// One call per operation, with the permission it requires.
fn operations(target: Uuid, role_id: Uuid) -> Vec<(Permission, &'static str, Call)> {
    vec![
        (
            Permission::UserCreate,
            "create_user",
            Box::new(|s, p| {
                Box::pin(async move {
                    s.create_user(&p, Fixture::learner("New", "new@x.test"))
                        .await
                        .map(drop)
                })
            }),
        ),
        (
            Permission::UserView,
            "get_user",
            Box::new(move |s, p| Box::pin(async move { s.get_user(&p, target).await.map(drop) })),
        ),
        (
            Permission::UserView,
            "effective_permissions",
            Box::new(move |s, p| {
                Box::pin(async move { s.effective_permissions(&p, target).await.map(drop) })
            }),
        ),
        (
            Permission::UserList,
            "list_users",
            Box::new(|s, p| {
                Box::pin(async move { s.list_users(&p, ListQuery::default()).await.map(drop) })
            }),
        ),
        (
            Permission::UserUpdate,
            "update_user",
            Box::new(move |s, p| {
                Box::pin(async move {
                    s.update_user(
                        &p,
                        target,
                        UpdateUser {
                            name: Some("Changed".into()),
                            ..Default::default()
                        },
                    )
                    .await
                    .map(drop)
                })
            }),
        ),
        (
            Permission::UserDelete,
            "delete_user",
            Box::new(move |s, p| {
                Box::pin(async move { s.delete_user(&p, target).await.map(drop) })
            }),
        ),
        (
            Permission::UserDelete,
            "bulk_delete ids",
            Box::new(move |s, p| {
                Box::pin(async move {
                    s.bulk_delete(&p, BulkDeleteRequest::UserIds(vec![target]))
                        .await
                        .map(drop)
                })
            }),
        ),
        (
            Permission::UserDelete,
            "bulk_delete filter",
            Box::new(|s, p| {
                Box::pin(async move {
                    let filters = UserFilters {
                        status: Some(Status::Active),
                        ..Default::default()
                    };
                    s.bulk_delete(&p, BulkDeleteRequest::Filters(Box::new(filters)))
                        .await
                        .map(drop)
                })
            }),
        ),
        (
            Permission::RoleManage,
            "list_roles",
            Box::new(|s, p| Box::pin(async move { s.list_roles(&p).await.map(drop) })),
        ),
        (
            Permission::RoleManage,
            "get_role",
            Box::new(move |s, p| Box::pin(async move { s.get_role(&p, role_id).await.map(drop) })),
        ),
        (
            Permission::RoleManage,
            "permission_catalog",
            Box::new(|s, p| Box::pin(async move { s.permission_catalog(&p).await.map(drop) })),
        ),
        (
            Permission::RoleManage,
            "create_role",
            Box::new(|s, p| {
                Box::pin(async move {
                    s.create_role(
                        &p,
                        CreateRole {
                            name: "new-role".into(),
                            ..Default::default()
                        },
                    )
                    .await
                    .map(drop)
                })
            }),
        ),
        (
            Permission::RoleManage,
            "update_role",
            Box::new(move |s, p| {
                Box::pin(async move {
                    s.update_role(
                        &p,
                        role_id,
                        UpdateRole {
                            name: Some("renamed".into()),
                            ..Default::default()
                        },
                    )
                    .await
                    .map(drop)
                })
            }),
        ),
        (
            Permission::RoleManage,
            "delete_role",
            Box::new(move |s, p| {
                Box::pin(async move { s.delete_role(&p, role_id).await.map(drop) })
            }),
        ),
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
    for (required, name, call) in operations(target.id, spare_role.id) {
        let others: Vec<Permission> = Permission::ALL
            .iter()
            .copied()
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

/// The system principal, unknown users and non-active users cannot use admin operations.
pub async fn inactive_and_system_principals_are_refused(store: TestStore) {
    let fx = Fixture::new(store).await;
    let target = fx.create("Target", "target@x.test").await;
    let role_id = Uuid::now_v7();
    let (suspended, suspended_user) = fx.principal_with("suspended", &Permission::ALL[..1]).await;
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
        for (_, name, call) in operations(target.id, role_id) {
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
    let admin2 = fx
        .service
        .bootstrap_super_admin(
            &t2,
            "Admin Two",
            "admin@t2.test",
            Password::new("password-two"),
        )
        .await
        .unwrap();
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
    let everyone = UserFilters {
        search: Some("x.test".into()),
        ..Default::default()
    };
    let bulk = fx
        .service
        .bulk_delete(&fx.admin, BulkDeleteRequest::Filters(Box::new(everyone)))
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
