//! Administering a user's sessions, and starting impersonation sessions.

use serde::Deserialize;
use uuid::Uuid;

use super::audit::{change, event};
use super::core::UserService;
use super::login::{ClientInfo, LoginOutcome};
use crate::error::{Error, Result};
use crate::model::{AuditAction, AuditTargetKind, ImpersonationMode, Permission, Session, Status};
use crate::principal::Principal;

/// Longest accepted impersonation reason, in characters.
const MAX_REASON_LEN: usize = 500;

/// Start acting as another user.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ImpersonateRequest {
    /// Read-only (`impersonate`) or full (`masquerade`).
    pub mode: ImpersonationMode,
    /// Why (required, recorded on the session and in the audit log): 1–500 printable
    /// characters.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::schemas::Reason))]
    pub reason: String,
}

impl UserService {
    /// A user's active sessions, newest first. Requires `user.view`.
    pub async fn list_sessions(
        &self,
        principal: &Principal,
        user_id: Uuid,
    ) -> Result<Vec<Session>> {
        let actor = self.authorize(principal, Permission::USER_VIEW).await?;
        self.load_user(&actor, user_id).await?;
        self.storage
            .list_sessions(&actor.tenant_id, user_id, self.clock.now())
            .await
    }

    /// Ends one session of a user; its token never resolves again. Requires `user.update`.
    pub async fn terminate_session(
        &self,
        principal: &Principal,
        user_id: Uuid,
        session_id: Uuid,
    ) -> Result<()> {
        let actor = self
            .authorize_write(principal, Permission::USER_UPDATE)
            .await?;
        self.ensure_outranks(&actor, user_id).await?;
        let now = self.clock.now();
        let mut changes = change("session_id", session_id.to_string().into());
        if let Some(c) = changes.get_mut("session_id") {
            std::mem::swap(&mut c.old, &mut c.new);
        }
        let audit = event(
            principal,
            AuditTargetKind::User,
            user_id,
            AuditAction::SessionTerminated,
            changes,
            now,
        );
        let own = self
            .storage
            .list_sessions(&actor.tenant_id, user_id, now)
            .await?
            .iter()
            .any(|s| s.id == session_id && s.impersonator_id.is_none());
        // Impersonations first: if that fails, the session is still there to end again.
        if own {
            self.end_impersonations_by(principal, &actor.tenant_id, user_id, now)
                .await?;
        }
        if self
            .storage
            .terminate_session(&actor.tenant_id, user_id, session_id, now, vec![audit])
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("session"))
        }
    }

    /// Ends (and audits) every impersonation `user_id` started, because one of their own
    /// sessions ended (logout, or an administrator ending it): a stolen administrator token
    /// must not live on through a masquerade.
    pub(crate) async fn end_impersonations_by(
        &self,
        principal: &Principal,
        tenant: &crate::model::TenantId,
        user_id: Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let ended = event(
            principal,
            AuditTargetKind::User,
            user_id,
            AuditAction::ImpersonationEnded,
            Default::default(),
            now,
        );
        self.storage
            .terminate_impersonations_by(tenant, user_id, now, ended)
            .await?;
        Ok(())
    }

    /// Ends every session of a user; returns how many were active. Requires `user.update`.
    pub async fn terminate_all_sessions(
        &self,
        principal: &Principal,
        user_id: Uuid,
    ) -> Result<u64> {
        let actor = self
            .authorize_write(principal, Permission::USER_UPDATE)
            .await?;
        self.ensure_outranks(&actor, user_id).await?;
        self.load_user(&actor, user_id).await?;
        let now = self.clock.now();
        let audit = event(
            principal,
            AuditTargetKind::User,
            user_id,
            AuditAction::SessionsTerminated,
            change("reason", "admin".into()),
            now,
        );
        self.storage
            .terminate_sessions(&actor.tenant_id, user_id, now, Some(audit))
            .await
    }

    /// Starts a session acting as another (active) user: `impersonate` is read-only,
    /// `masquerade` has the user's full access. The session records the administrator and
    /// the reason; starting is audited on the user, ending (logout of that session) too.
    /// Requires `user.impersonate` and every permission the user holds; not from inside
    /// another impersonation, and not as oneself.
    pub async fn impersonate(
        &self,
        principal: &Principal,
        user_id: Uuid,
        request: ImpersonateRequest,
        client: ClientInfo,
    ) -> Result<LoginOutcome> {
        let actor = self
            .authorize_write(principal, Permission::USER_IMPERSONATE)
            .await?;
        if principal.impersonation().is_some() {
            return Err(Error::invalid(
                "user_id",
                "end the current impersonation first",
            ));
        }
        if actor.user_id == user_id {
            return Err(Error::invalid("user_id", "you cannot impersonate yourself"));
        }
        let reason = request.reason.trim().to_owned();
        if reason.is_empty()
            || reason.chars().count() > MAX_REASON_LEN
            || reason.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                "reason",
                format!("is required: 1-{MAX_REASON_LEN} printable characters"),
            ));
        }
        let target = self.load_user(&actor, user_id).await?;
        if target.status != Status::Active {
            return Err(Error::invalid(
                "user_id",
                "only active users can be impersonated",
            ));
        }
        self.ensure_outranks(&actor, user_id).await?;
        let now = self.clock.now();
        let lifetime = Some(self.config.sessions.impersonation_lifetime);
        let (token, session) = self.new_session(
            &target,
            Some((actor.user_id, request.mode, reason.clone())),
            lifetime,
            client,
            now,
        )?;
        let mut changes = change("mode", request.mode.as_str().into());
        changes.extend(change("reason", reason.into()));
        changes.extend(change("session_id", session.id.to_string().into()));
        let audit = event(
            principal,
            AuditTargetKind::User,
            user_id,
            AuditAction::ImpersonationStarted,
            changes,
            now,
        );
        self.storage
            .insert_session(&session.tenant_id, &session, token.hash(), Some(audit))
            .await?;
        Ok(LoginOutcome {
            token,
            session,
            user: target,
        })
    }
}
