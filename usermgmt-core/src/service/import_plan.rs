//! What an import does with each row (SPEC §11): a new user, validated and checked like a
//! create; or, in upsert mode, a row whose email (else phone) names a stored user changes the
//! fields the row gives, checked like an edit (`user.update`, outranking the user, grants
//! within reach) — a super admin's role or status is never taken away by an import.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::access::Actor;
use super::core::UserService;
use super::import::{RowOutcome, RowPlan, mark_import};
use super::import_rows::{ImportMode, Secret, as_create, as_update, one};
use super::inputs::CreateUser;
use super::new_user::new_user_record;
use crate::error::{Error, FieldErrors, Result};
use crate::model::{Permission, Status, TenantId, User};
use crate::password::{Password, PasswordHash};
use crate::principal::Principal;
use crate::storage::{ImportWrite, NewUser};

impl UserService {
    /// What to do with one row: in upsert mode, a row whose email (else phone) names a stored
    /// user changes it; any other row creates a user.
    pub(super) async fn plan_row(
        &self,
        principal: &Principal,
        actor: &Actor,
        (batch_id, mode): (Uuid, ImportMode),
        object: serde_json::Map<String, Value>,
        secret: Secret,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<RowPlan> {
        if mode == ImportMode::Upsert
            && let Some(current) = self.import_match(&actor.tenant_id, &object).await?
        {
            return self
                .plan_upsert(principal, actor, batch_id, current, object, secret)
                .await;
        }
        let input = match as_create(object) {
            Ok(input) => input,
            Err(errors) => return Ok(RowPlan::Rejected(errors)),
        };
        Ok(
            match self
                .import_record(principal, actor, batch_id, (input, secret), now)
                .await?
            {
                Ok((new, audit)) => {
                    let id = new.user.id;
                    RowPlan::Write(
                        Box::new(ImportWrite::Insert(new, audit)),
                        id,
                        RowOutcome::Created,
                    )
                }
                Err(errors) => RowPlan::Rejected(errors),
            },
        )
    }

    /// One row's stored form, or its errors: validated like a create, its grants within the
    /// actor's reach, its password hashed (plain text) or kept (another system's hash).
    async fn import_record(
        &self,
        principal: &Principal,
        actor: &Actor,
        batch_id: Uuid,
        (input, secret): (CreateUser, Secret),
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<std::result::Result<(NewUser, crate::model::AuditEvent), FieldErrors>> {
        let mut draft = input.draft();
        let mut errors = match draft.validate(&self.config.validation, now.date_naive()) {
            Ok(()) => FieldErrors::new(),
            Err(errors) => errors,
        };
        if draft.status == Status::Deleted {
            errors.add("status", "a user cannot be created deleted");
        }
        if let Secret::Plain(password) = &secret {
            self.config
                .password
                .check(password, "password", &mut errors);
        }
        let granted = self.check_grants(actor, &draft, None, &mut errors).await?;
        if actor.require_reach(&granted).is_err() {
            errors.add("roles", "grants permissions you do not hold");
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let hash = match secret {
            Secret::None => None,
            Secret::Hash(hash) => Some(hash),
            Secret::Plain(password) => Some(self.hash_for_import(&password).await?),
        };
        let (new, mut audit) = new_user_record(principal, draft, hash, now);
        mark_import(&mut audit, batch_id);
        Ok(Ok((new, audit)))
    }

    /// Hashes an imported plain-text password, waiting out [`Error::Busy`] (sign-ins come
    /// first; an import is not failed by their load).
    async fn hash_for_import(&self, password: &Password) -> Result<PasswordHash> {
        for _ in 0..20 {
            match self.hash_password(password).await {
                Err(Error::Busy { retry_after }) => {
                    tokio::time::sleep(retry_after.min(std::time::Duration::from_secs(1))).await
                }
                other => return other,
            }
        }
        self.hash_password(password).await
    }

    /// The stored user a row's email (else phone) names, if any; deleted users are not
    /// matched.
    pub(super) async fn import_match(
        &self,
        tenant: &TenantId,
        object: &Map<String, Value>,
    ) -> Result<Option<User>> {
        for key in ["email", "phone"] {
            if let Some(Value::String(value)) = object.get(key)
                && let Some(user) = self.find_by_identifier(tenant, value).await?
            {
                return Ok(Some(user));
            }
        }
        Ok(None)
    }

    /// The change a row makes to the stored user it names, or why it cannot.
    pub(super) async fn plan_upsert(
        &self,
        principal: &Principal,
        actor: &Actor,
        batch_id: Uuid,
        current: User,
        object: Map<String, Value>,
        secret: Secret,
    ) -> Result<RowPlan> {
        let rejected = |field: &str, why: &str| Ok(RowPlan::Rejected(one(field, why)));
        let mut patch = match as_update(object) {
            Ok(patch) => patch,
            Err(errors) => return Ok(RowPlan::Rejected(errors)),
        };
        patch.expected_version = None;
        match self.ensure_outranks(actor, current.id).await {
            Ok(()) => {}
            Err(Error::Forbidden(_)) => {
                return rejected(
                    "row",
                    "you cannot change this user: they hold permissions you do not",
                );
            }
            Err(other) => return Err(other),
        }
        if patch.status == Some(Status::Deleted)
            && actor.require_all([&Permission::USER_DELETE]).is_err()
        {
            return rejected("status", "deleting users needs user.delete");
        }
        if actor.user_id == current.id && patch.status.is_some_and(|s| s != Status::Active) {
            return rejected(
                "status",
                "you cannot deactivate, suspend or delete your own account",
            );
        }
        let imported = match secret {
            Secret::None => None,
            Secret::Hash(hash) => Some(hash),
            Secret::Plain(password) => {
                patch.password = Some(Some(password));
                None
            }
        };
        match self
            .plan_update(principal, actor, &current, &patch, imported)
            .await
        {
            Ok(None) => Ok(RowPlan::Unchanged(current.id)),
            Ok(Some((_, Some(_)))) => rejected(
                "roles",
                "an import does not take a super admin's role or status away",
            ),
            Ok(Some((mut change, None))) => {
                for event in &mut change.audit {
                    mark_import(event, batch_id);
                }
                if let Some(event) = &mut change.end_sessions {
                    mark_import(event, batch_id);
                }
                Ok(RowPlan::Write(
                    Box::new(ImportWrite::Replace(change)),
                    current.id,
                    RowOutcome::Updated,
                ))
            }
            Err(Error::Validation(errors)) => Ok(RowPlan::Rejected(errors)),
            Err(Error::Forbidden(_)) => rejected("roles", "grants permissions you do not hold"),
            Err(other) => Err(other),
        }
    }
}
