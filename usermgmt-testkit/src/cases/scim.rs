//! SPEC §12: provisioning tokens, and SCIM filters compiled onto the typed filters giving
//! exactly what the filter means over the SCIM resources (the reference: RFC 7644's semantics
//! evaluated on each user's JSON).

use chrono::Duration;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use usermgmt_core::filter::{ListQuery, SortBy, SortOrder};
use usermgmt_core::model::{AuditAction, AuditActor, Permission, SUPER_ADMIN_ROLE, Status, User};
use usermgmt_core::scim::compile::{Compiled, ENTERPRISE_USER, compile};
use usermgmt_core::scim::eval::matches;
use usermgmt_core::scim::filter::parse;
use usermgmt_core::scim::user::user_resource;
use usermgmt_core::service::{CreateProvisioningToken, CreateUser, MemberChange};
use usermgmt_core::{Error, Principal};

use crate::fixture::{Fixture, tenant};
use crate::store::TestStore;

fn named(name: &str) -> CreateProvisioningToken {
    CreateProvisioningToken { name: name.into() }
}

/// A token needs `user.provision`, opens only its tenant, acts within what its creator holds
/// now, is audited as itself, and stops at revocation or when its creator is suspended.
pub async fn provisioning_tokens_act_within_their_creator(store: TestStore) {
    let fx = &Fixture::new(store).await;
    let (plain, _) = fx
        .principal_with("noprov", &[Permission::USER_LIST, Permission::USER_CREATE])
        .await;
    assert!(matches!(
        fx.service.create_provisioning_token(&plain, named("idp")).await,
        Err(Error::Forbidden(p)) if p == Permission::USER_PROVISION
    ));
    assert!(matches!(
        fx.service
            .create_provisioning_token(&fx.admin, named("  "))
            .await,
        Err(Error::Validation(_))
    ));

    // A creator who may provision and list users, but not create them.
    let (limited, limited_user) = fx
        .principal_with("prov", &[Permission::USER_PROVISION, Permission::USER_LIST])
        .await;
    let issued = fx
        .service
        .create_provisioning_token(&limited, named("Okta"))
        .await
        .expect("token");
    assert!(issued.secret.starts_with("umprov_"));
    let listed = fx
        .service
        .list_provisioning_tokens(&limited)
        .await
        .expect("list");
    assert_eq!(listed, vec![issued.token.clone()]);
    let principal = fx
        .service
        .authenticate_provisioner(&fx.tenant, &issued.secret)
        .await
        .expect("authenticates");
    assert_eq!(
        principal,
        Principal::Provisioner {
            tenant_id: fx.tenant.clone(),
            token_id: issued.token.id
        }
    );
    // Another tenant, a near miss and a session-shaped secret open nothing.
    for (t, secret) in [
        (tenant("t2"), issued.secret.clone()),
        (fx.tenant.clone(), format!("{}x", issued.secret)),
        (
            fx.tenant.clone(),
            issued.secret.trim_start_matches("umprov_").to_owned(),
        ),
    ] {
        assert!(matches!(
            fx.service.authenticate_provisioner(&t, &secret).await,
            Err(Error::Unauthenticated(_))
        ));
    }
    // Within the creator's grants: listing works, creating does not.
    fx.service
        .list_users(&principal, ListQuery::default())
        .await
        .expect("the creator may list");
    assert!(matches!(
        fx.service
            .create_user(&principal, Fixture::learner("X", "x@t1.test"))
            .await,
        Err(Error::Forbidden(p)) if p == Permission::USER_CREATE
    ));

    // A full admin's token creates, and the change is audited as the token.
    let admin_token = fx
        .service
        .create_provisioning_token(&fx.admin, named("Entra"))
        .await
        .expect("token");
    let provisioner = fx
        .service
        .authenticate_provisioner(&fx.tenant, &admin_token.secret)
        .await
        .expect("authenticates");
    let user = fx
        .service
        .create_user(
            &provisioner,
            Fixture::learner("Provisioned", "made@t1.test"),
        )
        .await
        .expect("creates");
    let events = fx
        .service
        .audit_log(&fx.admin, user.id, 1, 20)
        .await
        .expect("audit")
        .items;
    assert_eq!(
        events[0].actor,
        AuditActor::Provisioning(admin_token.token.id)
    );
    assert!(matches!(
        fx.service.create_note(&provisioner, user.id, "hi").await,
        Err(Error::Unauthenticated(_))
    ));
    // Secrets are shown once: never listed again.
    let listed = fx
        .service
        .list_provisioning_tokens(&fx.admin)
        .await
        .expect("list");
    let text = serde_json::to_string(&listed).unwrap_or_default();
    assert!(!text.contains(&admin_token.secret) && !text.contains(&issued.secret));

    // The token reaches no one holding more than it may do: not its own creator (no "own
    // account" exemption), so taking an account over never gains it anything.
    let rename = usermgmt_core::service::UpdateUser {
        name: Some("Taken over".into()),
        ..Default::default()
    };
    assert!(matches!(
        fx.service
            .update_user(&provisioner, fx.admin_id, rename)
            .await,
        Err(Error::Forbidden(_))
    ));

    // The creator no longer holding user.provision: the token stops.
    let roles = fx.service.list_roles(&fx.admin).await.expect("roles");
    let prov_role = roles.iter().find(|r| r.name == "prov-role").expect("role");
    let narrowed = usermgmt_core::service::UpdateRole {
        permissions: Some(vec![Permission::USER_LIST]),
        ..Default::default()
    };
    fx.service
        .update_role(&fx.admin, prov_role.id, narrowed)
        .await
        .expect("narrow");
    assert!(matches!(
        fx.service
            .list_users(&principal, ListQuery::default())
            .await,
        Err(Error::Unauthenticated(_))
    ));
    let widened = usermgmt_core::service::UpdateRole {
        permissions: Some(vec![Permission::USER_LIST, Permission::USER_PROVISION]),
        ..Default::default()
    };
    fx.service
        .update_role(&fx.admin, prov_role.id, widened)
        .await
        .expect("widen");
    fx.service
        .list_users(&principal, ListQuery::default())
        .await
        .expect("works again");

    // The creator suspended: the token stops.
    let suspend = usermgmt_core::service::UpdateUser {
        status: Some(Status::Suspended),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, limited_user.id, suspend)
        .await
        .expect("suspend");
    assert!(matches!(
        fx.service
            .list_users(&principal, ListQuery::default())
            .await,
        Err(Error::Unauthenticated(_))
    ));

    // Revoked: the principal already in hand stops at once, and the secret opens nothing.
    fx.service
        .revoke_provisioning_token(&fx.admin, admin_token.token.id)
        .await
        .expect("revoke");
    assert!(matches!(
        fx.service
            .list_users(&provisioner, ListQuery::default())
            .await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(matches!(
        fx.service
            .authenticate_provisioner(&fx.tenant, &admin_token.secret)
            .await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(matches!(
        fx.service
            .revoke_provisioning_token(&fx.admin, admin_token.token.id)
            .await,
        Err(Error::NotFound(_))
    ));
}

const BASE: &str = "http://scim.test/scim/v2";

async fn scim_users(fx: &Fixture) -> Vec<User> {
    let mut users = Vec::new();
    for i in 0..24u32 {
        fx.clock.advance(Duration::minutes(1));
        let status = match i % 6 {
            1 => Status::Inactive,
            2 => Status::Suspended,
            3 => Status::PendingVerification,
            _ => Status::Active,
        };
        let input = CreateUser {
            name: format!("Person {i}"),
            email: Some(format!("P{i}@Example.com")),
            username: (i % 3 != 0).then(|| format!("user.{i}")),
            unique_id: (i % 4 == 0).then(|| format!("EMP-{i}")),
            designation: (i % 2 == 0).then(|| format!("Title {i}")),
            status: Some(status),
            is_learner: true,
            ..Default::default()
        };
        users.push(
            fx.service
                .create_user(&fx.admin, input)
                .await
                .expect("create"),
        );
    }
    // A deleted user is never a SCIM result.
    let gone = users.pop().expect("a user");
    fx.service
        .delete_user(&fx.admin, gone.id)
        .await
        .expect("delete");
    users
}

fn cased(rng: &mut StdRng, text: &str) -> String {
    text.chars()
        .map(|c| {
            if rng.random_bool(0.3) {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// A leaf the compiler answers.
fn leaf(rng: &mut StdRng, users: &[User]) -> String {
    let user = users.choose(rng).expect("users");
    let attr = |rng: &mut StdRng, name: &str| cased(rng, name);
    match rng.random_range(0..7) {
        0 => {
            let v = user.username.clone().unwrap_or_else(|| "nobody".into());
            format!("{} eq \"{}\"", attr(rng, "userName"), cased(rng, &v))
        }
        1 => {
            let v = cased(rng, user.email.as_deref().unwrap_or("none@x.test"));
            match rng.random_range(0..3) {
                0 => format!("{} eq \"{v}\"", attr(rng, "emails")),
                1 => format!("{} eq \"{v}\"", attr(rng, "emails.value")),
                _ => format!("emails[{} eq \"{v}\"]", attr(rng, "value")),
            }
        }
        2 => {
            let v = user.unique_id.clone().unwrap_or_else(|| "EMP-x".into());
            format!("{ENTERPRISE_USER}:employeeNumber eq \"{}\"", cased(rng, &v))
        }
        3 => {
            let id = if rng.random_bool(0.8) {
                user.id
            } else {
                uuid::Uuid::now_v7()
            };
            format!("id eq \"{id}\"")
        }
        4 => format!(
            "{} {} {}",
            attr(rng, "active"),
            ["eq", "ne"].choose(rng).expect("op"),
            rng.random_bool(0.5)
        ),
        _ => {
            let mut at = user.created_at;
            if rng.random_bool(0.3) {
                at += Duration::seconds(30);
            }
            format!(
                "{} {} \"{}\"",
                attr(rng, "meta.created"),
                ["gt", "ge", "lt", "le", "eq"].choose(rng).expect("op"),
                usermgmt_core::scim::user::instant(at)
            )
        }
    }
}

/// A filter the compiler answers (`and` anything; `or` within one attribute).
fn answerable(rng: &mut StdRng, users: &[User], depth: u32) -> String {
    match rng.random_range(0..if depth == 0 { 1 } else { 4 }) {
        0 => leaf(rng, users),
        1 => format!(
            "({}) and ({})",
            answerable(rng, users, depth - 1),
            answerable(rng, users, depth - 1)
        ),
        2 => {
            let a = users.choose(rng).expect("user");
            let b = users.choose(rng).expect("user");
            let name = |u: &User| u.username.clone().unwrap_or_else(|| "nobody".into());
            format!("userName eq \"{}\" or userName eq \"{}\"", name(a), name(b))
        }
        _ => format!("not (active eq {})", rng.random_bool(0.5)),
    }
}

/// Any filter of the grammar, answerable or not.
fn any_filter(rng: &mut StdRng, users: &[User], depth: u32) -> String {
    match rng.random_range(0..if depth == 0 { 2 } else { 6 }) {
        0 => answerable(rng, users, depth.min(1)),
        1 => [
            "displayName co \"Person 1\"",
            "userName sw \"user\"",
            "title pr",
            "userName pr",
            "emails[type eq \"work\"]",
            "name.familyName eq \"x\"",
            "active gt true",
        ]
        .choose(rng)
        .map(|s| (*s).to_owned())
        .unwrap_or_default(),
        2 => format!("{} or {}", leaf(rng, users), leaf(rng, users)),
        3 => format!("not ({})", any_filter(rng, users, depth - 1)),
        4 => format!(
            "{} and ({})",
            any_filter(rng, users, depth - 1),
            any_filter(rng, users, depth - 1)
        ),
        _ => format!(
            "({}) or ({})",
            any_filter(rng, users, depth - 1),
            any_filter(rng, users, depth - 1)
        ),
    }
}

/// Random SCIM filters: every answerable one, and every other one the compiler accepts, lists
/// exactly the users whose SCIM resource the filter matches (RFC 7644 semantics); the others
/// are refused as invalid filters.
pub async fn scim_filters_give_what_the_reference_gives(store: TestStore) {
    let fx = &Fixture::new(store).await;
    let users = scim_users(fx).await;
    let mut everyone = fx
        .service
        .list_users(
            &fx.admin,
            ListQuery {
                page_size: 500,
                ..Default::default()
            },
        )
        .await
        .expect("list")
        .items;
    everyone.retain(|u| u.status != Status::Deleted);
    let rng = &mut StdRng::seed_from_u64(0x5c1f);
    let (mut answered, mut refused) = (0, 0);
    for round in 0..400u32 {
        let text = if round % 2 == 0 {
            answerable(rng, &users, 2)
        } else {
            any_filter(rng, &users, 2)
        };
        let filter = parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let expected: Vec<uuid::Uuid> = everyone
            .iter()
            .filter(|u| matches(&filter, &user_resource(u, BASE)))
            .map(|u| u.id)
            .collect();
        let got: Vec<uuid::Uuid> = match compile(&filter) {
            Ok(Compiled::Nothing) => Vec::new(),
            Ok(Compiled::Filters(filters)) => {
                let query = ListQuery {
                    filters: *filters,
                    sort_by: SortBy::CreatedAt,
                    sort_order: SortOrder::Asc,
                    page_size: 500,
                    ..Default::default()
                };
                let page = fx
                    .service
                    .list_users(&fx.admin, query)
                    .await
                    .unwrap_or_else(|e| panic!("{text}: {e}"));
                page.items.into_iter().map(|u| u.id).collect()
            }
            Err(e) => {
                assert!(
                    round % 2 == 1,
                    "an answerable filter was refused: {text}: {e}"
                );
                refused += 1;
                continue;
            }
        };
        let mut expected = expected;
        expected.sort();
        let mut got = got;
        got.sort();
        assert_eq!(got, expected, "filter {text}");
        answered += 1;
    }
    assert!(
        answered >= 200 && refused >= 20,
        "{answered} answered, {refused} refused"
    );
}

/// A role's members change in one transaction, within the token's reach, audited as the
/// token; the super-admin role is no group.
pub async fn role_members_change_together(store: TestStore) {
    let fx = &Fixture::new(store).await;
    let issued = fx
        .service
        .create_provisioning_token(&fx.admin, named("idp"))
        .await
        .expect("token");
    let idp = fx
        .service
        .authenticate_provisioner(&fx.tenant, &issued.secret)
        .await
        .expect("authenticates");
    let course = Fixture::host("course.view");
    let role = fx
        .service
        .create_role(
            &fx.admin,
            usermgmt_core::service::CreateRole {
                name: "students".into(),
                description: None,
                permissions: vec![course],
            },
        )
        .await
        .expect("role");
    let a = fx.create("A", "a@t1.test").await;
    let b = fx.create("B", "b@t1.test").await;
    // An unknown user fails the whole change: nobody gets the role.
    let unknown = uuid::Uuid::now_v7();
    let change = [MemberChange::Add(vec![a.id, b.id, unknown])];
    assert!(matches!(
        fx.service.change_role_members(&idp, &role, &change).await,
        Err(Error::Validation(_))
    ));
    assert!(
        fx.service
            .role_members(&fx.admin, &role)
            .await
            .expect("members")
            .is_empty()
    );

    fx.service
        .change_role_members(&idp, &role, &[MemberChange::Add(vec![a.id, b.id])])
        .await
        .expect("add");
    let mut got: Vec<_> = fx
        .service
        .role_members(&fx.admin, &role)
        .await
        .expect("members")
        .into_iter()
        .map(|u| u.id)
        .collect();
    got.sort();
    let mut want = vec![a.id, b.id];
    want.sort();
    assert_eq!(got, want);
    fx.service
        .change_role_members(&idp, &role, &[MemberChange::Replace(vec![b.id])])
        .await
        .expect("replace");
    let got: Vec<_> = fx
        .service
        .role_members(&fx.admin, &role)
        .await
        .expect("members")
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(got, vec![b.id]);
    let events = fx
        .service
        .audit_log(&fx.admin, a.id, 1, 20)
        .await
        .expect("audit")
        .items;
    assert!(
        events
            .iter()
            .filter(|e| e.action == AuditAction::UserGrantsChanged)
            .count()
            == 2
            && events[0].actor == AuditActor::Provisioning(issued.token.id)
    );

    // Beyond the token's reach: a role carrying a built-in permission outside its scope.
    let exporters = fx
        .service
        .create_role(
            &fx.admin,
            usermgmt_core::service::CreateRole {
                name: "exporters".into(),
                description: None,
                permissions: vec![Permission::USER_EXPORT],
            },
        )
        .await
        .expect("role");
    assert!(matches!(
        fx.service
            .change_role_members(&idp, &exporters, &[MemberChange::Add(vec![a.id])])
            .await,
        Err(Error::Forbidden(_))
    ));
    // The super-admin role is no group.
    let roles = fx.service.list_roles(&fx.admin).await.expect("roles");
    let root = roles
        .iter()
        .find(|r| r.name == SUPER_ADMIN_ROLE)
        .expect("root role");
    assert!(matches!(
        fx.service.member_role(&idp, root.id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        fx.service
            .change_role_members(&idp, root, &[MemberChange::Add(vec![a.id])])
            .await,
        Err(Error::NotFound(_))
    ));
}
