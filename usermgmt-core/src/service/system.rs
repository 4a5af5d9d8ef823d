//! The service-to-service operations: only the system principal may call them.

use crate::validate::{MAX_PERMISSIONS, MAX_ROLES, check_list_len};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::access::Actor;
use super::core::UserService;
use super::inputs::{CreateUser, UpdateUser};
use crate::error::{Error, Result};
use crate::filter::{ListQuery, SortBy, SortOrder, UserFilters};
use crate::model::{Permission, Role, User, normalize_role_name};
use crate::principal::Principal;
use crate::storage::Identifier;
use crate::validate::{normalize_email, normalize_phone};

/// Most ids one by-ids look-up accepts.
pub const MAX_BY_IDS: usize = 500;
/// Most users one system search returns.
pub const MAX_SYSTEM_SEARCH: u32 = 100;

/// Find a user by email or phone, creating a learner when there is none.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GetOrCreateUser {
    /// Email (looked up first).
    #[serde(default)]
    pub email: Option<String>,
    /// Phone (looked up when no user has the email).
    #[serde(default)]
    pub phone: Option<String>,
    /// Name for a new user (default: the email's local part, or the phone).
    #[serde(default)]
    pub name: Option<String>,
    /// Email already verified (new users only).
    #[serde(default)]
    pub email_verified: bool,
    /// Phone already verified (new users only).
    #[serde(default)]
    pub phone_verified: bool,
}

/// The user found or created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GetOrCreateOutcome {
    /// The user.
    pub user: User,
    /// Whether this call created it.
    pub created: bool,
}

/// Users by id, in the order asked for, and the ids that do not exist in the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsersByIds {
    /// Found users, in request order.
    pub users: Vec<User>,
    /// Requested ids with no user.
    pub missing: Vec<Uuid>,
}

/// New values for the user-type flags; absent ones stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetFlags {
    /// Admin flag.
    #[serde(default)]
    pub is_admin: Option<bool>,
    /// Instructor flag.
    #[serde(default)]
    pub is_instructor: Option<bool>,
    /// Learner flag.
    #[serde(default)]
    pub is_learner: Option<bool>,
}

impl UserService {
    /// The system principal as an actor holding every permission; user principals are
    /// refused (the system API is not for user sessions).
    pub(crate) fn system_actor(&self, principal: &Principal) -> Result<Actor> {
        match principal {
            Principal::System { tenant_id } => Ok(Actor {
                tenant_id: tenant_id.clone(),
                user_id: Uuid::nil(),
                permissions: self.config.permissions.all(),
                held: self.config.permissions.all(),
                unbounded: true,
            }),
            Principal::User { .. } | Principal::Provisioner { .. } => Err(Error::Unauthenticated(
                "the system API needs the system token".to_owned(),
            )),
        }
    }

    /// Returns the user with this email (or else phone), creating an active learner if none
    /// exists. Idempotent, also under concurrent calls: the unique indexes let exactly one
    /// creation through and the others return that user.
    pub async fn system_get_or_create(
        &self,
        principal: &Principal,
        input: GetOrCreateUser,
    ) -> Result<GetOrCreateOutcome> {
        let actor = self.system_actor(principal)?;
        let region = self.config.validation.default_phone_region.as_deref();
        let email = input
            .email
            .as_deref()
            .map(normalize_email)
            .transpose()
            .map_err(|m| Error::invalid("email", m))?;
        let phone = input
            .phone
            .as_deref()
            .map(|p| normalize_phone(p, region))
            .transpose()
            .map_err(|m| Error::invalid("phone", m))?;
        let identifiers: Vec<Identifier> = email
            .clone()
            .map(Identifier::Email)
            .into_iter()
            .chain(phone.clone().map(Identifier::Phone))
            .collect();
        if identifiers.is_empty() {
            return Err(Error::invalid("email", "an email or a phone is required"));
        }
        if let Some(user) = self.find_first(&actor, &identifiers).await? {
            return Ok(GetOrCreateOutcome {
                user,
                created: false,
            });
        }
        let name = input
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| {
                email
                    .as_deref()
                    .and_then(|e| e.split('@').next())
                    .or(phone.as_deref())
                    .unwrap_or("user")
                    .to_owned()
            });
        let create = CreateUser {
            name,
            email,
            phone,
            is_learner: true,
            email_verified: input.email_verified,
            phone_verified: input.phone_verified,
            ..Default::default()
        };
        match self.create_as(principal, &actor, create).await {
            Ok(user) => Ok(GetOrCreateOutcome {
                user,
                created: true,
            }),
            Err(Error::Conflict { fields }) => match self.find_first(&actor, &identifiers).await? {
                Some(user) => Ok(GetOrCreateOutcome {
                    user,
                    created: false,
                }),
                None => Err(Error::Conflict { fields }),
            },
            Err(other) => Err(other),
        }
    }

    async fn find_first(&self, actor: &Actor, identifiers: &[Identifier]) -> Result<Option<User>> {
        for identifier in identifiers {
            if let Some(user) = self.storage.find_user(&actor.tenant_id, identifier).await? {
                return Ok(Some(user));
            }
        }
        Ok(None)
    }

    /// Users whose name, email, phone, username or unique ID contains `query`, by name, at
    /// most `limit` (1–100). Deleted users are not returned.
    pub async fn system_search(
        &self,
        principal: &Principal,
        query: &str,
        limit: u32,
    ) -> Result<Vec<User>> {
        let actor = self.system_actor(principal)?;
        if query.trim().is_empty() {
            return Err(Error::invalid("q", "is required"));
        }
        if limit == 0 || limit > MAX_SYSTEM_SEARCH {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_SYSTEM_SEARCH}"),
            ));
        }
        let query = ListQuery {
            filters: UserFilters {
                search: Some(query.to_owned()),
                ..Default::default()
            },
            sort_by: SortBy::Name,
            sort_order: SortOrder::Asc,
            page_size: limit,
            include_total: false,
            ..Default::default()
        };
        let plan = query.plan(MAX_SYSTEM_SEARCH)?;
        let (mut users, _) = self
            .storage
            .list_users(&actor.tenant_id, &plan, self.clock.now())
            .await?;
        users.truncate(limit as usize);
        Ok(users)
    }

    /// Users by id in request order (duplicates kept), with the ids that do not exist.
    pub async fn system_users_by_ids(
        &self,
        principal: &Principal,
        ids: &[Uuid],
    ) -> Result<UsersByIds> {
        let actor = self.system_actor(principal)?;
        if ids.len() > MAX_BY_IDS {
            return Err(Error::invalid("ids", format!("at most {MAX_BY_IDS} ids")));
        }
        let found = self.storage.users_by_ids(&actor.tenant_id, ids).await?;
        let mut users = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match found.iter().find(|u| u.id == *id) {
                Some(user) => users.push(user.clone()),
                None => missing.push(*id),
            }
        }
        Ok(UsersByIds { users, missing })
    }

    /// Adds roles (by name) to a user; unknown names are a validation error.
    pub async fn system_assign_roles(
        &self,
        principal: &Principal,
        user_id: Uuid,
        roles: &[String],
    ) -> Result<User> {
        let actor = self.system_actor(principal)?;
        let current = self.load_user(&actor, user_id).await?;
        check_list_len(roles.len(), MAX_ROLES, "roles").map_err(Error::Validation)?;
        let mut all = current.roles.clone();
        all.extend(roles.iter().map(|r| r.trim().to_ascii_lowercase()));
        all.sort();
        all.dedup();
        let patch = UpdateUser {
            roles: Some(all),
            ..Default::default()
        };
        self.update_as(principal, &actor, user_id, patch).await
    }

    /// Grants permissions directly to a user (in addition to those held).
    pub async fn system_grant_permissions(
        &self,
        principal: &Principal,
        user_id: Uuid,
        permissions: &[Permission],
    ) -> Result<User> {
        let actor = self.system_actor(principal)?;
        let current = self.load_user(&actor, user_id).await?;
        check_list_len(permissions.len(), MAX_PERMISSIONS, "permissions")
            .map_err(Error::Validation)?;
        let mut all = current.permissions.clone();
        all.extend(permissions.iter().cloned());
        all.sort();
        all.dedup();
        let patch = UpdateUser {
            permissions: Some(all),
            ..Default::default()
        };
        self.update_as(principal, &actor, user_id, patch).await
    }

    /// Sets user-type flags (admin and instructor users still need a role).
    pub async fn system_set_flags(
        &self,
        principal: &Principal,
        user_id: Uuid,
        flags: SetFlags,
    ) -> Result<User> {
        let actor = self.system_actor(principal)?;
        let patch = UpdateUser {
            is_admin: flags.is_admin,
            is_instructor: flags.is_instructor,
            is_learner: flags.is_learner,
            ..Default::default()
        };
        self.update_as(principal, &actor, user_id, patch).await
    }

    /// A role by name.
    pub async fn system_role_by_name(&self, principal: &Principal, name: &str) -> Result<Role> {
        let actor = self.system_actor(principal)?;
        let mut errors = crate::error::FieldErrors::new();
        let name = normalize_role_name(name, "name", &mut errors);
        errors.into_result()?;
        let names: Vec<String> = name.into_iter().collect();
        self.storage
            .roles_by_names(&actor.tenant_id, &names)
            .await?
            .pop()
            .ok_or(Error::NotFound("role"))
    }
}
