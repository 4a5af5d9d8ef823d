//! Bringing users in (SPEC §11): the streamed import (validated like a create, all-or-nothing,
//! dry run, per batch, upsert, no escalation) and password hashes written by other systems, verified at
//! sign-in by their own algorithm and replaced by argon2id on the first success.

use usermgmt_core::Error;
use usermgmt_core::model::{AuditActor, Permission};
use usermgmt_core::password::{PasswordHash, check_foreign_hash};
use usermgmt_core::service::{ExportFormat, ImportMode, ImportOptions, RowOutcome, RowReport};
use usermgmt_core::storage::{Identifier, PasswordChange, UserReplace};

use crate::fixture::Fixture;
use crate::store::TestStore;

/// `(hash, its password)`, each made by an independent implementation: bcrypt from OpenBSD's
/// test vectors; Django's format, PBKDF2 and scrypt in PHC form by Python's `hashlib`.
const FOREIGN: [(&str, &str); 5] = [
    (
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
    ),
    (
        "pbkdf2_sha256$1000$seasalt123$9Ul4B8fJABZbg9uVV+QlZpaYAH7ukT41XN1Ym3fdF/c=",
        "imported passphrase",
    ),
    (
        "$pbkdf2-sha256$i=1000,l=32$cGVwcGVyIGFuZCBzYWx0IQ$c1sF8LBsWxbdOeJHSSr9iVCeHUnM1cfFjIyM/UEPfdc",
        "imported passphrase",
    ),
    (
        "$pbkdf2-sha512$i=1000,l=64$cGVwcGVyIGFuZCBzYWx0IQ$OdluH7FYfX/+jtWcXL7rpQqPRDzmmJlQiU8tm9RdM/Cd9TDQlbZJYPDFff4wENMAqOzL+CZcF2Y292J0CnMZvQ",
        "imported passphrase",
    ),
    (
        "$scrypt$ln=10,r=8,p=1$cGVwcGVyIGFuZCBzYWx0IQ$B1/NzgIlIBogSxONv1kPcVzciB9PX+XxfxxxZA6eSDQ",
        "imported passphrase",
    ),
];

/// Each foreign format signs in with its password (not with another), is replaced by an
/// argon2id hash at the first success — audited as done by the user — and signs in again
/// from the new hash.
pub async fn foreign_password_hashes_sign_in_and_are_rehashed(store: TestStore) {
    let fx = Fixture::new(store).await;
    for (i, (hash, password)) in FOREIGN.into_iter().enumerate() {
        assert!(check_foreign_hash(hash).is_ok(), "{hash}");
        let email = format!("migrated{i}@t1.test");
        let user = fx.create(&format!("Migrated {i}"), &email).await;
        let change = UserReplace {
            user: user.clone(),
            password: PasswordChange::Set(PasswordHash::imported(hash)),
            expected_version: user.version,
            audit: Vec::new(),
            end_sessions: None,
        };
        fx.store
            .storage
            .replace_user(&fx.tenant, change)
            .await
            .unwrap();
        assert!(
            matches!(
                fx.login(&email, "not the password").await,
                Err(Error::InvalidCredentials)
            ),
            "{hash}"
        );
        let signed_in = fx.login(&email, password).await;
        assert!(signed_in.is_ok(), "{hash}: {signed_in:?}");
        let stored = fx
            .store
            .storage
            .login_record(&fx.tenant, &Identifier::Email(email.clone()))
            .await
            .unwrap()
            .and_then(|(_, hash)| hash)
            .unwrap();
        assert!(
            stored.as_phc().starts_with("$argon2id$"),
            "{hash} was replaced"
        );
        assert!(
            !stored
                .needs_rehash(&usermgmt_core::password::PasswordPolicy::insecure_fast_for_tests())
        );
        let log = fx
            .service
            .audit_log(&fx.admin, user.id, 1, 50)
            .await
            .unwrap();
        let rehashed: Vec<_> = log
            .items
            .iter()
            .filter(|e| e.action.to_string() == "user.password_rehashed")
            .collect();
        assert_eq!(rehashed.len(), 1, "{hash}");
        assert_eq!(rehashed[0].actor, AuditActor::User(user.id));
        let text = serde_json::to_string(&log.items).unwrap();
        assert!(
            !text.contains(hash) && !text.contains("$argon2id$"),
            "no hash in the audit"
        );
        // Again, now from the argon2id hash: no second re-hash.
        assert!(fx.login(&email, password).await.is_ok(), "{hash}");
        let log = fx
            .service
            .audit_log(&fx.admin, user.id, 1, 50)
            .await
            .unwrap();
        assert_eq!(
            log.items
                .iter()
                .filter(|e| e.action.to_string() == "user.password_rehashed")
                .count(),
            1
        );
    }
}

/// Runs an import of `text` as the fixture's admin (or `principal`), collecting the reports.
async fn import(
    fx: &Fixture,
    principal: &usermgmt_core::Principal,
    text: &str,
    options: ImportOptions,
) -> (
    Result<usermgmt_core::service::ImportSummary, Error>,
    Vec<RowReport>,
) {
    let mut reports = Vec::new();
    let input = std::io::Cursor::new(text.as_bytes().to_vec());
    let summary = fx
        .service
        .import_users(principal, input, options, |r| reports.push(r.clone()))
        .await;
    (summary, reports)
}

/// The number of users in the fixture's tenant (deleted included).
async fn headcount(fx: &Fixture) -> u64 {
    let query = usermgmt_core::filter::ListQuery {
        include_total: true,
        page_size: 1,
        ..Default::default()
    };
    fx.service
        .list_users(&fx.admin, query)
        .await
        .unwrap()
        .total
        .unwrap_or_default()
}

fn csv_options() -> ImportOptions {
    ImportOptions {
        format: ExportFormat::Csv,
        ..ImportOptions::default()
    }
}

/// A CSV in the export's columns creates every row in one transaction, each validated like
/// a create, roles by name, audited with the import's batch id; JSON Lines too. One bad row
/// (a malformed email, an unknown role, a taken or repeated email) and nothing is written,
/// every problem reported on its line; a dry run reports without writing; per batch, the
/// good rows are kept.
pub async fn an_import_is_validated_and_all_or_nothing(store: TestStore) {
    let fx = Fixture::new(store).await;
    fx.create("Existing", "existing@t1.test").await;
    // A role to grant by name (the principal's user comes along: counted below).
    fx.principal_with("teacher", &[Permission::USER_LIST]).await;
    let before = headcount(&fx).await;
    let good = "name,email,user_type,roles,city,expertise\n\
                Ann Import,ann@t1.test,learner,,Berlin,rust;sql\n\
                Ben Import,ben@t1.test,instructor,teacher-role,,\n";
    let (summary, reports) = import(&fx, &fx.admin, good, csv_options()).await;
    let summary = summary.unwrap();
    assert_eq!(
        (summary.rows, summary.created, summary.invalid),
        (2, 2, 0),
        "{reports:?}"
    );
    assert!(summary.committed && !summary.dry_run);
    assert_eq!(reports.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3]);
    let ben = fx
        .service
        .get_user(&fx.admin, reports[1].id.unwrap())
        .await
        .unwrap();
    assert_eq!(
        (ben.name.as_str(), ben.roles.clone()),
        ("Ben Import", vec!["teacher-role".to_owned()])
    );
    let ann = fx
        .service
        .get_user(&fx.admin, reports[0].id.unwrap())
        .await
        .unwrap();
    assert_eq!(ann.profile.expertise, ["rust", "sql"]);
    let log = fx
        .service
        .audit_log(&fx.admin, ann.id, 1, 10)
        .await
        .unwrap();
    let created = &log.items[0];
    assert_eq!(created.action.to_string(), "user.created");
    assert_eq!(created.changes["import"].new, summary.batch_id.to_string());
    assert_eq!(headcount(&fx).await, before + 2);

    let bad = "name,email,user_type,roles\n\
               Cat,cat@t1.test,learner,\n\
               Dan,not-an-email,learner,\n\
               Eve,eve@t1.test,learner,no_such_role\n\
               Fay,EXISTING@t1.test,learner,\n\
               Gus,gus@t1.test,learner,\n\
               Gus Again,gus@t1.test,learner,\n";
    for dry_run in [true, false] {
        let options = ImportOptions {
            dry_run,
            ..csv_options()
        };
        let (summary, reports) = import(&fx, &fx.admin, bad, options).await;
        let summary = summary.unwrap();
        assert_eq!(
            (summary.rows, summary.created, summary.invalid),
            (6, 0, 4),
            "{reports:?}"
        );
        assert!(!summary.committed);
        let failed: Vec<(u64, String)> = reports
            .iter()
            .filter_map(|r| {
                r.errors
                    .as_ref()
                    .map(|e| (r.line, serde_json::to_string(e).unwrap()))
            })
            .collect();
        assert_eq!(
            failed.iter().map(|f| f.0).collect::<Vec<_>>(),
            [3, 4, 5, 7],
            "{failed:?}"
        );
        assert!(failed[0].1.contains("email"), "{failed:?}");
        assert!(failed[1].1.contains("no_such_role"), "{failed:?}");
        assert!(failed[2].1.contains("taken"), "{failed:?}");
        assert!(
            failed[3].1.contains("taken"),
            "a repeated email: {failed:?}"
        );
        assert_eq!(headcount(&fx).await, before + 2, "nothing written");
    }
    let per_batch = ImportOptions {
        per_batch: true,
        ..csv_options()
    };
    let (summary, _) = import(&fx, &fx.admin, bad, per_batch).await;
    let summary = summary.unwrap();
    assert_eq!((summary.created, summary.invalid), (2, 4));
    assert!(summary.committed);
    assert_eq!(headcount(&fx).await, before + 4, "the good rows kept");

    let lines = "{\"name\":\"Hal\",\"email\":\"hal@t1.test\",\"is_learner\":true}\n\n\
                 {\"name\":\"Ida\",\"email\":\"ida@t1.test\",\"is_learner\":true,\"id\":\"ignored\",\"version\":3}\n";
    let options = ImportOptions {
        format: ExportFormat::JsonLines,
        ..ImportOptions::default()
    };
    let (summary, reports) = import(&fx, &fx.admin, lines, options).await;
    assert_eq!(summary.unwrap().created, 2, "{reports:?}");
    assert_eq!(reports.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 3]);

    // A malformed file is refused as a whole; so is a line past the row limit (no unbounded
    // buffering).
    let (summary, _) = import(&fx, &fx.admin, "name,shoe_size\nJo,44\n", csv_options()).await;
    assert!(matches!(summary, Err(Error::Validation(_))));
    let long = format!("name,email,bio\nLo,lo@t1.test,{}\n", "b".repeat(70_000));
    let (summary, _) = import(&fx, &fx.admin, &long, csv_options()).await;
    assert!(matches!(summary, Err(Error::Validation(_))), "{summary:?}");

    // One import at a time: a second one, while the first waits for its input, is Busy.
    use tokio::io::AsyncWriteExt;
    let start_first = || {
        let (client, server) = tokio::io::duplex(64);
        let (service, admin) = (fx.service.clone(), fx.admin.clone());
        let first = tokio::spawn(async move {
            service
                .import_users(&admin, server, csv_options(), |_| {})
                .await
        });
        (client, first)
    };
    let (mut client, mut first) = start_first();
    client.write_all(b"name,email,user_type\n").await.unwrap();
    // The first takes the import slot as soon as its task runs (later under load): try
    // until it holds it (an empty second import writes nothing meanwhile). A probe that held
    // the slot just when the first asked for it made the first Busy: start it again.
    let mut second = import(&fx, &fx.admin, "name\n", csv_options()).await.0;
    for _ in 0..100 {
        if matches!(second, Err(Error::Busy { .. })) {
            break;
        }
        if first.is_finished() {
            let refused = first.await.unwrap();
            assert!(matches!(refused, Err(Error::Busy { .. })), "{refused:?}");
            (client, first) = start_first();
            client.write_all(b"name,email,user_type\n").await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        second = import(&fx, &fx.admin, "name\n", csv_options()).await.0;
    }
    assert!(matches!(second, Err(Error::Busy { .. })), "{second:?}");
    client
        .write_all(b"Zed,zed@t1.test,learner\n")
        .await
        .unwrap();
    drop(client);
    assert_eq!(first.await.unwrap().unwrap().created, 1);
}

/// An import grants no more than its caller holds (roles and permissions beyond their reach
/// are row errors), needs `user.create`, takes other systems' hashes (checked) and refuses
/// plain-text passwords unless allowed.
pub async fn an_import_cannot_escalate_and_checks_passwords(store: TestStore) {
    let fx = Fixture::new(store).await;
    let (creator, _) = fx
        .principal_with("creator", &[Permission::USER_CREATE])
        .await;
    let escalating = "name,email,user_type,roles\nMal,mal@t1.test,admin,super_admin\n";
    let (summary, reports) = import(&fx, &creator, escalating, csv_options()).await;
    assert_eq!(summary.unwrap().created, 0);
    let errors = serde_json::to_string(&reports[0].errors).unwrap();
    assert!(errors.contains("do not hold"), "{errors}");
    let (viewer, _) = fx.principal_with("viewer", &[]).await;
    let (summary, _) = import(&fx, &viewer, "name,email\n", csv_options()).await;
    assert!(matches!(summary, Err(Error::Forbidden(_))));

    let (hash, password) = FOREIGN[1];
    let with_hash = format!("name,email,user_type,password_hash\nDj,dj@t1.test,learner,{hash}\n");
    let (summary, reports) = import(&fx, &fx.admin, &with_hash, csv_options()).await;
    assert_eq!(summary.unwrap().created, 1, "{reports:?}");
    assert!(
        fx.login("dj@t1.test", password).await.is_ok(),
        "the imported hash signs in"
    );
    let broken = "name,email,user_type,password_hash\nBo,bo@t1.test,learner,$2b$31$xyz\n";
    let (_, reports) = import(&fx, &fx.admin, broken, csv_options()).await;
    assert!(
        serde_json::to_string(&reports[0].errors)
            .unwrap()
            .contains("password_hash")
    );
    let plain = "name,email,user_type,password\nPl,pl@t1.test,learner,  a good long password \n";
    let (summary, reports) = import(&fx, &fx.admin, plain, csv_options()).await;
    assert_eq!(summary.unwrap().created, 0);
    assert!(
        serde_json::to_string(&reports[0].errors)
            .unwrap()
            .contains("allow_plaintext_passwords")
    );
    let allowed = ImportOptions {
        allow_plaintext_passwords: true,
        ..csv_options()
    };
    let (summary, _) = import(&fx, &fx.admin, plain, allowed).await;
    assert_eq!(summary.unwrap().created, 1);
    assert!(
        fx.login("pl@t1.test", "  a good long password ")
            .await
            .is_ok(),
        "a password is taken as written, spaces included"
    );
}

/// In upsert mode a row whose email (else phone) names a stored user changes the fields it
/// gives — checked like an edit (outranking, own account, grants) and audited with the batch
/// id — and an identical row is reported unchanged; other rows are created.
pub async fn an_upsert_updates_the_users_its_rows_name(store: TestStore) {
    let fx = Fixture::new(store).await;
    let ann = fx.create("Ann", "ann@t1.test").await;
    let upsert = ImportOptions {
        mode: ImportMode::Upsert,
        ..csv_options()
    };
    let file = "name,email,city,user_type\n\
                Ann Renamed,ANN@t1.test,Paris,\n\
                New Person,new@t1.test,Rome,learner\n";
    let (summary, reports) = import(&fx, &fx.admin, file, upsert).await;
    let summary = summary.unwrap();
    assert_eq!(
        (
            summary.created,
            summary.updated,
            summary.unchanged,
            summary.invalid
        ),
        (1, 1, 0, 0),
        "{reports:?}"
    );
    assert_eq!(reports[0].outcome, RowOutcome::Updated);
    assert_eq!(reports[0].id, Some(ann.id));
    let changed = fx.service.get_user(&fx.admin, ann.id).await.unwrap();
    assert_eq!(changed.name, "Ann Renamed");
    assert_eq!(changed.profile.city.as_deref(), Some("Paris"));
    assert!(changed.is_learner, "fields the row does not give are kept");
    let log = fx
        .service
        .audit_log(&fx.admin, ann.id, 1, 10)
        .await
        .unwrap();
    assert_eq!(log.items[0].action.to_string(), "user.updated");
    assert_eq!(
        log.items[0].changes["import"].new,
        summary.batch_id.to_string()
    );

    // The same file again: nothing to change.
    let (summary, reports) = import(&fx, &fx.admin, file, upsert).await;
    let summary = summary.unwrap();
    assert_eq!(
        (summary.created, summary.updated, summary.unchanged),
        (0, 0, 2)
    );
    assert!(reports.iter().all(|r| r.outcome == RowOutcome::Unchanged));
    // Create mode: the same email is taken.
    let (summary, _) = import(&fx, &fx.admin, file, csv_options()).await;
    assert_eq!(summary.unwrap().invalid, 2);

    // An upsert sets an imported hash too.
    let (hash, password) = FOREIGN[1];
    let with_hash = format!("email,password_hash\nann@t1.test,{hash}\n");
    let (summary, _) = import(&fx, &fx.admin, &with_hash, upsert).await;
    assert_eq!(summary.unwrap().updated, 1);
    assert!(fx.login("ann@t1.test", password).await.is_ok());

    // Checked like an edit: a weaker importer cannot change the admin, nor anyone deactivate
    // their own account; without user.update an upsert is refused.
    let (editor, editor_user) = fx
        .principal_with(
            "editor",
            &[Permission::USER_CREATE, Permission::USER_UPDATE],
        )
        .await;
    let stronger = "email,city\nadmin@t1.test,Oslo\n";
    let (summary, reports) = import(&fx, &editor, stronger, upsert).await;
    assert_eq!(summary.unwrap().invalid, 1);
    assert!(
        serde_json::to_string(&reports[0].errors)
            .unwrap()
            .contains("cannot change")
    );
    let own = format!(
        "email,status\n{},suspended\n",
        editor_user.email.clone().unwrap()
    );
    let (_, reports) = import(&fx, &editor, &own, upsert).await;
    assert!(
        serde_json::to_string(&reports[0].errors)
            .unwrap()
            .contains("own account")
    );
    let (creator, _) = fx
        .principal_with("creator", &[Permission::USER_CREATE])
        .await;
    let (summary, _) = import(&fx, &creator, file, upsert).await;
    assert!(matches!(summary, Err(Error::Forbidden(_))));
    assert_eq!(
        fx.service
            .get_user(&fx.admin, fx.admin_id)
            .await
            .unwrap()
            .profile
            .city,
        None
    );
}
