//! Users inserted straight through storage for the events benchmark, each with its creation
//! event (so the outbox announces them).

use chrono::Utc;
use usermgmt::model::{
    AuditAction, AuditActor, AuditEvent, AuditTargetKind, AuthMethod, Profile, Status, TenantId,
    User,
};
use usermgmt::storage::{NewUser, Storage};
use uuid::Uuid;

/// Inserts `n` learners in batches of 1,000.
pub(crate) async fn insert_users(storage: &dyn Storage, tenant: &TenantId, n: usize) {
    let now = usermgmt::clock::truncate_to_micros(Utc::now());
    let mut i = 0;
    while i < n {
        let end = (i + 1_000).min(n);
        let batch = (i..end)
            .map(|j| {
                let mut user = User {
                    id: Uuid::now_v7(),
                    tenant_id: tenant.clone(),
                    name: format!("Bulk Learner {j}"),
                    email: Some(format!("bulk{j}@events.test")),
                    phone: None,
                    username: None,
                    unique_id: None,
                    status: Status::Active,
                    is_admin: false,
                    is_instructor: false,
                    is_learner: true,
                    roles: Vec::new(),
                    permissions: Vec::new(),
                    email_verified: false,
                    phone_verified: false,
                    auth_method: AuthMethod::Email,
                    oauth_providers: Vec::new(),
                    has_password: false,
                    profile: Profile::default(),
                    profile_completeness: 0,
                    created_at: now,
                    updated_at: now,
                    last_login_at: None,
                    deleted_at: None,
                    failed_login_attempts: 0,
                    locked_until: None,
                    version: 1,
                };
                user.refresh_derived();
                let event = AuditEvent {
                    id: Uuid::now_v7(),
                    tenant_id: tenant.clone(),
                    target_kind: AuditTargetKind::User,
                    target_id: user.id,
                    actor: AuditActor::System,
                    impersonator_id: None,
                    action: AuditAction::UserCreated,
                    changes: Default::default(),
                    created_at: now,
                };
                let new = NewUser {
                    user,
                    password_hash: None,
                    oauth_links: Vec::new(),
                };
                (new, event)
            })
            .collect();
        storage.insert_users(tenant, batch).await.unwrap();
        i = end;
    }
}
