//! A role's members: who holds it, and changing that for many users in one transaction (what
//! SCIM's Groups are). Each member's change is checked and audited like an edit of their roles.

use uuid::Uuid;

use super::core::UserService;
use super::import_writer::Writer;
use super::inputs::UpdateUser;
use crate::error::{Error, Result};
use crate::filter::{ListQuery, SortBy, SortOrder, UserFilters};
use crate::model::{Permission, Role, SUPER_ADMIN_ROLE, User};
use crate::principal::Principal;
use crate::storage::{ImportCommand, ImportWrite, WriteOutcome};

/// Most members a role's member list returns, and most users one change may name.
pub const MAX_ROLE_MEMBERS: usize = 10_000;

/// One change of a role's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// These users get the role.
    Add(Vec<Uuid>),
    /// These users lose it.
    Remove(Vec<Uuid>),
    /// Exactly these users hold it.
    Replace(Vec<Uuid>),
    /// Nobody holds it.
    Clear,
}

impl UserService {
    /// A role other than the super-admin role (which is managed only through the admin API:
    /// never provisioned, so an identity provider cannot take the last super admin away).
    pub async fn member_role(&self, principal: &Principal, role_id: Uuid) -> Result<Role> {
        let role = self.get_role(principal, role_id).await?;
        if role.name == SUPER_ADMIN_ROLE {
            return Err(Error::NotFound("role"));
        }
        Ok(role)
    }

    /// The users holding `role` (not deleted), oldest first, at most [`MAX_ROLE_MEMBERS`].
    /// Requires `user.list`.
    pub async fn role_members(&self, principal: &Principal, role: &Role) -> Result<Vec<User>> {
        let mut members = Vec::new();
        let mut cursor = None;
        loop {
            let query = ListQuery {
                filters: UserFilters {
                    roles: vec![role.name.clone()],
                    ..UserFilters::default()
                },
                sort_by: SortBy::CreatedAt,
                sort_order: SortOrder::Asc,
                page_size: 500,
                cursor: cursor.take(),
                include_total: false,
                ..ListQuery::default()
            };
            let page = self.list_users(principal, query).await?;
            members.extend(page.items);
            match page.next_cursor {
                Some(next) if members.len() < MAX_ROLE_MEMBERS => cursor = Some(next),
                _ => break,
            }
        }
        members.truncate(MAX_ROLE_MEMBERS);
        Ok(members)
    }

    /// Applies `changes` in order to who holds `role`, in one transaction: every affected
    /// user's roles are edited as [`UserService::update_user`] would (outranking them, grants
    /// within reach, audited `user.grants_changed`), or nothing is written. Requires
    /// `user.update`; unknown or deleted users are a field error on `members`.
    pub async fn change_role_members(
        &self,
        principal: &Principal,
        role: &Role,
        changes: &[MemberChange],
    ) -> Result<()> {
        let actor = self
            .authorize_write(principal, Permission::USER_UPDATE)
            .await?;
        if role.name == SUPER_ADMIN_ROLE {
            return Err(Error::NotFound("role"));
        }
        let named: usize = changes
            .iter()
            .map(|c| match c {
                MemberChange::Add(ids) | MemberChange::Remove(ids) | MemberChange::Replace(ids) => {
                    ids.len()
                }
                MemberChange::Clear => 0,
            })
            .sum();
        if named > MAX_ROLE_MEMBERS {
            return Err(Error::invalid(
                "members",
                format!("at most {MAX_ROLE_MEMBERS} users per change"),
            ));
        }
        let holders: Vec<Uuid> = self
            .role_members(principal, role)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        let mut wanted = holders.clone();
        for change in changes {
            match change {
                MemberChange::Add(ids) => {
                    for id in ids {
                        if !wanted.contains(id) {
                            wanted.push(*id);
                        }
                    }
                }
                MemberChange::Remove(ids) => wanted.retain(|id| !ids.contains(id)),
                MemberChange::Replace(ids) => wanted = ids.clone(),
                MemberChange::Clear => wanted.clear(),
            }
        }
        if holders.len() >= MAX_ROLE_MEMBERS && wanted != holders {
            return Err(Error::invalid(
                "members",
                format!(
                    "roles held by {MAX_ROLE_MEMBERS} users or more are changed one user at a time"
                ),
            ));
        }
        let affected: Vec<(Uuid, bool)> = wanted
            .iter()
            .filter(|id| !holders.contains(id))
            .map(|id| (*id, true))
            .chain(
                holders
                    .iter()
                    .filter(|id| !wanted.contains(id))
                    .map(|id| (*id, false)),
            )
            .collect();
        let mut writes = Vec::with_capacity(affected.len());
        for (user_id, holds) in affected {
            let user = self
                .storage
                .get_user(&actor.tenant_id, user_id)
                .await?
                .filter(|u| u.status != crate::model::Status::Deleted)
                .ok_or_else(|| Error::invalid("members", format!("no user {user_id}")))?;
            self.ensure_outranks(&actor, user_id).await?;
            let mut roles: Vec<String> = user
                .roles
                .iter()
                .filter(|r| **r != role.name)
                .cloned()
                .collect();
            if holds {
                roles.push(role.name.clone());
            }
            let patch = UpdateUser {
                roles: Some(roles),
                expected_version: Some(user.version),
                ..UpdateUser::default()
            };
            if let Some((change, _)) = self
                .plan_update(principal, &actor, &user, &patch, None)
                .await?
            {
                writes.push(ImportWrite::Replace(change));
            }
        }
        if writes.is_empty() {
            return Ok(());
        }
        let mut writer = Writer::idle(self.storage.clone(), actor.tenant_id.clone());
        let (reply, answer) = tokio::sync::oneshot::channel();
        writer
            .send(ImportCommand::Write {
                rows: writes,
                reply,
            })
            .await?;
        let outcomes = match answer.await {
            Ok(outcomes) => outcomes,
            Err(_) => return Err(writer.failure().await),
        };
        let refusal = outcomes.into_iter().find_map(|outcome| match outcome {
            WriteOutcome::Written => None,
            WriteOutcome::Taken(fields) => Some(Error::Conflict { fields }),
            WriteOutcome::Changed => Some(Error::Busy {
                retry_after: std::time::Duration::from_secs(1),
            }),
        });
        writer.finish(refusal.is_none()).await?;
        refusal.map_or(Ok(()), Err)
    }
}
