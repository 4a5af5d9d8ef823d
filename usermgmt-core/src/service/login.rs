//! Password login, session-token authentication, logout and "who am I".

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::audit::event;
use super::core::UserService;
use crate::error::{Error, Result, StorageError};
use crate::model::{
    AuditAction, AuditTargetKind, ImpersonationMode, Session, SessionToken, Status, TenantId, User,
};
use crate::password::Password;
use crate::principal::{Impersonation, Principal};
use crate::storage::Identifier;
use crate::validate::{normalize_email, normalize_phone};

/// Longest accepted user agent; longer ones are cut.
const MAX_USER_AGENT: usize = 512;

/// The hash of a token of a plausible length (others are refused unread).
pub(crate) fn usable_token(token: &SessionToken) -> Result<[u8; 32]> {
    if !token.is_plausible() {
        return Err(Error::Unauthenticated(
            "invalid or expired session".to_owned(),
        ));
    }
    Ok(token.hash())
}

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

/// Reads an identifier into every form it can take, in the order they are tried: with `@`
/// an email; otherwise a phone number (when it starts with `+` or a digit and parses as one)
/// and a username (when it has a username's shape), so `007bond` signs in by username.
/// Empty when it can be none of them.
pub(crate) fn parse_identifier(raw: &str, default_region: Option<&str>) -> Vec<Identifier> {
    let raw = raw.trim();
    let mut forms = Vec::new();
    if raw.is_empty() || raw.len() > 254 {
        return forms;
    }
    if raw.contains('@') {
        forms.extend(normalize_email(raw).ok().map(Identifier::Email));
        return forms;
    }
    if raw.starts_with('+') || raw.starts_with(|c: char| c.is_ascii_digit()) {
        forms.extend(
            normalize_phone(raw, default_region)
                .ok()
                .map(Identifier::Phone),
        );
    }
    let username = raw.to_lowercase();
    if crate::validate::check_username(&username).is_ok() {
        forms.push(Identifier::Username(username));
    }
    forms
}

/// The key an unknown identifier's failures are counted under: its first normalised form, or
/// the trimmed, lower-cased text (clipped) when it has none.
fn identifier_key(forms: &[Identifier], raw: &str) -> String {
    match forms.first() {
        Some(Identifier::Email(v)) => format!("email:{v}"),
        Some(Identifier::Phone(v)) => format!("phone:{v}"),
        Some(Identifier::Username(v)) => format!("username:{v}"),
        None => format!(
            "raw:{}",
            raw.trim()
                .to_lowercase()
                .chars()
                .take(254)
                .collect::<String>()
        ),
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
    ///
    /// An unknown identifier is counted and locked like a known one (in memory), so the
    /// answers do not reveal which accounts exist. A locked account still opens with the
    /// right password from a client address the user signed in from within
    /// [`crate::service::LoginPolicy::known_client_window`]. Every attempt counts against the
    /// client address's budget ([`Error::TooManyRequests`] past it), and argon2 work waits for
    /// one of a bounded number of slots ([`Error::Busy`] after a while).
    pub async fn login(
        &self,
        tenant: &TenantId,
        request: LoginRequest,
        client: ClientInfo,
    ) -> Result<LoginOutcome> {
        self.guard.admit_client(client.ip)?;
        let now = self.clock.now();
        let policy = &self.config.login;
        let forms = parse_identifier(
            &request.identifier,
            self.config.validation.default_phone_region.as_deref(),
        );
        let mut record = None;
        for form in &forms {
            record = self.storage.login_record(tenant, form).await?;
            if record.is_some() {
                break;
            }
        }
        let (user, hash) = match record {
            Some((user, Some(hash))) if user.status != Status::Deleted => (user, hash),
            _ => {
                // No account to lock: the same count and lock, kept in memory, so the answers
                // match a known identifier's.
                let key = (tenant.clone(), identifier_key(&forms, &request.identifier));
                if let Some(until) = self.guard.unknown_locked_until(&key, now) {
                    return self
                        .refuse_after_equal_work(&request.password, Error::Locked { until })
                        .await;
                }
                let refused = self
                    .refuse_after_equal_work(&request.password, Error::InvalidCredentials)
                    .await;
                return match self.guard.unknown_failed(
                    key,
                    now,
                    policy.max_failed_attempts,
                    policy.lock_duration,
                ) {
                    Some(until) => Err(Error::Locked { until }),
                    None => refused,
                };
            }
        };
        if let Some(until) = user.locked_until.filter(|until| *until > now) {
            // A locked account still opens, with the right password, from a client the user
            // signed in from recently: nobody else can lock its owner out. Failures there
            // still count, and past twice the limit the lock holds for every client.
            let known_client = match client.ip {
                Some(ip)
                    if user.failed_login_attempts
                        < policy.max_failed_attempts.saturating_mul(2) =>
                {
                    self.storage
                        .signed_in_from(tenant, user.id, ip, now - policy.known_client_window)
                        .await?
                }
                _ => false,
            };
            if !known_client {
                return self
                    .refuse_after_equal_work(&request.password, Error::Locked { until })
                    .await;
            }
            if !self.verify_password(&request.password, &hash).await? {
                let failure = self.count_failure(tenant, user.id, now).await?;
                return Err(Error::Locked {
                    until: failure.locked_until.unwrap_or(until),
                });
            }
        } else if !self.verify_password(&request.password, &hash).await? {
            let failure = self.count_failure(tenant, user.id, now).await?;
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
        if hash.needs_rehash(&self.config.password) {
            self.rehash_imported(&user, &request.password, &hash).await;
        }
        let (token, session) = self.new_session(&user, None, None, client, now)?;
        let user = self
            .storage
            .record_login_success(&session.tenant_id, &session, token.hash())
            .await?;
        Ok(LoginOutcome {
            token,
            session,
            user,
        })
    }

    /// Counts a failed login of the user, locking the account at the policy's limit.
    pub(crate) async fn count_failure(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<crate::storage::LoginFailure> {
        let policy = &self.config.login;
        self.storage
            .record_login_failure(
                tenant,
                user_id,
                now,
                policy.max_failed_attempts,
                now + policy.lock_duration,
            )
            .await
    }

    /// Verifies the password against a dummy hash of the configured cost, then fails with
    /// `error`: refusals that need no real verification cost the same as those that do.
    async fn refuse_after_equal_work<T>(&self, password: &Password, error: Error) -> Result<T> {
        let dummy = self
            .dummy_hash
            .get_or_try_init(|| async {
                self.hash_password(&Password::new("timing-equaliser-not-a-password"))
                    .await
            })
            .await?;
        self.verify_password(password, dummy).await?;
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
        let hash = usable_token(token)?;
        let session = self.storage.session_by_token(hash).await?;
        self.admit_session(session).await
    }

    /// The principal of a session found by its token: refused unless it is active (and, for
    /// an impersonation, unless its impersonator may still impersonate the user).
    pub(crate) async fn admit_session(
        &self,
        session: Option<Session>,
    ) -> Result<(Principal, Session)> {
        let unauthenticated = || Error::Unauthenticated("invalid or expired session".to_owned());
        let now = self.clock.now();
        let session = session
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
        if let Some(impersonation) = impersonation
            && !self
                .impersonation_holds(&session, impersonation.impersonator_id)
                .await?
        {
            // Ended for good: it does not come back if the impersonator regains the right.
            self.storage
                .terminate_session(&session.tenant_id, session.user_id, session.id, now, vec![])
                .await?;
            return Err(unauthenticated());
        }
        let principal = Principal::User {
            tenant_id: session.tenant_id.clone(),
            user_id: session.user_id,
            session_id: Some(session.id),
            impersonation,
        };
        Ok((principal, session))
    }

    /// Whether the administrator behind an impersonation session may still act through it:
    /// the same checks as starting one — an active user holding `user.impersonate` who
    /// outranks the user.
    async fn impersonation_holds(&self, session: &Session, impersonator: Uuid) -> Result<bool> {
        let admin = Principal::user(session.tenant_id.clone(), impersonator);
        let checked = match self
            .authorize(&admin, crate::model::Permission::USER_IMPERSONATE)
            .await
        {
            Ok(actor) => self.ensure_outranks(&actor, session.user_id).await,
            Err(error) => Err(error),
        };
        match checked {
            Ok(()) => Ok(true),
            Err(Error::Unauthenticated(_) | Error::Forbidden(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Ends the principal's own session (ending an impersonation is audited as such). Logging
    /// out of one's own session also ends every impersonation session one started.
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
        if impersonation.is_none() {
            self.end_impersonations_by(principal, tenant_id, *user_id, now)
                .await?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_classified_and_normalised() {
        assert_eq!(
            parse_identifier(" Ada@X.io ", None),
            [Identifier::Email("ada@x.io".into())]
        );
        assert_eq!(
            parse_identifier("+1 415 555 2671", None),
            [Identifier::Phone("+14155552671".into())]
        );
        assert_eq!(
            parse_identifier("Ada.L", None),
            [Identifier::Username("ada.l".into())]
        );
        assert_eq!(
            parse_identifier("030 1234567", Some("DE")),
            [Identifier::Phone("+49301234567".into())]
        );
        assert_eq!(
            parse_identifier("007bond", None),
            [Identifier::Username("007bond".into())]
        );
        assert_eq!(
            parse_identifier("4155552671", Some("US")),
            [
                Identifier::Phone("+14155552671".into()),
                Identifier::Username("4155552671".into())
            ]
        );
        assert_eq!(parse_identifier("", None), []);
        assert_eq!(parse_identifier("not@an@email", None), []);
    }
}
