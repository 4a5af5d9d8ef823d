//! The host application's permissions (SPEC §9): registration, the catalog, grants, unknown
//! names, no escalation, the host's check, and names that are no longer registered.

use usermgmt_core::model::{ImpersonationMode, Permission, PermissionRegistry, SUPER_ADMIN_ROLE};
use usermgmt_core::service::{CreateRole, CreateUser, ImpersonateRequest, UpdateRole, UpdateUser};
use usermgmt_core::{Error, Principal, ServiceConfig, UserService};

use crate::fixture::Fixture;
use crate::store::TestStore;

fn host(name: &str) -> Permission {
    Fixture::host(name)
}

fn role(name: &str, permissions: &[Permission]) -> CreateRole {
    CreateRole {
        name: name.into(),
        description: None,
        permissions: permissions.to_vec(),
    }
}

/// A validation error on `permission` or `permissions` whose message names `value`.
fn names_value(result: Result<impl std::fmt::Debug, Error>, value: &str) {
    match result {
        Err(Error::Validation(fields)) => {
            let text = serde_json::to_string(&fields).unwrap_or_default();
            assert!(
                text.contains("permission") && text.contains(value),
                "{text} should name `{value}` on `permission(s)`"
            );
        }
        other => panic!("expected a validation error naming {value}, got {other:?}"),
    }
}

/// The catalog lists the host's permissions after the built-ins, with their descriptions and
/// whether they write; roles and direct grants carry them; effective permissions and the
/// host's check see them; the super-admin role holds them.
pub async fn host_permissions_are_first_class(store: TestStore) {
    let fx = Fixture::new(store).await;
    let catalog = fx.service.permission_catalog(&fx.admin).await.unwrap();
    assert_eq!(catalog.len(), Permission::BUILT_IN.len() + 3, "{catalog:?}");
    assert_eq!(catalog[0].permission, Permission::USER_LIST);
    let create = catalog
        .iter()
        .find(|p| p.permission.as_str() == "course.create")
        .unwrap();
    assert!(!create.built_in && create.writes);
    assert_eq!(create.description, "Create courses");
    let view = catalog
        .iter()
        .find(|p| p.permission.as_str() == "course.view")
        .unwrap();
    assert!(!view.built_in && !view.writes);

    let admin_has = fx
        .service
        .effective_permissions(&fx.admin, fx.admin_id)
        .await
        .unwrap();
    assert!(admin_has.contains(&host("grade.edit")), "{admin_has:?}");

    let teachers = fx
        .service
        .create_role(
            &fx.admin,
            role("teacher", &[host("course.view"), host("course.create")]),
        )
        .await
        .unwrap();
    assert!(teachers.permissions.contains(&host("course.create")));
    let listed = fx.service.list_roles(&fx.admin).await.unwrap();
    let stored = listed.iter().find(|r| r.name == "teacher").unwrap();
    assert_eq!(stored.permissions, teachers.permissions);

    let learner = fx.create("Lena", "lena@t1.test").await;
    assert!(matches!(
        fx.service
            .check_permission(&Principal::user(fx.tenant.clone(), learner.id), &host("course.view"))
            .await,
        Err(Error::Forbidden(p)) if p == host("course.view")
    ));
    let grant = UpdateUser {
        roles: Some(vec!["teacher".into()]),
        permissions: Some(vec![host("grade.edit")]),
        ..Default::default()
    };
    let updated = fx
        .service
        .update_user(&fx.admin, learner.id, grant)
        .await
        .unwrap();
    assert_eq!(updated.permissions, vec![host("grade.edit")]);
    let effective = fx
        .service
        .effective_permissions(&fx.admin, learner.id)
        .await
        .unwrap();
    for name in ["course.view", "course.create", "grade.edit"] {
        assert!(effective.contains(&host(name)), "{name}: {effective:?}");
    }
    let as_learner = Principal::user(fx.tenant.clone(), learner.id);
    let actor = fx
        .service
        .check_permission(&as_learner, &host("grade.edit"))
        .await
        .unwrap();
    assert_eq!(actor.user_id, learner.id);

    // Audit diffs name host permissions like built-in ones.
    let history = fx
        .service
        .audit_log(&fx.admin, learner.id, 1, 50)
        .await
        .unwrap();
    let text = serde_json::to_string(&history).unwrap();
    assert!(text.contains("grade.edit"), "{text}");
}

/// A name outside the registry is refused with 400 naming it, wherever a permission is
/// given, and nothing is stored.
pub async fn unknown_permission_names_are_refused(store: TestStore) {
    let fx = Fixture::new(store).await;
    let unknown = host("course.delete");
    names_value(
        fx.service
            .create_role(&fx.admin, role("deleter", std::slice::from_ref(&unknown)))
            .await,
        "course.delete",
    );
    assert!(
        fx.service
            .list_roles(&fx.admin)
            .await
            .unwrap()
            .iter()
            .all(|r| r.name != "deleter")
    );
    let editors = fx
        .service
        .create_role(&fx.admin, role("editors", &[host("course.view")]))
        .await
        .unwrap();
    let widen = UpdateRole {
        permissions: Some(vec![host("course.view"), unknown.clone()]),
        ..Default::default()
    };
    names_value(
        fx.service.update_role(&fx.admin, editors.id, widen).await,
        "course.delete",
    );
    let direct = CreateUser {
        permissions: vec![unknown.clone()],
        ..Fixture::learner("Ulla", "ulla@t1.test")
    };
    names_value(
        fx.service.create_user(&fx.admin, direct).await,
        "course.delete",
    );
    let user = fx.create("Uwe", "uwe@t1.test").await;
    let patch = UpdateUser {
        permissions: Some(vec![unknown.clone()]),
        ..Default::default()
    };
    names_value(
        fx.service.update_user(&fx.admin, user.id, patch).await,
        "course.delete",
    );
    let system = Principal::system(fx.tenant.clone());
    names_value(
        fx.service
            .system_grant_permissions(&system, user.id, std::slice::from_ref(&unknown))
            .await,
        "course.delete",
    );
    // The system API grants a registered host permission.
    let granted = fx
        .service
        .system_grant_permissions(&system, user.id, &[host("course.view")])
        .await
        .unwrap();
    assert_eq!(granted.permissions, vec![host("course.view")]);
    let after = fx.service.get_user(&fx.admin, user.id).await.unwrap();
    assert!(!after.permissions.contains(&unknown));
    let role_after = fx.service.get_role(&fx.admin, editors.id).await.unwrap();
    assert_eq!(role_after.permissions.len(), 1);
    assert!(
        fx.service.permission_report().await.unwrap().is_empty(),
        "nothing unregistered was stored"
    );
}

/// An actor grants only what it holds, host permissions included.
pub async fn host_permissions_follow_no_escalation(store: TestStore) {
    let fx = Fixture::new(store).await;
    let (manager, _) = fx
        .principal_with(
            "manager",
            &[
                Permission::ROLE_MANAGE,
                Permission::USER_UPDATE,
                Permission::USER_VIEW,
                host("course.view"),
            ],
        )
        .await;
    assert!(matches!(
        fx.service
            .create_role(&manager, role("creators", &[host("course.create")]))
            .await,
        Err(Error::Forbidden(p)) if p == host("course.create")
    ));
    let viewers = fx
        .service
        .create_role(&manager, role("viewers", &[host("course.view")]))
        .await
        .unwrap();
    let widen = UpdateRole {
        permissions: Some(vec![host("course.view"), host("grade.edit")]),
        ..Default::default()
    };
    assert!(matches!(
        fx.service.update_role(&manager, viewers.id, widen).await,
        Err(Error::Forbidden(p)) if p == host("grade.edit")
    ));
    // A role carrying a host permission the manager lacks is out of reach.
    let graders = fx
        .service
        .create_role(&fx.admin, role("graders", &[host("grade.edit")]))
        .await
        .unwrap();
    assert!(matches!(
        fx.service.delete_role(&manager, graders.id).await,
        Err(Error::Forbidden(p)) if p == host("grade.edit")
    ));
    let target = fx.create("Tom", "tom@t1.test").await;
    let direct = UpdateUser {
        permissions: Some(vec![host("grade.edit")]),
        ..Default::default()
    };
    assert!(matches!(
        fx.service.update_user(&manager, target.id, direct).await,
        Err(Error::Forbidden(p)) if p == host("grade.edit")
    ));
    let by_role = UpdateUser {
        roles: Some(vec!["graders".into()]),
        ..Default::default()
    };
    assert!(matches!(
        fx.service.update_user(&manager, target.id, by_role).await,
        Err(Error::Forbidden(p)) if p == host("grade.edit")
    ));
    let allowed = UpdateUser {
        permissions: Some(vec![host("course.view")]),
        ..Default::default()
    };
    fx.service
        .update_user(&manager, target.id, allowed)
        .await
        .unwrap();
    // A user holding a host permission the manager lacks is out of reach too.
    fx.service
        .update_user(
            &fx.admin,
            target.id,
            UpdateUser {
                permissions: Some(vec![host("course.view"), host("grade.edit")]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let rename = UpdateUser {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    assert!(matches!(
        fx.service.update_user(&manager, target.id, rename).await,
        Err(Error::Forbidden(p)) if p == host("grade.edit")
    ));
}

/// The host's check: allowed with the permission; refused without it, for a user who is not
/// active, for the system principal, for an unregistered name, and for a writing permission
/// in a read-only impersonation session; a revocation applies to the next check.
pub async fn the_host_check_honours_status_and_impersonation(store: TestStore) {
    let fx = Fixture::new(store).await;
    let (teacher, teacher_user) = fx
        .principal_with("teacher", &[host("course.view"), host("course.create")])
        .await;
    let view = host("course.view");
    let create = host("course.create");
    assert!(fx.service.check_permission(&teacher, &view).await.is_ok());
    assert!(fx.service.check_permission(&teacher, &create).await.is_ok());
    assert!(matches!(
        fx.service
            .check_permission(&teacher, &host("grade.edit"))
            .await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        fx.service
            .check_permission(&teacher, &host("course.delete"))
            .await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        fx.service
            .check_permission(&Principal::system(fx.tenant.clone()), &view)
            .await,
        Err(Error::Unauthenticated(_))
    ));

    // Read-only impersonation: reading host permissions pass, writing ones do not.
    let session = fx
        .service
        .impersonate(
            &fx.admin,
            teacher_user.id,
            ImpersonateRequest {
                mode: ImpersonationMode::Impersonate,
                reason: "support ticket 7".into(),
            },
            Fixture::client(),
        )
        .await
        .unwrap();
    let (as_teacher, _) = fx.service.authenticate(&session.token).await.unwrap();
    assert!(
        fx.service
            .check_permission(&as_teacher, &view)
            .await
            .is_ok()
    );
    assert!(matches!(
        fx.service.check_permission(&as_teacher, &create).await,
        Err(Error::ReadOnlyImpersonation)
    ));
    fx.service.logout(&as_teacher).await.unwrap();
    let session = fx
        .service
        .impersonate(
            &fx.admin,
            teacher_user.id,
            ImpersonateRequest {
                mode: ImpersonationMode::Masquerade,
                reason: "support ticket 8".into(),
            },
            Fixture::client(),
        )
        .await
        .unwrap();
    let (masked, _) = fx.service.authenticate(&session.token).await.unwrap();
    assert!(fx.service.check_permission(&masked, &create).await.is_ok());
    fx.service.logout(&masked).await.unwrap();

    // Revoked through the role: the next check refuses.
    let role = fx
        .service
        .list_roles(&fx.admin)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "teacher-role")
        .unwrap();
    fx.service
        .update_role(
            &fx.admin,
            role.id,
            UpdateRole {
                permissions: Some(vec![view.clone()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        fx.service.check_permission(&teacher, &create).await,
        Err(Error::Forbidden(p)) if p == create
    ));
    // Suspended: unauthenticated, whatever the grants.
    fx.service
        .update_user(
            &fx.admin,
            teacher_user.id,
            UpdateUser {
                status: Some(usermgmt_core::model::Status::Suspended),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        fx.service.check_permission(&teacher, &view).await,
        Err(Error::Unauthenticated(_))
    ));
}

/// A permission removed from the registry while roles and users still hold it is reported
/// and grants nothing; registering it again restores it.
pub async fn unregistered_stored_permissions_grant_nothing(store: TestStore) {
    let fx = Fixture::new(store).await;
    let (teacher, teacher_user) = fx
        .principal_with("teacher", &[host("course.view"), host("course.create")])
        .await;
    fx.service
        .update_user(
            &fx.admin,
            teacher_user.id,
            UpdateUser {
                permissions: Some(vec![host("course.create")]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let narrower = PermissionRegistry::new()
        .register("course.view", "See courses")
        .unwrap();
    let config = ServiceConfig {
        permissions: narrower,
        ..fx.service.config().clone()
    };
    let later =
        UserService::with_config(fx.store.storage.clone(), config).with_clock(fx.clock.clone());
    let report = later.permission_report().await.unwrap();
    let create = report
        .iter()
        .find(|p| p.name == "course.create")
        .unwrap_or_else(|| panic!("{report:?}"));
    // The teacher's role and the super-admin role carry it; the teacher holds it directly.
    assert_eq!((create.roles, create.users), (2, 1), "{report:?}");
    assert!(report.iter().any(|p| p.name == "grade.edit"));
    assert!(report.iter().all(|p| p.name != "course.view"));

    let gone = host("course.create");
    assert!(matches!(
        later.check_permission(&teacher, &gone).await,
        Err(Error::Forbidden(_))
    ));
    assert!(
        later
            .check_permission(&teacher, &host("course.view"))
            .await
            .is_ok()
    );
    let effective = later
        .effective_permissions(&fx.admin, teacher_user.id)
        .await
        .unwrap();
    assert!(!effective.contains(&gone), "{effective:?}");
    let roles = later.list_roles(&fx.admin).await.unwrap();
    assert!(roles.iter().all(|r| !r.permissions.contains(&gone)));
    // Other edits of the user still work; the stale grant is left as it is.
    later
        .update_user(
            &fx.admin,
            teacher_user.id,
            UpdateUser {
                name: Some("Still Teaching".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The original service, which registers it, still honours it.
    assert!(fx.service.check_permission(&teacher, &gone).await.is_ok());

    // A dormant name still bounds reach: an admin who lacks it can neither hand on a role
    // carrying it, nor edit that role, nor act on a user holding it — or it would come back
    // to life in their hands when registered again.
    let (limited, _) = fx
        .principal_with(
            "limited",
            &[
                Permission::ROLE_MANAGE,
                Permission::USER_UPDATE,
                Permission::USER_DELETE,
                Permission::USER_VIEW,
                host("course.view"),
            ],
        )
        .await;
    let learner = fx.create("Lou", "lou@t1.test").await;
    let give_role = UpdateUser {
        roles: Some(vec!["teacher-role".into()]),
        ..Default::default()
    };
    assert!(matches!(
        later.update_user(&limited, learner.id, give_role).await,
        Err(Error::Forbidden(p)) if p == gone
    ));
    let teacher_role = later
        .list_roles(&fx.admin)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "teacher-role")
        .unwrap();
    let edit = UpdateRole {
        description: Some(Some("mine now".into())),
        ..Default::default()
    };
    assert!(matches!(
        later.update_role(&limited, teacher_role.id, edit).await,
        Err(Error::Forbidden(p)) if p == gone
    ));
    let rename = UpdateUser {
        name: Some("Taken Over".into()),
        ..Default::default()
    };
    assert!(matches!(
        later.update_user(&limited, teacher_user.id, rename).await,
        Err(Error::Forbidden(p)) if p == gone
    ));
    let request = usermgmt_core::service::BulkDeleteRequest::UserIds(vec![teacher_user.id]);
    let outcome = later.bulk_delete(&limited, request).await.unwrap();
    assert_eq!((outcome.deleted, outcome.skipped_protected), (0, 1));

    // The super admin may; dropping the name from the role is in the audit diff.
    let narrow = UpdateRole {
        permissions: Some(vec![host("course.view")]),
        ..Default::default()
    };
    later
        .update_role(&fx.admin, teacher_role.id, narrow)
        .await
        .unwrap();
    let stored = fx
        .service
        .get_role(&fx.admin, teacher_role.id)
        .await
        .unwrap();
    assert_eq!(stored.permissions.len(), 1, "{stored:?}");
    // The super-admin role keeps dormant names when saved with what the forms offer.
    let super_role = later
        .list_roles(&fx.admin)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == SUPER_ADMIN_ROLE)
        .unwrap();
    let offered = UpdateRole {
        permissions: Some(later.permissions().all().into_iter().collect()),
        description: Some(Some("Everything".into())),
        ..Default::default()
    };
    later
        .update_role(&fx.admin, super_role.id, offered)
        .await
        .unwrap();
    let kept = fx.service.get_role(&fx.admin, super_role.id).await.unwrap();
    assert!(kept.permissions.contains(&gone), "{kept:?}");
    // The system principal reaches everything: it still hands out the super-admin role,
    // dormant names and all (the locked-out-tenant recovery path).
    let system = Principal::system(fx.tenant.clone());
    let rescued = later
        .system_assign_roles(&system, learner.id, &[SUPER_ADMIN_ROLE.to_owned()])
        .await
        .unwrap();
    assert!(rescued.roles.iter().any(|r| r == SUPER_ADMIN_ROLE));
}

/// When the registry grows, a tenant's super-admin role lacks the new name until its
/// bootstrap runs: an actor holding every permission of that role but not the new one still
/// cannot bulk-delete every super admin.
pub async fn a_grown_registry_still_keeps_a_super_admin(store: TestStore) {
    let fx = Fixture::new(store).await;
    let mut admins = vec![fx.admin_id];
    for i in 0..2 {
        let input = CreateUser {
            name: format!("Super {i}"),
            email: Some(format!("super{i}@t1.test")),
            is_admin: true,
            roles: vec![SUPER_ADMIN_ROLE.into()],
            ..Default::default()
        };
        admins.push(fx.service.create_user(&fx.admin, input).await.unwrap().id);
    }
    let everything = CreateUser {
        permissions: Fixture::all_permissions().into_iter().collect(),
        ..Fixture::learner("Everything", "everything@t1.test")
    };
    let actor = fx.service.create_user(&fx.admin, everything).await.unwrap();
    let actor = Principal::user(fx.tenant.clone(), actor.id);
    let grown = crate::fixture::host_permissions()
        .register("report.view", "See reports")
        .unwrap();
    let config = ServiceConfig {
        permissions: grown,
        ..fx.service.config().clone()
    };
    let wider =
        UserService::with_config(fx.store.storage.clone(), config).with_clock(fx.clock.clone());
    let request = usermgmt_core::service::BulkDeleteRequest::UserIds(admins.clone());
    let refused = wider.bulk_delete(&actor, request).await;
    assert!(matches!(&refused, Err(Error::Validation(_))), "{refused:?}");
    let left = wider
        .effective_permissions(&fx.admin, fx.admin_id)
        .await
        .is_ok();
    assert!(left, "the super admins are all still there");
}

/// The `permission` list filter: users whose effective permissions include it (directly or
/// through a role), for lists, statistics and bulk deletes; an unregistered name is a 400.
pub async fn lists_filter_by_effective_permission(store: TestStore) {
    use usermgmt_core::filter::{ListQuery, UserFilters};
    let fx = Fixture::new(store).await;
    let (_, by_role) = fx
        .principal_with("grader", &[host("grade.edit"), Permission::USER_VIEW])
        .await;
    let direct = CreateUser {
        permissions: vec![host("grade.edit")],
        ..Fixture::learner("Dora", "dora@t1.test")
    };
    let direct = fx.service.create_user(&fx.admin, direct).await.unwrap();
    let bystander = fx.create("Ben", "ben@t1.test").await;
    let holders = |permission: &str| {
        let filters = UserFilters {
            permission: Some(host(permission)),
            ..Default::default()
        };
        let query = ListQuery {
            filters,
            include_total: true,
            ..Default::default()
        };
        let service = fx.service.clone();
        let admin = fx.admin.clone();
        async move {
            let page = service.list_users(&admin, query).await?;
            let mut ids: Vec<_> = page.items.iter().map(|u| u.id).collect();
            ids.sort();
            Ok::<_, Error>((ids, page.total))
        }
    };
    let mut expected = vec![by_role.id, direct.id, fx.admin_id];
    expected.sort();
    let (ids, total) = holders("grade.edit").await.unwrap();
    assert_eq!(
        ids, expected,
        "the super admin, the role holder, the direct holder"
    );
    assert_eq!(total, Some(3));
    assert!(!ids.contains(&bystander.id));
    names_value(holders("grade.delete").await, "grade.delete");

    let filters = UserFilters {
        permission: Some(host("grade.edit")),
        ..Default::default()
    };
    let stats = fx
        .service
        .stats_filtered(&fx.admin, filters.clone())
        .await
        .unwrap();
    assert_eq!(stats.total, 3);

    // Bulk delete by permission: the holders the actor outranks go, the actor stays.
    let outcome = fx
        .service
        .bulk_delete(
            &fx.admin,
            usermgmt_core::service::BulkDeleteRequest::Filters(Box::new(filters)),
        )
        .await
        .unwrap();
    assert_eq!(outcome.deleted, 2, "{outcome:?}");
    assert!(outcome.skipped_self);
    let unknown = UserFilters {
        permission: Some(host("grade.delete")),
        ..Default::default()
    };
    names_value(
        fx.service
            .bulk_delete(
                &fx.admin,
                usermgmt_core::service::BulkDeleteRequest::Filters(Box::new(unknown)),
            )
            .await,
        "grade.delete",
    );
}

/// `authenticate_for` (the guard's one-read path: session and grants together) answers as
/// `authenticate` then `check_permission` do.
pub async fn the_one_read_check_answers_as_the_two_calls(store: TestStore) {
    use usermgmt_core::model::SessionToken;
    let fx = Fixture::new(store).await;
    fx.service
        .create_role(
            &fx.admin,
            role("teacher", &[host("course.view"), host("course.create")]),
        )
        .await
        .unwrap();
    let input = CreateUser {
        password: Some(usermgmt_core::password::Password::new(
            crate::fixture::PASSWORD,
        )),
        is_instructor: true,
        roles: vec!["teacher".into()],
        ..Fixture::learner("Tess", "tess@t1.test")
    };
    let tess = fx.service.create_user(&fx.admin, input).await.unwrap();
    let token = fx
        .login("tess@t1.test", crate::fixture::PASSWORD)
        .await
        .unwrap()
        .token;
    let both = |token: SessionToken, name: &'static str| {
        let service = fx.service.clone();
        async move {
            let permission = host(name);
            let one = service
                .authenticate_for(&token, &permission)
                .await
                .map(|(principal, _, actor)| (principal, actor));
            let two = match service.authenticate(&token).await {
                Ok((principal, _)) => service
                    .check_permission(&principal, &permission)
                    .await
                    .map(|actor| (principal, actor)),
                Err(error) => Err(error),
            };
            match (&one, &two) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}"),
                (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "{name}: {a} / {b}"),
                _ => panic!("{name}: {one:?} vs {two:?}"),
            }
            one
        }
    };
    let (_, actor) = both(token.clone(), "course.create").await.unwrap();
    assert_eq!(actor.user_id, tess.id);
    assert!(matches!(
        both(token.clone(), "grade.edit").await,
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        both(token.clone(), "course.delete").await,
        Err(Error::Forbidden(_))
    ));
    let bogus = SessionToken::from_client("not-a-token");
    assert!(matches!(
        both(bogus, "course.view").await,
        Err(Error::Unauthenticated(_))
    ));
    let read_only = fx
        .service
        .impersonate(
            &fx.admin,
            tess.id,
            ImpersonateRequest {
                mode: ImpersonationMode::Impersonate,
                reason: "support ticket 9".into(),
            },
            Fixture::client(),
        )
        .await
        .unwrap()
        .token;
    assert!(both(read_only.clone(), "course.view").await.is_ok());
    assert!(matches!(
        both(read_only.clone(), "course.create").await,
        Err(Error::ReadOnlyImpersonation)
    ));
    fx.service
        .update_user(
            &fx.admin,
            tess.id,
            UpdateUser {
                status: Some(usermgmt_core::model::Status::Suspended),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        both(token, "course.view").await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(matches!(
        both(read_only, "course.view").await,
        Err(Error::Unauthenticated(_))
    ));
}
