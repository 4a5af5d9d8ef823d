//! Account flows (SPEC §10): one-time tokens and the password reset — sent by an
//! administrator, requested by anyone for an identifier, confirmed with the link's token.

use uuid::Uuid;

use super::audit::{change, event};
use super::core::UserService;
use super::login::{ClientInfo, parse_identifier};
use crate::error::{Error, Result};
use crate::model::{
    AccountToken, AuditAction, AuditTargetKind, Permission, SessionToken, Status, TenantId,
    TokenKind, User,
};
use crate::notify::{Notification, Recipient};
use crate::password::Password;
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

impl UserService {
    /// Issues a one-time token of `kind` for `user` (superseding earlier ones of that kind
    /// for them), answering its secret: sent to the user, never stored. Expired tokens are
    /// swept on the way.
    pub(crate) async fn issue_token(
        &self,
        user: &User,
        kind: TokenKind,
    ) -> Result<(SessionToken, AccountToken)> {
        let now = self.clock.now();
        self.storage.sweep_tokens(now).await?;
        let secret = SessionToken::generate().map_err(|e| {
            Error::Storage(crate::error::StorageError::new(
                "drawing a random token",
                e.to_string(),
            ))
        })?;
        let token = AccountToken {
            id: Uuid::now_v7(),
            tenant_id: user.tenant_id.clone(),
            user_id: user.id,
            kind,
            created_at: now,
            expires_at: now + self.config.flows.ttl(kind),
        };
        self.storage
            .issue_token(&user.tenant_id, &token, secret.hash())
            .await?;
        Ok((secret, token))
    }

    /// Redeems a token of `kind` in `tenant`: consumed once, or refused with a clear error on
    /// `token` (unknown, already used, replaced by a newer one, expired).
    pub(crate) async fn redeem_token(
        &self,
        tenant: &TenantId,
        secret: &SessionToken,
        kind: TokenKind,
    ) -> Result<AccountToken> {
        let refused = |why: &str| Error::invalid("token", why.to_owned());
        if !secret.is_plausible() {
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

    /// Issues a token for `user` and sends its link; a failed delivery is
    /// [`Error::DeliveryFailed`] (the token stays issued: a later resend supersedes it).
    async fn send_link(&self, user: &User, kind: TokenKind) -> Result<()> {
        let recipient = match (&user.email, &user.phone) {
            (Some(email), _) => Recipient::Email(email.clone()),
            (None, Some(phone)) => Recipient::Phone(phone.clone()),
            (None, None) => {
                return Err(Error::invalid(
                    "user_id",
                    "the user has no email or phone to send to",
                ));
            }
        };
        let (secret, token) = self.issue_token(user, kind).await?;
        let link = format!(
            "{}/account/{}?token={}",
            self.config.flows.link_base.trim_end_matches('/'),
            page(kind),
            secret.expose()
        );
        let message = Notification {
            kind,
            tenant_id: user.tenant_id.clone(),
            user_id: user.id,
            name: user.name.clone(),
            recipient,
            locale: user.profile.locale.clone(),
            link,
            expires_at: token.expires_at,
        };
        self.notifier.send(&message).await.map_err(|e| {
            tracing::warn!(user = %user.id, kind = %kind, error = %e, "account message not delivered");
            Error::DeliveryFailed(e.0)
        })
    }

    /// Sends the user a password-reset link. Requires `user.update` and outranking the user;
    /// audited. A delivery failure is [`Error::DeliveryFailed`].
    pub async fn send_password_reset(&self, principal: &Principal, user_id: Uuid) -> Result<()> {
        let actor = self
            .authorize_write(principal, Permission::USER_UPDATE)
            .await?;
        self.ensure_outranks(&actor, user_id).await?;
        let user = self.load_user(&actor, user_id).await?;
        if user.status == Status::Deleted {
            return Err(Error::NotFound("user"));
        }
        self.send_link(&user, TokenKind::PasswordReset).await?;
        let audit = event(
            principal,
            AuditTargetKind::User,
            user_id,
            AuditAction::PasswordResetSent,
            change("by", "admin".into()),
            self.clock.now(),
        );
        self.storage.insert_audit(&actor.tenant_id, audit).await
    }

    /// Anyone asks for a password-reset link for an identifier (email, phone or username).
    /// The answer is the same, and as fast, whether or not an account matches: the look-up
    /// and the delivery run after it, in the background. Counts against the client's login
    /// budget ([`Error::TooManyRequests`] past it).
    pub async fn request_password_reset(
        &self,
        tenant: &TenantId,
        identifier: &str,
        client: ClientInfo,
    ) -> Result<()> {
        self.guard.admit_client(client.ip)?;
        if identifier.trim().is_empty() || identifier.chars().count() > 254 {
            return Err(Error::invalid("identifier", "1-254 characters"));
        }
        let service = self.clone();
        let tenant = tenant.clone();
        let identifier = identifier.to_owned();
        tokio::spawn(async move {
            if let Err(error) = service.reset_for_identifier(&tenant, &identifier).await {
                tracing::warn!(%error, "a requested password reset was not sent");
            }
        });
        Ok(())
    }

    async fn reset_for_identifier(&self, tenant: &TenantId, identifier: &str) -> Result<()> {
        let forms = parse_identifier(
            identifier,
            self.config.validation.default_phone_region.as_deref(),
        );
        for form in &forms {
            if let Some(user) = self.storage.find_user(tenant, form).await? {
                if user.status == Status::Deleted {
                    return Ok(());
                }
                // One link per user per minute at most: repeated requests do not flood them.
                if self.guard.admit_reset(&user.id) {
                    self.send_link(&user, TokenKind::PasswordReset).await?;
                }
                return Ok(());
            }
        }
        Ok(())
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
        let mut errors = crate::error::FieldErrors::new();
        self.config
            .password
            .check(&password, "password", &mut errors);
        errors.into_result()?;
        let redeemed = self
            .redeem_token(tenant, token, TokenKind::PasswordReset)
            .await?;
        let hash = self.hash_password(&password).await?;
        let by_user = Principal::user(tenant.clone(), redeemed.user_id);
        for _ in 0..3 {
            let current = self
                .storage
                .get_user(tenant, redeemed.user_id)
                .await?
                .filter(|u| u.status != Status::Deleted)
                .ok_or_else(|| Error::invalid("token", "this link is not valid"))?;
            let now = self.clock.now();
            let mut next = current.clone();
            next.failed_login_attempts = 0;
            next.locked_until = None;
            next.has_password = true;
            next.updated_at = now;
            let audit = |action, value: &str| {
                event(
                    &by_user,
                    AuditTargetKind::User,
                    current.id,
                    action,
                    change("password", value.into()),
                    now,
                )
            };
            let change = UserReplace {
                user: next,
                password: PasswordChange::Set(hash.clone()),
                expected_version: current.version,
                audit: vec![audit(AuditAction::PasswordReset, "reset by link")],
                end_sessions: Some(audit(AuditAction::SessionsTerminated, "password reset")),
            };
            match self.storage.replace_user(tenant, change).await {
                Err(Error::VersionConflict { .. }) => continue,
                other => return other.map(|_| ()),
            }
        }
        Err(Error::Conflict {
            fields: vec!["token".to_owned()],
        })
    }
}

/// How recent the sign-in of an account without a password must be for it to delete itself.
const RECENT_SIGN_IN: chrono::Duration = chrono::Duration::minutes(10);

impl UserService {
    /// The signed-in user deletes their own account: a soft delete with the effects of an
    /// administrator's (status `deleted`, every session ended), audited as done by the user.
    /// They confirm with their password; an account without one needs a session started in
    /// the last 10 minutes. Only from the user's own session (not an impersonation), and the
    /// tenant's last active super admin cannot.
    pub async fn delete_own_account(
        &self,
        principal: &Principal,
        password: Option<Password>,
    ) -> Result<()> {
        let own_session = match principal {
            Principal::User {
                session_id: Some(session_id),
                impersonation: None,
                ..
            } => *session_id,
            _ => {
                return Err(Error::Unauthenticated(
                    "deleting an account needs the user's own session".to_owned(),
                ));
            }
        };
        let actor = self.resolve_actor(principal).await?;
        let current = self
            .storage
            .get_user(&actor.tenant_id, actor.user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let identifier = [
            current.email.clone().map(crate::storage::Identifier::Email),
            current.phone.clone().map(crate::storage::Identifier::Phone),
            current
                .username
                .clone()
                .map(crate::storage::Identifier::Username),
        ]
        .into_iter()
        .flatten()
        .next();
        let hash = match &identifier {
            Some(identifier) => self
                .storage
                .login_record(&actor.tenant_id, identifier)
                .await?
                .and_then(|(_, hash)| hash),
            None => None,
        };
        let wrong = || Error::invalid("password", "does not match the account's password");
        match (hash, password) {
            (Some(hash), Some(password)) => {
                if !self.verify_password(&password, &hash).await? {
                    return Err(wrong());
                }
            }
            (Some(_), None) => return Err(Error::invalid("password", "is required")),
            (None, _) => {
                let now = self.clock.now();
                let recent = self
                    .storage
                    .list_sessions(&actor.tenant_id, actor.user_id, now)
                    .await?
                    .into_iter()
                    .any(|s| s.id == own_session && now - s.created_at <= RECENT_SIGN_IN);
                if !recent {
                    return Err(Error::invalid(
                        "password",
                        "sign in again (within 10 minutes) to delete an account without a password",
                    ));
                }
            }
        }
        self.soft_delete(principal, current).await.map(|_| ())
    }
}
