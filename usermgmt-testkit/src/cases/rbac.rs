//! Roles, escalation rules and effective permissions.

use usermgmt_core::Error;
use usermgmt_core::model::{AuditAction, Permission, PermissionSet};
use usermgmt_core::service::{CreateRole, CreateUser, UpdateRole, UpdateUser};

use super::common::invalid_fields;
use crate::fixture::Fixture;
use crate::store::TestStore;

fn role(name: &str, permissions: &[Permission]) -> CreateRole {
    CreateRole {
        name: name.into(),
        description: Some(format!("{name} role")),
        permissions: permissions.to_vec(),
    }
}

/// Create, read, rename, re-permission and delete roles; names are unique ignoring case;
/// a held role cannot be deleted.
pub async fn roles_crud_and_conflicts(store: TestStore) {
    let fx = Fixture::new(store).await;
    let editor = fx
        .service
        .create_role(
            &fx.admin,
            role("Editor", &[Permission::USER_LIST, Permission::USER_VIEW]),
        )
        .await
        .unwrap();
    assert_eq!(editor.name, "editor");
    assert!(
        matches!(fx.service.create_role(&fx.admin, role("EDITOR", &[])).await, Err(Error::Conflict { fields }) if fields == ["name"])
    );
    assert_eq!(
        invalid_fields(
            &fx.service
                .create_role(&fx.admin, role("bad name!", &[]))
                .await
                .unwrap_err()
        ),
        ["name"]
    );
    assert_eq!(
        fx.service.get_role(&fx.admin, editor.id).await.unwrap(),
        editor
    );
    let names: Vec<String> = fx
        .service
        .list_roles(&fx.admin)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["editor", "super_admin"]);

    let change = UpdateRole {
        name: Some("reviewer".into()),
        permissions: Some(vec![Permission::USER_LIST]),
        description: Some(None),
    };
    let updated = fx
        .service
        .update_role(&fx.admin, editor.id, change)
        .await
        .unwrap();
    assert_eq!(updated.name, "reviewer");
    assert_eq!(updated.description, None);
    assert_eq!(
        updated.permissions,
        PermissionSet::from([Permission::USER_LIST])
    );
    let clash = UpdateRole {
        name: Some("super_admin".into()),
        ..Default::default()
    };
    assert!(matches!(
        fx.service.update_role(&fx.admin, editor.id, clash).await,
        Err(Error::Conflict { .. })
    ));

    let mut holder = Fixture::learner("Holder", "holder@x.test");
    holder.roles = vec!["reviewer".into()];
    let holder = fx.service.create_user(&fx.admin, holder).await.unwrap();
    assert!(
        matches!(fx.service.delete_role(&fx.admin, editor.id).await, Err(Error::Conflict { fields }) if fields == ["role"])
    );
    fx.service
        .update_user(
            &fx.admin,
            holder.id,
            UpdateUser {
                roles: Some(vec![]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    fx.service.delete_role(&fx.admin, editor.id).await.unwrap();
    assert!(matches!(
        fx.service.get_role(&fx.admin, editor.id).await,
        Err(Error::NotFound("role"))
    ));
    let (events, _) = fx
        .store
        .storage
        .list_audit(&fx.tenant, editor.id, 0, 10)
        .await
        .unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::RoleDeleted,
            AuditAction::RoleUpdated,
            AuditAction::RoleCreated
        ]
    );
    assert_eq!(
        fx.service
            .permission_catalog(&fx.admin)
            .await
            .unwrap()
            .len(),
        Fixture::all_permissions().len()
    );
}

/// An actor cannot grant (by role, directly, or by editing a role) a permission it lacks,
/// nor act on a user holding permissions it lacks.
pub async fn no_privilege_escalation(store: TestStore) {
    let fx = Fixture::new(store).await;
    let (manager, manager_user) = fx
        .principal_with(
            "manager",
            &[
                Permission::USER_CREATE,
                Permission::USER_UPDATE,
                Permission::USER_VIEW,
                Permission::ROLE_MANAGE,
            ],
        )
        .await;
    let target = fx.create("Target", "target@x.test").await;

    let grant_role = UpdateUser {
        roles: Some(vec!["super_admin".into()]),
        ..Default::default()
    };
    assert!(matches!(
        fx.service
            .update_user(&manager, target.id, grant_role)
            .await,
        Err(Error::Forbidden(_))
    ));
    let grant_direct = UpdateUser {
        permissions: Some(vec![Permission::USER_DELETE]),
        ..Default::default()
    };
    assert!(matches!(
        fx.service
            .update_user(&manager, target.id, grant_direct)
            .await,
        Err(Error::Forbidden(p)) if p == Permission::USER_DELETE
    ));
    let create_strong = CreateUser {
        roles: vec!["super_admin".into()],
        is_admin: true,
        ..Fixture::learner("Strong", "strong@x.test")
    };
    assert!(matches!(
        fx.service.create_user(&manager, create_strong).await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        fx.service
            .create_role(&manager, role("deleters", &[Permission::USER_DELETE]))
            .await,
        Err(Error::Forbidden(p)) if p == Permission::USER_DELETE
    ));
    let own_role = fx
        .service
        .list_roles(&fx.admin)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "manager-role")
        .unwrap();
    let widen = UpdateRole {
        permissions: Some(Permission::BUILT_IN.to_vec()),
        ..Default::default()
    };
    assert!(matches!(
        fx.service.update_role(&manager, own_role.id, widen).await,
        Err(Error::Forbidden(_))
    ));
    let super_role = fx
        .service
        .list_roles(&fx.admin)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "super_admin")
        .unwrap();
    let strip = UpdateRole {
        permissions: Some(vec![]),
        ..Default::default()
    };
    assert!(matches!(
        fx.service.update_role(&manager, super_role.id, strip).await,
        Err(Error::Forbidden(_))
    ));
    let takeover = UpdateUser {
        password: Some(Some(usermgmt_core::password::Password::new("taken-over!"))),
        ..Default::default()
    };
    assert!(matches!(
        fx.service
            .update_user(&manager, fx.admin_id, takeover)
            .await,
        Err(Error::Forbidden(_))
    ));

    // Within its own permissions the manager may grant.
    let ok = UpdateUser {
        permissions: Some(vec![Permission::USER_VIEW]),
        ..Default::default()
    };
    let updated = fx
        .service
        .update_user(&manager, target.id, ok)
        .await
        .unwrap();
    assert_eq!(updated.permissions, [Permission::USER_VIEW]);
    assert_eq!(
        fx.service
            .get_user(&fx.admin, manager_user.id)
            .await
            .unwrap()
            .roles,
        ["manager-role"]
    );
    assert_eq!(
        fx.service
            .get_user(&fx.admin, fx.admin_id)
            .await
            .unwrap()
            .version,
        1
    );
}

/// Effective permissions are the union of role permissions and direct grants, and take
/// effect (and are revoked) immediately.
pub async fn effective_permissions_are_the_union(store: TestStore) {
    let fx = Fixture::new(store).await;
    let (viewer, viewer_user) = fx.principal_with("viewer", &[Permission::USER_VIEW]).await;
    assert!(matches!(
        fx.service.list_users(&viewer, Default::default()).await,
        Err(Error::Forbidden(p)) if p == Permission::USER_LIST
    ));
    let grant = UpdateUser {
        permissions: Some(vec![Permission::USER_LIST]),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, viewer_user.id, grant)
        .await
        .unwrap();
    let effective = fx
        .service
        .effective_permissions(&fx.admin, viewer_user.id)
        .await
        .unwrap();
    assert_eq!(
        effective,
        PermissionSet::from([Permission::USER_LIST, Permission::USER_VIEW])
    );
    assert!(
        fx.service
            .list_users(&viewer, Default::default())
            .await
            .is_ok()
    );
    let revoke = UpdateUser {
        permissions: Some(vec![]),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, viewer_user.id, revoke)
        .await
        .unwrap();
    assert!(matches!(
        fx.service.list_users(&viewer, Default::default()).await,
        Err(Error::Forbidden(p)) if p == Permission::USER_LIST
    ));
    assert_eq!(
        fx.service
            .effective_permissions(&fx.admin, fx.admin_id)
            .await
            .unwrap(),
        Fixture::all_permissions()
    );
}

/// A user as every read path gives them: by id, on a list page and in a JSON Lines export
/// (stores keep the related lists beside the row; each path must see every write of them).
async fn read_everywhere(fx: &Fixture, id: uuid::Uuid) -> Vec<usermgmt_core::model::User> {
    use usermgmt_core::filter::ListQuery;
    use usermgmt_core::service::ExportFormat;
    let by_id = fx.service.get_user(&fx.admin, id).await.unwrap();
    let page = fx
        .service
        .list_users(&fx.admin, ListQuery::default())
        .await
        .unwrap();
    let listed = page.items.into_iter().find(|u| u.id == id).unwrap();
    let mut stream = fx
        .service
        .export(&fx.admin, Default::default(), ExportFormat::JsonLines)
        .await
        .unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next_chunk().await {
        bytes.extend(chunk.unwrap());
    }
    let exported: serde_json::Value = bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice::<serde_json::Value>(line).unwrap())
        .find(|u| u["id"] == id.to_string())
        .unwrap();
    vec![by_id, listed, serde_json::from_value(exported).unwrap()]
}

/// Every read of a user shows these lists.
fn expect(
    reads: &[usermgmt_core::model::User],
    roles: &[&str],
    expertise: &[&str],
    providers: &[usermgmt_core::model::OAuthProvider],
) {
    for (path, u) in ["by id", "listed", "exported"].iter().zip(reads) {
        assert_eq!(u.roles, roles, "roles {path}");
        assert_eq!(u.profile.expertise, expertise, "expertise {path}");
        assert_eq!(u.oauth_providers, providers, "providers {path}");
    }
}

/// Roles, permissions, expertise and OAuth providers read back after every kind of write of
/// them: create, update, link, unlink and the rename of a held role.
pub async fn related_lists_follow_every_write(store: TestStore) {
    use usermgmt_core::model::OAuthProvider;
    use usermgmt_core::service::LinkOAuth;
    let fx = Fixture::new(store).await;
    let editor = fx
        .service
        .create_role(&fx.admin, role("editor", &[Permission::USER_LIST]))
        .await
        .unwrap();
    let mut input = Fixture::learner("Lists", "lists@x.test");
    input.roles = vec!["editor".into()];
    input.expertise = vec!["Rust".into(), "Algebra".into()];
    input.password = Some(usermgmt_core::password::Password::new("a-password-to-keep"));
    let user = fx.service.create_user(&fx.admin, input).await.unwrap();
    expect(
        &read_everywhere(&fx, user.id).await,
        &["editor"],
        &["Rust", "Algebra"],
        &[],
    );

    for provider in [OAuthProvider::Github, OAuthProvider::Google] {
        let link = LinkOAuth {
            provider,
            provider_user_id: format!("{provider:?}-1"),
        };
        fx.service
            .link_oauth(&fx.admin, user.id, link)
            .await
            .unwrap();
    }
    let mut both = vec![OAuthProvider::Github, OAuthProvider::Google];
    both.sort();
    expect(
        &read_everywhere(&fx, user.id).await,
        &["editor"],
        &["Rust", "Algebra"],
        &both,
    );

    let change = UpdateUser {
        expertise: Some(vec!["Zoology".into(), "Art".into()]),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, user.id, change)
        .await
        .unwrap();
    expect(
        &read_everywhere(&fx, user.id).await,
        &["editor"],
        &["Zoology", "Art"],
        &both,
    );

    let rename = UpdateRole {
        name: Some("reviewer".into()),
        ..Default::default()
    };
    fx.service
        .update_role(&fx.admin, editor.id, rename)
        .await
        .unwrap();
    expect(
        &read_everywhere(&fx, user.id).await,
        &["reviewer"],
        &["Zoology", "Art"],
        &both,
    );
    fx.service
        .unlink_oauth(&fx.admin, user.id, OAuthProvider::Github)
        .await
        .unwrap();
    expect(
        &read_everywhere(&fx, user.id).await,
        &["reviewer"],
        &["Zoology", "Art"],
        &[OAuthProvider::Google],
    );

    let change = UpdateUser {
        roles: Some(vec![]),
        expertise: Some(vec![]),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, user.id, change)
        .await
        .unwrap();
    fx.service
        .unlink_oauth(&fx.admin, user.id, OAuthProvider::Google)
        .await
        .unwrap();
    expect(&read_everywhere(&fx, user.id).await, &[], &[], &[]);
}
