//! Password login, session-token authentication, logout and "who am I".

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::UserService;
use super::audit::event;
use crate::error::{Error, Result, StorageError};
use crate::model::{
    AuditAction, AuditTargetKind, ImpersonationMode, Session, SessionToken, Status, TenantId, User,
};
use crate::password::{Password, PasswordHash};
use crate::principal::{Impersonation, Principal};
use crate::storage::Identifier;
use crate::validate::{normalize_email, normalize_phone};

/// Longest accepted user agent; longer ones are cut.
const MAX_USER_AGENT: usize = 512;
/// Longest accepted token text (a real one has 43 characters).
const MAX_TOKEN_LEN: usize = 128;

/// Credentials for a password login. The identifier is an email, a phone number or a
/// username, matched ignoring case.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email, phone or username.
    pub identifier: String,
    /// The password.
    pub password: Password,
}

/// What the client's connection says about it, recorded on the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The client's IP address.
    pub ip: Option<IpAddr>,
}

/// A new session: the token (shown once; only its hash is stored), the session and the user.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The bearer token for later requests.
    pub token: SessionToken,
    /// The session.
    pub session: Session,
    /// The signed-in (or impersonated) user.
    pub user: User,
}

/// Reads an identifier: with `@` an email, starting with `+` or a digit a phone, otherwise a
/// username. `None` when it cannot be any of them.
fn parse_identifier(raw: &str, default_region: Option<&str>) -> Option<Identifier> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 254 {
        None
    } else if raw.contains('@') {
        normalize_email(raw).ok().map(Identifier::Email)
    } else if raw.starts_with('+') || raw.starts_with(|c: char| c.is_ascii_digit()) {
        normalize_phone(raw, default_region)
            .ok()
            .map(Identifier::Phone)
    } else {
        Some(Identifier::Username(raw.to_lowercase()))
    }
}

impl UserService {
    /// Signs a user in with a password and starts a session.
    ///
    /// Errors: [`Error::InvalidCredentials`] for an unknown identifier, a wrong password, a user
    /// without a password or a deleted user (all alike, and all costing one argon2
    /// verification, so timing reveals nothing); [`Error::Locked`] while locked after too many
    /// failures (the failure that reaches the limit already answers `Locked`); and, only after
    /// a correct password, [`Error::VerificationRequired`], [`Error::AccountInactive`] or
    /// [`Error::AccountSuspended`]. A correct password resets the failure count.
    pub async fn login(
        &self,
        tenant: &TenantId,
        request: LoginRequest,
        client: ClientInfo,
    ) -> Result<LoginOutcome> {
        let now = self.clock.now();
        let identifier = parse_identifier(
            &request.identifier,
            self.config.validation.default_phone_region.as_deref(),
        );
        let record = match &identifier {
            Some(identifier) => self.storage.login_record(tenant, identifier).await?,
            None => None,
        };
        let (user, hash) = match record {
            Some((user, Some(hash))) if user.status != Status::Deleted => (user, hash),
            _ => {
                return self
                    .refuse_after_equal_work(&request.password, Error::InvalidCredentials)
                    .await;
            }
        };
        if let Some(until) = user.locked_until.filter(|until| *until > now) {
            return self
                .refuse_after_equal_work(&request.password, Error::Locked { until })
                .await;
        }
        if !self
            .config
            .password
            .verify(&request.password, &hash)
            .await?
        {
            let policy = &self.config.login;
            let failure = self
                .storage
                .record_login_failure(
                    tenant,
                    user.id,
                    now,
                    policy.max_failed_attempts,
                    now + policy.lock_duration,
                )
                .await?;
            return Err(match failure.locked_until {
                Some(until) if until > now => Error::Locked { until },
                _ => Error::InvalidCredentials,
            });
        }
        match user.status {
            Status::Active => {}
            Status::PendingVerification => return Err(Error::VerificationRequired),
            Status::Inactive => return Err(Error::AccountInactive),
            Status::Suspended => return Err(Error::AccountSuspended),
            Status::Deleted => return Err(Error::InvalidCredentials),
        }
        let (token, session) = self.new_session(&user, None, None, client, now)?;
        let user = self
            .storage
            .record_login_success(&session, token.hash())
            .await?;
        Ok(LoginOutcome {
            token,
            session,
            user,
        })
    }

    /// Verifies the password against a dummy hash of the configured cost, then fails with
    /// `error`: refusals that need no real verification cost the same as those that do.
    async fn refuse_after_equal_work<T>(&self, password: &Password, error: Error) -> Result<T> {
        let dummy = self
            .dummy_hash
            .get_or_try_init(|| async {
                self.config
                    .password
                    .hash(&Password::new("timing-equaliser-not-a-password"))
                    .await
            })
            .await?;
        self.config.password.verify(password, dummy).await?;
        Err(error)
    }

    /// A fresh token and the session it opens for `user`.
    pub(crate) fn new_session(
        &self,
        user: &User,
        impersonation: Option<(Uuid, ImpersonationMode, String)>,
        lifetime: Option<chrono::Duration>,
        client: ClientInfo,
        now: DateTime<Utc>,
    ) -> Result<(SessionToken, Session)> {
        let token = SessionToken::generate().map_err(|e| {
            Error::Storage(StorageError::new(
                "generating a session token",
                e.to_string(),
            ))
        })?;
        let user_agent = client
            .user_agent
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT)
                    .collect::<String>()
            })
            .filter(|ua| !ua.is_empty());
        let location = client.ip.and_then(|ip| self.geo.locate(ip));
        let (impersonator_id, impersonation_mode, impersonation_reason) = match impersonation {
            Some((id, mode, reason)) => (Some(id), Some(mode), Some(reason)),
            None => (None, None, None),
        };
        let session = Session {
            id: Uuid::now_v7(),
            tenant_id: user.tenant_id.clone(),
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
            expires_at: now + lifetime.unwrap_or(self.config.sessions.lifetime),
            terminated_at: None,
            user_agent,
            ip: client.ip,
            location,
            impersonator_id,
            impersonation_mode,
            impersonation_reason,
        };
        Ok((token, session))
    }

    /// Resolves a bearer token to the principal it stands for (with its session and any
    /// impersonation). Unknown, expired and terminated tokens are
    /// [`Error::Unauthenticated`]. Refreshes `last_seen_at` at most once per
    /// [`crate::service::SessionPolicy::touch_interval`].
    pub async fn authenticate(&self, token: &SessionToken) -> Result<(Principal, Session)> {
        let unauthenticated = || Error::Unauthenticated("invalid or expired session".to_owned());
        if token.expose().is_empty() || token.expose().len() > MAX_TOKEN_LEN {
            return Err(unauthenticated());
        }
        let now = self.clock.now();
        let session = self
            .storage
            .session_by_token(token.hash())
            .await?
            .filter(|s| s.is_active(now))
            .ok_or_else(unauthenticated)?;
        if now - session.last_seen_at >= self.config.sessions.touch_interval {
            self.storage
                .touch_session(&session.tenant_id, session.id, now)
                .await?;
        }
        let impersonation = match (session.impersonator_id, session.impersonation_mode) {
            (Some(impersonator_id), Some(mode)) => Some(Impersonation {
                impersonator_id,
                mode,
            }),
            _ => None,
        };
        let principal = Principal::User {
            tenant_id: session.tenant_id.clone(),
            user_id: session.user_id,
            session_id: Some(session.id),
            impersonation,
        };
        Ok((principal, session))
    }

    /// Ends the principal's own session (ending an impersonation is audited as such).
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        let Principal::User {
            tenant_id,
            user_id,
            session_id: Some(session_id),
            impersonation,
        } = principal
        else {
            return Err(Error::Unauthenticated("logout needs a session".to_owned()));
        };
        let now = self.clock.now();
        let action = if impersonation.is_some() {
            AuditAction::ImpersonationEnded
        } else {
            AuditAction::SessionTerminated
        };
        let mut changes = std::collections::BTreeMap::new();
        changes.insert(
            "session_id".to_owned(),
            crate::model::FieldChange {
                old: session_id.to_string().into(),
                new: serde_json::Value::Null,
            },
        );
        let audit = event(
            principal,
            AuditTargetKind::User,
            *user_id,
            action,
            changes,
            now,
        );
        self.storage
            .terminate_session(tenant_id, *user_id, *session_id, now, vec![audit])
            .await?;
        Ok(())
    }

    /// The acting user's own record (no permission needed beyond being an active user).
    pub async fn current_user(&self, principal: &Principal) -> Result<User> {
        let Principal::User {
            tenant_id, user_id, ..
        } = principal
        else {
            return Err(Error::Unauthenticated("not a user".to_owned()));
        };
        let user = self.storage.get_user(tenant_id, *user_id).await?;
        user.filter(|u| u.status == Status::Active).ok_or_else(|| {
            Error::Unauthenticated("the acting user is not an active user".to_owned())
        })
    }
}

/// The hash used for timing equalisation, computed once per service.
pub(crate) type DummyHash = tokio::sync::OnceCell<PasswordHash>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_classified_and_normalised() {
        assert_eq!(
            parse_identifier(" Ada@X.io ", None),
            Some(Identifier::Email("ada@x.io".into()))
        );
        assert_eq!(
            parse_identifier("+1 415 555 2671", None),
            Some(Identifier::Phone("+14155552671".into()))
        );
        assert_eq!(
            parse_identifier("Ada.L", None),
            Some(Identifier::Username("ada.l".into()))
        );
        assert_eq!(
            parse_identifier("030 1234567", Some("DE")),
            Some(Identifier::Phone("+49301234567".into()))
        );
        assert_eq!(parse_identifier("", None), None);
        assert_eq!(parse_identifier("not@an@email", None), None);
    }
}
