//! Account flows (SPEC §10): one-time tokens, sending them, completing a flow; the password
//! reset (sent by an administrator, requested by anyone for an identifier, confirmed with the
//! link's token). Invitations and verification are in `invitations.rs`, self-service
//! deletion in `self_delete.rs`.

use uuid::Uuid;

use super::audit::{change, event};
use super::core::UserService;
use super::login::{ClientInfo, parse_identifier};
use crate::error::{Error, Result};
use crate::model::{
    AccountToken, AuditAction, AuditTargetKind, Permission, SessionToken, Status, TenantId,
    TokenKind, User,
};
use crate::notify::{Notification, Proof, Recipient};
use crate::password::{Password, PasswordHash};
use crate::principal::Principal;
use crate::storage::{PasswordChange, UserReplace};

/// The path segment of a kind's link.
fn page(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Invitation => "accept-invitation",
        TokenKind::PasswordReset => "reset-password",
        TokenKind::Verification => "verify",
    }
}

/// The stored hash of a short code: bound to its tenant and user (codes recur across users)
/// and of a preimage no link token has (links are only looked up in their generated form), so
/// a code is only ever tried through [`crate::storage::TokenStore::attempt_code`], with its
/// attempt limits.
pub(crate) fn code_hash(tenant: &TenantId, user_id: Uuid, code: &str) -> [u8; 32] {
    SessionToken::from_client(format!("usermgmt-code:{tenant}:{user_id}:{code}")).hash()
}

/// The window over which wrong code attempts are summed per user
/// ([`crate::service::FlowOptions::code_failures_per_day`]).
pub(crate) const CODE_WINDOW: chrono::Duration = chrono::Duration::days(1);

/// Six random decimal digits, uniformly drawn.
fn draw_code() -> Result<String> {
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_err(random_failed)?;
        let value = u32::from_le_bytes(bytes);
        // 4,294,000,000 is the largest multiple of 1,000,000 below 2^32: no modulo bias.
        if value < 4_294_000_000 {
            return Ok(format!("{:06}", value % 1_000_000));
        }
    }
}

fn random_failed(e: getrandom::Error) -> Error {
    Error::Storage(crate::error::StorageError::new(
        "drawing a random token",
        e.to_string(),
    ))
}

/// Refuses a token whose message went to an address the user no longer has: the link proved
/// the old address, not the current one (a changed email or phone voids earlier links).
pub(crate) fn still_addressed(user: &User, token: &AccountToken) -> Result<()> {
    let current = match &token.sent_to {
        None => true,
        Some(Recipient::Email(email)) => user.email.as_ref() == Some(email),
        Some(Recipient::Phone(phone)) => user.phone.as_ref() == Some(phone),
    };
    if current {
        Ok(())
    } else {
        Err(Error::invalid(
            "token",
            "the address this was sent to is no longer the account's: ask for a new one",
        ))
    }
}

/// Where a user's account messages go: the email when there is one, else the phone.
pub(crate) fn recipient_of(user: &User) -> Result<Recipient> {
    match (&user.email, &user.phone) {
        (Some(email), _) => Ok(Recipient::Email(email.clone())),
        (None, Some(phone)) => Ok(Recipient::Phone(phone.clone())),
        (None, None) => Err(Error::invalid(
            "user_id",
            "the user has no email or phone to send to",
        )),
    }
}

impl UserService {
    /// Stores a one-time token of `kind` for `user` by the hash of its secret (superseding
    /// earlier ones of that kind for them). Expired tokens are swept on the way.
    async fn issue_token(
        &self,
        user: &User,
        kind: TokenKind,
        sent_to: &Recipient,
        secret_hash: [u8; 32],
        ttl: chrono::Duration,
    ) -> Result<AccountToken> {
        let now = self.clock.now();
        // Tokens are kept a day past their expiry: wrong code attempts count over a day.
        self.storage.sweep_tokens(now - CODE_WINDOW).await?;
        let expires_at = now
            .checked_add_signed(ttl)
            .ok_or_else(|| Error::invalid("flows", "a token lifetime is out of range"))?;
        let token = AccountToken {
            id: Uuid::now_v7(),
            tenant_id: user.tenant_id.clone(),
            user_id: user.id,
            kind,
            created_at: now,
            expires_at,
            sent_to: Some(sent_to.clone()),
        };
        self.storage
            .issue_token(&user.tenant_id, &token, secret_hash)
            .await?;
        Ok(token)
    }

    /// Redeems a link's token of `kind` in `tenant`: consumed once, or refused with a clear
    /// error on `token` (unknown, already used, replaced by a newer one, expired).
    pub(crate) async fn redeem_token(
        &self,
        tenant: &TenantId,
        secret: &SessionToken,
        kind: TokenKind,
    ) -> Result<AccountToken> {
        let refused = |why: &str| Error::invalid("token", why.to_owned());
        // Only the generated form is looked up: a short code's stored hash (whose preimage has
        // another form) can never be reached here, only through the attempt-limited route.
        if !secret.is_generated_form() {
            return Err(refused("this link is not valid"));
        }
        let now = self.clock.now();
        let found = self
            .storage
            .consume_token(tenant, secret.hash(), kind, now)
            .await?;
        match found {
            None => Err(refused("this link is not valid")),
            Some(stored) if stored.consumed => Ok(stored.token),
            Some(stored) if stored.used_at.is_some() => Err(refused("this link was already used")),
            Some(stored) if stored.superseded_at.is_some() => {
                Err(refused("a newer link replaced this one"))
            }
            Some(_) => Err(refused("this link has expired")),
        }
    }

    /// Redeems a link's token that sets a password: the policy is checked first (a refused
    /// password leaves the token unspent), then the token is spent and the password hashed.
    pub(crate) async fn redeem_with_password(
        &self,
        tenant: &TenantId,
        token: &SessionToken,
        kind: TokenKind,
        password: &Password,
    ) -> Result<(AccountToken, PasswordHash)> {
        let mut errors = crate::error::FieldErrors::new();
        self.config
            .password
            .check(password, "password", &mut errors);
        errors.into_result()?;
        let redeemed = self.redeem_token(tenant, token, kind).await?;
        let hash = self.hash_password(password).await?;
        Ok((redeemed, hash))
    }

    /// Issues a token for `user` and sends it: a six-digit code for a verification by SMS,
    /// a link otherwise. A failed delivery is [`Error::DeliveryFailed`] (the token stays
    /// issued: a later resend supersedes it).
    pub(crate) async fn send_message(&self, user: &User, kind: TokenKind) -> Result<()> {
        let recipient = recipient_of(user)?;
        let (proof, token) = match (&recipient, kind) {
            (Recipient::Phone(_), TokenKind::Verification) => {
                let code = draw_code()?;
                let ttl = self.config.flows.code_ttl;
                let hash = code_hash(&user.tenant_id, user.id, &code);
                let token = self.issue_token(user, kind, &recipient, hash, ttl).await?;
                (Proof::Code(code), token)
            }
            _ => {
                let secret = SessionToken::generate().map_err(random_failed)?;
                let ttl = self.config.flows.ttl(kind);
                let token = self
                    .issue_token(user, kind, &recipient, secret.hash(), ttl)
                    .await?;
                let link = format!(
                    "{}/account/{}?token={}",
                    self.config.flows.link_base.trim_end_matches('/'),
                    page(kind),
                    secret.expose()
                );
                (Proof::Link(link), token)
            }
        };
        let message = Notification {
            kind,
            tenant_id: user.tenant_id.clone(),
            user_id: user.id,
            name: user.name.clone(),
            recipient,
            locale: user.profile.locale.clone(),
            proof,
            expires_at: token.expires_at,
        };
        self.notifier.send(&message).await.map_err(|e| {
            // The notifier's own words go to the log; callers get a fixed sentence.
            tracing::warn!(user = %user.id, kind = %kind, error = %e, "account message not delivered");
            Error::DeliveryFailed("the message could not be delivered".to_owned())
        })
    }

    /// An administrator sends `user_id` a message of `kind`: `permission` and outranking the
    /// user are required, `ready` checks the user can take it, and it is audited as `action`.
    pub(crate) async fn send_as_admin(
        &self,
        principal: &Principal,
        (user_id, permission): (Uuid, Permission),
        kind: TokenKind,
        action: AuditAction,
        ready: impl Fn(&User) -> Result<()>,
    ) -> Result<()> {
        let actor = self.authorize_write(principal, permission).await?;
        self.ensure_outranks(&actor, user_id).await?;
        let user = self.load_user(&actor, user_id).await?;
        if user.status == Status::Deleted {
            return Err(Error::NotFound("user"));
        }
        ready(&user)?;
        self.send_message(&user, kind).await?;
        let audit = event(
            principal,
            AuditTargetKind::User,
            user_id,
            action,
            change("by", "admin".into()),
            self.clock.now(),
        );
        self.storage.insert_audit(&actor.tenant_id, audit).await
    }

    /// Anyone asks for a message of `kind` for an identifier (email, phone or username).
    /// The answer is the same, and as fast, whether or not an account matches: the look-up
    /// and the delivery run after it, in the background, for users `wanted` accepts, at
    /// most once a minute per user and kind. Counts against the client's login budget
    /// ([`Error::TooManyRequests`] past it).
    pub(crate) fn request_message(
        &self,
        tenant: &TenantId,
        identifier: &str,
        client: ClientInfo,
        kind: TokenKind,
        wanted: fn(&User) -> bool,
    ) -> Result<()> {
        self.guard.admit_client(client.ip)?;
        if identifier.trim().is_empty() || identifier.chars().count() > 254 {
            return Err(Error::invalid("identifier", "1-254 characters"));
        }
        let service = self.clone();
        let tenant = tenant.clone();
        let identifier = identifier.to_owned();
        tokio::spawn(async move {
            let sent = async {
                match service.find_by_identifier(&tenant, &identifier).await? {
                    Some(user) if wanted(&user) && service.guard.admit_message(&user.id, kind) => {
                        service.send_message(&user, kind).await
                    }
                    _ => Ok(()),
                }
            };
            if let Err(error) = sent.await {
                tracing::warn!(%error, %kind, "a requested account message was not sent");
            }
        });
        Ok(())
    }

    /// The user an identifier (email, phone or username) names in `tenant`, unless deleted.
    pub(crate) async fn find_by_identifier(
        &self,
        tenant: &TenantId,
        identifier: &str,
    ) -> Result<Option<User>> {
        let forms = parse_identifier(
            identifier,
            self.config.validation.default_phone_region.as_deref(),
        );
        for form in &forms {
            if let Some(user) = self.storage.find_user(tenant, form).await? {
                return Ok(Some(user).filter(|u| u.status != Status::Deleted));
            }
        }
        Ok(None)
    }

    /// Completes a flow for the user a token acted for: `edit` turns the current state into
    /// the next (retried on a concurrent change), `password` is set, and the change is
    /// audited as done by the user; `end_sessions` ends every session of theirs.
    pub(crate) async fn complete_flow(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        password: Option<PasswordHash>,
        (action, detail): (AuditAction, &str),
        end_sessions: bool,
        edit: impl Fn(&mut User) -> Result<()>,
    ) -> Result<User> {
        let by_user = Principal::user(tenant.clone(), user_id);
        for _ in 0..3 {
            let current = self
                .storage
                .get_user(tenant, user_id)
                .await?
                .filter(|u| u.status != Status::Deleted)
                .ok_or_else(|| Error::invalid("token", "this link is not valid"))?;
            let now = self.clock.now();
            let mut next = current.clone();
            edit(&mut next)?;
            next.updated_at = now;
            let audit = |action, value: &str| {
                event(
                    &by_user,
                    AuditTargetKind::User,
                    current.id,
                    action,
                    change("flow", value.into()),
                    now,
                )
            };
            let change = UserReplace {
                user: next,
                password: match &password {
                    Some(hash) => PasswordChange::Set(hash.clone()),
                    None => PasswordChange::Keep,
                },
                expected_version: current.version,
                audit: vec![audit(action, detail)],
                end_sessions: end_sessions.then(|| audit(AuditAction::SessionsTerminated, detail)),
            };
            match self.storage.replace_user(tenant, change).await {
                Err(Error::VersionConflict { .. }) => continue,
                other => return other,
            }
        }
        Err(Error::Conflict {
            fields: vec!["token".to_owned()],
        })
    }

    /// Sends the user a password-reset link. Requires `user.update` and outranking the user;
    /// audited. A delivery failure is [`Error::DeliveryFailed`].
    pub async fn send_password_reset(&self, principal: &Principal, user_id: Uuid) -> Result<()> {
        self.send_as_admin(
            principal,
            (user_id, Permission::USER_UPDATE),
            TokenKind::PasswordReset,
            AuditAction::PasswordResetSent,
            |_| Ok(()),
        )
        .await
    }

    /// Anyone asks for a password-reset link for an identifier (email, phone or username).
    /// The answer is the same, and as fast, whether or not an account matches: the look-up
    /// and the delivery run after it, in the background (one link per user per minute at
    /// most). Counts against the client's login budget ([`Error::TooManyRequests`] past it).
    pub async fn request_password_reset(
        &self,
        tenant: &TenantId,
        identifier: &str,
        client: ClientInfo,
    ) -> Result<()> {
        self.request_message(tenant, identifier, client, TokenKind::PasswordReset, |_| {
            true
        })
    }

    /// Sets a new password with a reset link's token: the password policy applies (checked
    /// before the token is spent), every session of the user ends, a lockout is cleared, and
    /// it is audited as done by the user.
    pub async fn confirm_password_reset(
        &self,
        tenant: &TenantId,
        token: &SessionToken,
        password: Password,
    ) -> Result<()> {
        let (redeemed, hash) = self
            .redeem_with_password(tenant, token, TokenKind::PasswordReset, &password)
            .await?;
        self.complete_flow(
            tenant,
            redeemed.user_id,
            Some(hash),
            (AuditAction::PasswordReset, "password reset"),
            true,
            |user| {
                still_addressed(user, &redeemed)?;
                user.failed_login_attempts = 0;
                user.locked_until = None;
                user.has_password = true;
                Ok(())
            },
        )
        .await
        .map(|_| ())
    }
}
