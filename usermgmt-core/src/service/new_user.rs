//! A new user's record, as created by one create or by an import: the user from a validated
//! draft (derived values computed) and its creation event.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::{event, user_diff};
use crate::model::{AuditAction, AuditEvent, AuditTargetKind, Status, TenantId, User};
use crate::password::PasswordHash;
use crate::principal::Principal;
use crate::storage::NewUser;
use crate::validate::UserDraft;

/// The stored form of a new user built from a validated `draft`, with its creation event (by
/// `principal`; the diff says a password was set, never which).
pub(super) fn new_user_record(
    principal: &Principal,
    draft: UserDraft,
    password_hash: Option<PasswordHash>,
    now: DateTime<Utc>,
) -> (NewUser, AuditEvent) {
    let mut user = empty_user(principal.tenant_id().clone(), now);
    user.has_password = password_hash.is_some();
    apply_draft(&mut user, draft);
    let changes = user_diff(None, &user, user.has_password.then_some((false, true)));
    let audit = event(
        principal,
        AuditTargetKind::User,
        user.id,
        AuditAction::UserCreated,
        changes,
        now,
    );
    let new = NewUser {
        user,
        password_hash,
        oauth_links: Vec::new(),
    };
    (new, audit)
}

fn empty_user(tenant_id: TenantId, now: DateTime<Utc>) -> User {
    User {
        id: Uuid::now_v7(),
        tenant_id,
        name: String::new(),
        email: None,
        phone: None,
        username: None,
        unique_id: None,
        status: Status::Active,
        is_admin: false,
        is_instructor: false,
        is_learner: false,
        roles: Vec::new(),
        permissions: Vec::new(),
        email_verified: false,
        phone_verified: false,
        auth_method: crate::model::AuthMethod::Email,
        oauth_providers: Vec::new(),
        has_password: false,
        profile: Default::default(),
        profile_completeness: 0,
        created_at: now,
        updated_at: now,
        last_login_at: None,
        deleted_at: None,
        failed_login_attempts: 0,
        locked_until: None,
        version: 1,
    }
}

/// Copies a validated draft into a user and recomputes derived values.
pub(super) fn apply_draft(user: &mut User, draft: UserDraft) {
    user.name = draft.name;
    user.email = draft.email;
    user.phone = draft.phone;
    user.username = draft.username;
    user.unique_id = draft.unique_id;
    user.status = draft.status;
    user.is_admin = draft.is_admin;
    user.is_instructor = draft.is_instructor;
    user.is_learner = draft.is_learner;
    user.roles = draft.roles;
    user.permissions = draft.permissions;
    user.email_verified = draft.email_verified;
    user.phone_verified = draft.phone_verified;
    user.auth_method = draft.auth_method.unwrap_or(user.auth_method);
    user.profile = draft.profile;
    user.refresh_derived();
}
