//! Invitations and verification (SPEC §10): an administrator invites a user without a
//! password, who sets one with the link (verifying the address it reached) and becomes
//! active; a `pending_verification` user confirms a link (email) or a six-digit code (SMS),
//! which verifies the address and activates them.

use uuid::Uuid;

use super::core::UserService;
use super::flows::{CODE_WINDOW, code_hash, recipient_of, still_addressed};
use super::inputs::CreateUser;
use super::login::ClientInfo;
use crate::error::{Error, FieldErrors, Result};
use crate::model::{
    AccountToken, AuditAction, Permission, Recipient, SessionToken, Status, TenantId, TokenKind,
    User,
};
use crate::principal::Principal;
use crate::storage::{CodeAttempt, CodeLimits};
use crate::validate::UserDraft;

/// Marks the address a token's message reached verified, if it is still the user's; an
/// address changed since is refused (the message proved the old one).
fn verify_address(user: &mut User, token: &AccountToken) -> Result<()> {
    still_addressed(user, token)?;
    match &token.sent_to {
        Some(Recipient::Email(_)) => user.email_verified = true,
        Some(Recipient::Phone(_)) => user.phone_verified = true,
        None => {}
    }
    Ok(())
}

/// The rules of `invite: true` on create: no password given, and somewhere to send to.
pub(crate) fn check_invite(input: &CreateUser, draft: &UserDraft, errors: &mut FieldErrors) {
    if input.invite && input.password.is_some() {
        errors.add(
            "invite",
            "an invited user sets their own password: omit `password`",
        );
    }
    if input.invite && draft.email.is_none() && draft.phone.is_none() {
        errors.add(
            "invite",
            "needs an email or phone to send the invitation to",
        );
    }
}

/// Whether `user` has something to verify: they are `pending_verification`, or the address
/// their messages go to is not verified.
fn needs_verification(user: &User) -> bool {
    user.status == Status::PendingVerification
        || match recipient_of(user) {
            Ok(Recipient::Email(_)) => !user.email_verified,
            Ok(Recipient::Phone(_)) => !user.phone_verified,
            Err(_) => false,
        }
}

impl UserService {
    /// Sends (or sends again) an invitation to a user without a password: its link lets
    /// them set one. Requires `user.update` and outranking the user; audited; a delivery
    /// failure is [`Error::DeliveryFailed`].
    pub async fn send_invitation(&self, principal: &Principal, user_id: Uuid) -> Result<()> {
        self.invite(principal, user_id, Permission::USER_UPDATE)
            .await
    }

    /// Sends an invitation on behalf of a holder of `permission` (`user.update` to resend,
    /// `user.create` right after creating the user).
    async fn invite(
        &self,
        principal: &Principal,
        user_id: Uuid,
        permission: Permission,
    ) -> Result<()> {
        self.send_as_admin(
            principal,
            (user_id, permission),
            TokenKind::Invitation,
            AuditAction::InvitationSent,
            |user| {
                if user.has_password {
                    return Err(Error::invalid(
                        "user_id",
                        "the user already has a password: send a password reset instead",
                    ));
                }
                Ok(())
            },
        )
        .await
    }

    /// Sends the invitation of a user just created, when `invite` was asked for; a failure
    /// is reported with the user's id, since the creation stands.
    pub(crate) async fn invite_created(
        &self,
        principal: &Principal,
        user: User,
        invite: bool,
    ) -> Result<User> {
        if !invite {
            return Ok(user);
        }
        match self
            .invite(principal, user.id, Permission::USER_CREATE)
            .await
        {
            Err(Error::DeliveryFailed(why)) => Err(Error::DeliveryFailed(format!(
                "the user {} was created, but the invitation was not delivered ({why}); send it \
                 again with POST /v1/users/{}/invite",
                user.id, user.id
            ))),
            other => other.map(|()| user),
        }
    }

    /// Accepts an invitation with its link's token: sets the password (the policy applies,
    /// checked before the token is spent), marks the address the invitation reached verified
    /// and makes a `pending_verification` user `active` (an `inactive` or `suspended` user
    /// keeps that status: an invitation does not undo an administrator's decision). Refused
    /// when the account has a password by now. Audited as done by the user.
    pub async fn accept_invitation(
        &self,
        tenant: &TenantId,
        token: &SessionToken,
        password: crate::password::Password,
    ) -> Result<User> {
        let (redeemed, hash) = self
            .redeem_with_password(tenant, token, TokenKind::Invitation, &password)
            .await?;
        self.complete_flow(
            tenant,
            redeemed.user_id,
            Some(hash),
            (AuditAction::InvitationAccepted, "invitation accepted"),
            false,
            |user| {
                if user.has_password {
                    return Err(Error::invalid(
                        "token",
                        "the account has a password by now: sign in, or ask for a password reset",
                    ));
                }
                verify_address(user, &redeemed)?;
                user.has_password = true;
                user.failed_login_attempts = 0;
                user.locked_until = None;
                if user.status == Status::PendingVerification {
                    user.status = Status::Active;
                }
                Ok(())
            },
        )
        .await
    }

    /// Sends (or sends again) a verification: a link to the user's email, or a six-digit code
    /// by SMS to a user with only a phone. Requires `user.update` and outranking the user;
    /// audited; a delivery failure is [`Error::DeliveryFailed`].
    pub async fn send_verification(&self, principal: &Principal, user_id: Uuid) -> Result<()> {
        self.send_as_admin(
            principal,
            (user_id, Permission::USER_UPDATE),
            TokenKind::Verification,
            AuditAction::VerificationSent,
            |user| {
                if !needs_verification(user) {
                    return Err(Error::invalid("user_id", "the user is already verified"));
                }
                Ok(())
            },
        )
        .await
    }

    /// Anyone asks for a new verification for an identifier — what a user whose login
    /// answered "verification required" does. The same answer whether or not an account
    /// matches; sent in the background to users with something to verify, at most once a
    /// minute each; counts against the client's login budget.
    pub async fn request_verification(
        &self,
        tenant: &TenantId,
        identifier: &str,
        client: ClientInfo,
    ) -> Result<()> {
        self.request_message(
            tenant,
            identifier,
            client,
            TokenKind::Verification,
            needs_verification,
        )
    }

    /// Confirms a verification link's token: the address it reached is verified and a
    /// `pending_verification` user becomes `active`. Audited as done by the user.
    pub async fn confirm_verification(
        &self,
        tenant: &TenantId,
        token: &SessionToken,
    ) -> Result<User> {
        let redeemed = self
            .redeem_token(tenant, token, TokenKind::Verification)
            .await?;
        self.verified(tenant, &redeemed).await
    }

    /// Confirms a verification code sent by SMS, for the account an identifier names. Every
    /// refusal reads the same (unknown identifier, wrong code, no current code); a code is
    /// void after [`crate::service::FlowOptions::code_attempts`] wrong tries, and every code
    /// of the user after [`crate::service::FlowOptions::code_failures_per_day`] wrong tries
    /// in a day (new codes do not buy new tries). Counts against the client's login budget.
    pub async fn confirm_verification_code(
        &self,
        tenant: &TenantId,
        identifier: &str,
        code: &str,
        client: ClientInfo,
    ) -> Result<User> {
        self.guard.admit_client(client.ip)?;
        let refused = || {
            Error::invalid(
                "code",
                "this code is not valid (a code stops working after a few wrong tries or when \
                 it expires: ask for a new one)",
            )
        };
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refused());
        }
        if identifier.chars().count() > 254 {
            return Err(Error::invalid("identifier", "at most 254 characters"));
        }
        let Some(user) = self.find_by_identifier(tenant, identifier).await? else {
            return Err(refused());
        };
        let attempt = self
            .storage
            .attempt_code(
                tenant,
                (user.id, TokenKind::Verification),
                code_hash(tenant, user.id, code),
                self.clock.now(),
                CodeLimits {
                    per_code: self.config.flows.code_attempts,
                    per_day: self.config.flows.code_failures_per_day,
                    since: self.clock.now() - CODE_WINDOW,
                },
            )
            .await?;
        match attempt {
            CodeAttempt::Consumed(token) => self.verified(tenant, &token).await,
            CodeAttempt::Wrong { .. } | CodeAttempt::NoCode => Err(refused()),
        }
    }

    async fn verified(&self, tenant: &TenantId, token: &AccountToken) -> Result<User> {
        self.complete_flow(
            tenant,
            token.user_id,
            None,
            (AuditAction::Verified, "verified"),
            false,
            |user| {
                verify_address(user, token)?;
                if user.status == Status::PendingVerification {
                    user.status = Status::Active;
                }
                Ok(())
            },
        )
        .await
    }
}
