//! Account flows (SPEC §10): one-time tokens (single use, expiry, supersession, hashing,
//! tenant scoping) through the password reset — sent by an administrator, requested for an
//! identifier, confirmed with the link's token.

use chrono::Duration;
use usermgmt_core::model::{SessionToken, TokenKind};
use usermgmt_core::notify::Recipient;
use usermgmt_core::password::Password;
use usermgmt_core::{Error, Principal};

use super::common::{next_message, refused_on, token_of};
use crate::fixture::{Fixture, PASSWORD, tenant};
use crate::store::TestStore;

const NEW_PASSWORD: &str = "a brand new passphrase";

/// A validation error on `token` whose message contains `why`.
fn refused(result: Result<(), Error>, why: &str) {
    assert!(refused_on(result, "token", why), "{why}");
}

/// An administrator sends a reset link; its token is stored only as a hash, works once,
/// sets a password that passes the policy, ends the user's sessions, clears a lockout, and
/// both steps are audited.
pub async fn a_reset_link_works_once(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Rita", "rita@t1.test", "rita", "+14155550101")
        .await;
    let session = fx.login("rita@t1.test", PASSWORD).await.unwrap();
    for _ in 0..5 {
        let _ = fx.login("rita@t1.test", "wrong password!").await;
    }
    fx.service
        .send_password_reset(&fx.admin, user.id)
        .await
        .unwrap();
    let message = fx.notifier.messages().pop().unwrap();
    assert_eq!(message.kind, TokenKind::PasswordReset);
    assert_eq!(message.recipient, Recipient::Email("rita@t1.test".into()));
    assert!(
        message
            .link()
            .unwrap_or_default()
            .starts_with("/account/reset-password?token=")
    );
    assert!(
        !format!("{message:?}").contains(message.link().unwrap_or("missing")),
        "Debug hides the link"
    );
    let token = token_of(&message);
    assert_eq!(token.expose().len(), 43, "256 random bits");
    assert_eq!(message.expires_at, fx.clock_now() + Duration::hours(1));

    // The secret itself is no key: only its hash finds the token.
    let as_hash = SessionToken::from_client(hex(&token.hash()));
    refused(
        fx.service
            .confirm_password_reset(&fx.tenant, &as_hash, Password::new(NEW_PASSWORD))
            .await,
        "not valid",
    );
    // The policy is checked before the token is spent.
    assert!(matches!(
        fx.service
            .confirm_password_reset(&fx.tenant, &token, Password::new("short"))
            .await,
        Err(Error::Validation(_))
    ));
    fx.service
        .confirm_password_reset(&fx.tenant, &token, Password::new(NEW_PASSWORD))
        .await
        .unwrap();
    refused(
        fx.service
            .confirm_password_reset(&fx.tenant, &token, Password::new(NEW_PASSWORD))
            .await,
        "already used",
    );
    assert!(fx.service.authenticate(&session.token).await.is_err());
    assert!(fx.login("rita@t1.test", PASSWORD).await.is_err());
    let signed_in = fx.login("rita@t1.test", NEW_PASSWORD).await.unwrap();
    assert_eq!(signed_in.user.id, user.id, "the lockout was cleared");
    let log = fx
        .service
        .audit_log(&fx.admin, user.id, 1, 50)
        .await
        .unwrap();
    let actions: Vec<String> = log.items.iter().map(|e| e.action.to_string()).collect();
    assert!(
        actions.contains(&"user.password_reset_sent".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"user.password_reset".to_owned()),
        "{actions:?}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A newer link replaces older ones of its kind; an expired link is refused; a link works
/// only in its own tenant (and a try from another tenant does not spend it).
pub async fn reset_links_are_superseded_expire_and_stay_in_their_tenant(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Sam", "sam@t1.test", "sam", "+14155550102")
        .await;
    fx.service
        .send_password_reset(&fx.admin, user.id)
        .await
        .unwrap();
    let first = token_of(&fx.notifier.messages().pop().unwrap());
    fx.service
        .send_password_reset(&fx.admin, user.id)
        .await
        .unwrap();
    let second = token_of(&fx.notifier.messages().pop().unwrap());
    refused(
        fx.service
            .confirm_password_reset(&fx.tenant, &first, Password::new(NEW_PASSWORD))
            .await,
        "newer link",
    );
    refused(
        fx.service
            .confirm_password_reset(&tenant("t2"), &second, Password::new(NEW_PASSWORD))
            .await,
        "not valid",
    );
    fx.service
        .confirm_password_reset(&fx.tenant, &second, Password::new(NEW_PASSWORD))
        .await
        .unwrap();

    fx.service
        .send_password_reset(&fx.admin, user.id)
        .await
        .unwrap();
    let third = token_of(&fx.notifier.messages().pop().unwrap());
    fx.clock.advance(Duration::minutes(61));
    refused(
        fx.service
            .confirm_password_reset(&fx.tenant, &third, Password::new(NEW_PASSWORD))
            .await,
        "expired",
    );
}

/// Anyone may ask for a reset link for an identifier: the answer is the same whether or not
/// an account matches; only a matching account gets a message, at most one a minute.
/// Sending one needs `user.update` and outranking the user.
pub async fn requested_resets_answer_the_same(store: TestStore) {
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Una", "una@t1.test", "una", "+14155550103")
        .await;
    let client = Fixture::client();
    let known = fx
        .service
        .request_password_reset(&fx.tenant, "UNA@t1.test", client.clone())
        .await;
    let unknown = fx
        .service
        .request_password_reset(&fx.tenant, "nobody@t1.test", client.clone())
        .await;
    assert_eq!(format!("{known:?}"), format!("{unknown:?}"));
    assert!(known.is_ok());
    let message = next_message(&fx, 0)
        .await
        .expect("a message for the account");
    assert_eq!(message.user_id, user.id);
    // Again at once, by username: no second message within the minute.
    fx.service
        .request_password_reset(&fx.tenant, "una", client.clone())
        .await
        .unwrap();
    assert!(next_message(&fx, 1).await.is_none(), "one a minute");
    fx.service
        .confirm_password_reset(&fx.tenant, &token_of(&message), Password::new(NEW_PASSWORD))
        .await
        .unwrap();
    assert!(matches!(
        fx.service
            .request_password_reset(&fx.tenant, " ", client)
            .await,
        Err(Error::Validation(_))
    ));

    let (limited, _) = fx.principal_with("helpdesk", &[]).await;
    assert!(matches!(
        fx.service.send_password_reset(&limited, user.id).await,
        Err(Error::Forbidden(_))
    ));
    let (updater, _) = fx
        .principal_with("updater", &[usermgmt_core::model::Permission::USER_UPDATE])
        .await;
    assert!(
        matches!(
            fx.service.send_password_reset(&updater, fx.admin_id).await,
            Err(Error::Forbidden(_))
        ),
        "a limited admin cannot take over a stronger account"
    );
    let system = Principal::system(fx.tenant.clone());
    assert!(matches!(
        fx.service.send_password_reset(&system, user.id).await,
        Err(Error::Unauthenticated(_))
    ));
}

/// A signed-in user deletes their own account with their password: a soft delete that ends
/// their sessions, audited as done by them. Not without the password, not from an
/// impersonation or without a session, and never the tenant's last super admin.
pub async fn users_delete_their_own_account(store: TestStore) {
    use usermgmt_core::model::{AuditAction, AuditActor, ImpersonationMode, Status};
    use usermgmt_core::service::ImpersonateRequest;
    let fx = Fixture::new(store).await;
    let user = fx
        .create_with_password("Vic", "vic@t1.test", "vic", "+14155550104")
        .await;
    let token = fx.login("vic@t1.test", PASSWORD).await.unwrap().token;
    let (me, _) = fx.service.authenticate(&token).await.unwrap();

    let no_session = Principal::user(fx.tenant.clone(), user.id);
    assert!(matches!(
        fx.service
            .delete_own_account(&no_session, Some(Password::new(PASSWORD)))
            .await,
        Err(Error::Unauthenticated(_))
    ));
    let masquerade = fx
        .service
        .impersonate(
            &fx.admin,
            user.id,
            ImpersonateRequest {
                mode: ImpersonationMode::Masquerade,
                reason: "ticket 77".into(),
            },
            Fixture::client(),
        )
        .await
        .unwrap()
        .token;
    let (as_vic, _) = fx.service.authenticate(&masquerade).await.unwrap();
    assert!(matches!(
        fx.service
            .delete_own_account(&as_vic, Some(Password::new(PASSWORD)))
            .await,
        Err(Error::Unauthenticated(_))
    ));
    for password in [None, Some(Password::new("not my password"))] {
        assert!(matches!(
            fx.service.delete_own_account(&me, password).await,
            Err(Error::Validation(_))
        ));
    }
    // Wrong passwords here count toward the login lockout (no free guessing): one failure
    // so far; four more lock the account, and a locked account is not deleted.
    for _ in 0..3 {
        assert!(matches!(
            fx.service
                .delete_own_account(&me, Some(Password::new("guess")))
                .await,
            Err(Error::Validation(_))
        ));
    }
    assert!(matches!(
        fx.service
            .delete_own_account(&me, Some(Password::new("guess")))
            .await,
        Err(Error::Locked { .. })
    ));
    assert!(matches!(
        fx.service
            .delete_own_account(&me, Some(Password::new(PASSWORD)))
            .await,
        Err(Error::Locked { .. })
    ));
    fx.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        fx.service
            .get_user(&fx.admin, user.id)
            .await
            .unwrap()
            .status,
        Status::Active,
        "refusals change nothing"
    );

    fx.service
        .delete_own_account(&me, Some(Password::new(PASSWORD)))
        .await
        .unwrap();
    let deleted = fx.service.get_user(&fx.admin, user.id).await.unwrap();
    assert_eq!(deleted.status, Status::Deleted);
    assert!(
        fx.service.authenticate(&token).await.is_err(),
        "sessions ended"
    );
    let log = fx
        .service
        .audit_log(&fx.admin, user.id, 1, 50)
        .await
        .unwrap();
    let deletion = log
        .items
        .iter()
        .find(|e| e.action == AuditAction::UserDeleted)
        .expect("audited");
    assert_eq!(deletion.actor, AuditActor::User(user.id));

    // The only super admin stays.
    let admin_token = fx.login("admin@t1.test", PASSWORD).await.unwrap().token;
    let (admin, _) = fx.service.authenticate(&admin_token).await.unwrap();
    assert!(matches!(
        fx.service
            .delete_own_account(&admin, Some(Password::new(PASSWORD)))
            .await,
        Err(Error::Validation(_))
    ));
}
