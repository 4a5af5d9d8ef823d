//! Bringing users in (SPEC §11): password hashes written by other systems are verified at
//! sign-in by their own algorithm and replaced by argon2id on the first success.

use usermgmt_core::Error;
use usermgmt_core::model::AuditActor;
use usermgmt_core::password::{PasswordHash, check_foreign_hash};
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
        assert!(!stored.needs_rehash());
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
