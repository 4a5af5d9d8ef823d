//! Self-service deletion (SPEC §10): the signed-in user deletes their own account.

use super::core::UserService;
use crate::error::{Error, Result};
use crate::password::Password;
use crate::principal::Principal;

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
                // The password is guessed no more freely here than at login: failures count
                // toward the same lockout, and a locked account cannot be deleted.
                let now = self.clock.now();
                if let Some(until) = current.locked_until.filter(|until| *until > now) {
                    return Err(Error::Locked { until });
                }
                if !self.verify_password(&password, &hash).await? {
                    let failure = self
                        .count_failure(&actor.tenant_id, actor.user_id, now)
                        .await?;
                    return match failure.locked_until {
                        Some(until) if until > now => Err(Error::Locked { until }),
                        _ => Err(wrong()),
                    };
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
