//! Learners built directly (no parsing, validation or permission checks), each with its
//! creation event, for the benchmarks that load users through storage (`import`, `events`).

use chrono::{DateTime, Utc};
use usermgmt::model::{
    AuditAction, AuditActor, AuditEvent, AuditTargetKind, AuthMethod, Profile, Status, TenantId,
    User,
};
use usermgmt::storage::{NewUser, Storage};
use uuid::Uuid;

/// The countries the learners cycle through.
pub(crate) const COUNTRIES: [&str; 4] = ["DE", "FR", "US", "JP"];

/// Learner `i` (`Imported Learner {i}`, `learner{i}@import.test`, a country and a city),
/// created at `now`, with its creation event.
pub(crate) fn learner(tenant: &TenantId, i: usize, now: DateTime<Utc>) -> (NewUser, AuditEvent) {
    let mut user = User {
        id: Uuid::now_v7(),
        tenant_id: tenant.clone(),
        name: format!("Imported Learner {i}"),
        email: Some(format!("learner{i}@import.test")),
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
        profile: Profile {
            country: Some(COUNTRIES[i % 4].to_owned()),
            city: Some(format!("City {}", i % 97)),
            ..Profile::default()
        },
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
}

/// Inserts learners 0..n through the storage's batch insert, 1,000 per transaction.
#[allow(dead_code)] // used by `events`, not by `import` (which times its own batches)
pub(crate) async fn insert_learners(storage: &dyn Storage, tenant: &TenantId, n: usize) {
    let now = usermgmt::clock::truncate_to_micros(Utc::now());
    let mut i = 0;
    while i < n {
        let end = (i + 1_000).min(n);
        let batch = (i..end).map(|j| learner(tenant, j, now)).collect();
        storage.insert_users(tenant, batch).await.unwrap();
        i = end;
    }
}
