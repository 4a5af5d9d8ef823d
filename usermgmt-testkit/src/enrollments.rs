//! An in-memory enrollment source (answering with core's reference semantics) and a seeded
//! enrollment generator, to test how backends and the service apply enrollment filters.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use usermgmt_core::filter::{EnrollmentMatch, UserFilters};
use usermgmt_core::model::{Enrollment, EnrollmentStatus, TenantId, User};
use usermgmt_core::storage::{EnrollmentLayout, EnrollmentSource};
use usermgmt_core::{Error, Result, StorageError};
use uuid::Uuid;

/// Program types the generator uses.
pub const PROGRAM_TYPES: &[&str] = &["course", "bootcamp", "workshop"];
/// Program ids the generator uses.
pub const PROGRAM_IDS: &[&str] = &["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"];

/// How the in-memory source behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Behaviour {
    /// Answers.
    #[default]
    Answer,
    /// Fails every call (an unreachable learning database).
    Fail,
    /// Answers after this delay.
    Slow(Duration),
}

/// Enrollments held in memory, per tenant.
#[derive(Debug, Default)]
pub struct MemoryEnrollmentSource {
    enrollments: HashMap<TenantId, Vec<Enrollment>>,
    behaviour: Behaviour,
}

impl MemoryEnrollmentSource {
    /// A source answering from these enrollments.
    pub fn new(tenant: TenantId, enrollments: Vec<Enrollment>) -> Self {
        Self {
            enrollments: HashMap::from([(tenant, enrollments)]),
            behaviour: Behaviour::Answer,
        }
    }

    /// The same source, behaving as told.
    pub fn behaving(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }
}

#[async_trait]
impl EnrollmentSource for MemoryEnrollmentSource {
    async fn matching_users(
        &self,
        tenant: &TenantId,
        filters: &UserFilters,
    ) -> Result<EnrollmentMatch> {
        match self.behaviour {
            Behaviour::Fail => {
                return Err(Error::Storage(StorageError::new(
                    "reading enrollments",
                    "learning database unreachable",
                )));
            }
            Behaviour::Slow(delay) => tokio::time::sleep(delay).await,
            Behaviour::Answer => {}
        }
        Ok(filters
            .enrollment
            .enrollment_match(self.enrollments.get(tenant).map_or(&[][..], Vec::as_slice)))
    }
}

/// 0–6 enrollments for each of `users`, reproducible from `seed`.
pub fn generate(seed: u64, users: &[User], now: DateTime<Utc>) -> Vec<Enrollment> {
    generate_for(seed, users.iter().map(|u| u.id), now)
}

/// 0–6 enrollments for each user id, reproducible from `seed`.
pub fn generate_for(
    seed: u64,
    users: impl IntoIterator<Item = Uuid>,
    now: DateTime<Utc>,
) -> Vec<Enrollment> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for user_id in users {
        for _ in 0..rng.random_range(0..=6) {
            let status = *EnrollmentStatus::ALL
                .choose(&mut rng)
                .unwrap_or(&EnrollmentStatus::Active);
            out.push(Enrollment {
                user_id,
                program_id: (*PROGRAM_IDS.choose(&mut rng).unwrap_or(&"p1")).to_owned(),
                program_type: (*PROGRAM_TYPES.choose(&mut rng).unwrap_or(&"course")).to_owned(),
                status,
                progress: rng.random_range(0..=100),
                time_spent_seconds: rng.random_range(0..20_000),
                last_activity_at: rng
                    .random_bool(0.8)
                    .then(|| now - chrono::Duration::seconds(rng.random_range(0..400 * 86_400))),
            });
        }
    }
    out
}

/// Lists with `has_enrollments=true` and `progress_min=5` and checks the list answered without
/// them: both named in `skipped_filters`, `expected_total` users counted, and within 5 s (a slow
/// source or query was cut off, not waited out).
pub async fn assert_enrollment_filters_skipped(
    service: &usermgmt_core::UserService,
    admin: &usermgmt_core::Principal,
    expected_total: u64,
    label: &str,
) {
    let filters = UserFilters {
        enrollment: usermgmt_core::filter::EnrollmentFilters {
            has_enrollments: Some(true),
            progress_min: Some(5),
            ..Default::default()
        },
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let query = usermgmt_core::filter::ListQuery {
        filters,
        ..Default::default()
    };
    let page = service
        .list_users(admin, query)
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    assert_eq!(
        page.skipped_filters,
        ["has_enrollments", "progress_min"],
        "{label}"
    );
    assert_eq!(
        page.total,
        Some(expected_total),
        "{label}: the other filters still apply"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{label}: cut off, not waited out"
    );
}

/// Writes `enrollments` of `tenant` to a new SQLite learning database at `path` (replacing any
/// file there) in the default [`EnrollmentLayout`], indexed by user and by status; answers the
/// number of rows.
pub fn write_sqlite_learning_db(
    path: &std::path::Path,
    tenant: &TenantId,
    enrollments: impl IntoIterator<Item = Enrollment>,
) -> std::result::Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let layout = EnrollmentLayout::default();
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(&format!(
        "CREATE TABLE {t} ({tenant} TEXT NOT NULL, {user} TEXT NOT NULL, {program} TEXT NOT NULL, \
         {kind} TEXT NOT NULL, {status} TEXT NOT NULL, {progress} INTEGER NOT NULL, \
         {spent} INTEGER NOT NULL, {last} INTEGER); \
         CREATE INDEX {t}_by_user ON {t} ({tenant}, {user}); \
         CREATE INDEX {t}_by_status ON {t} ({tenant}, {status}, {progress});",
        t = layout.table,
        tenant = layout.tenant_id.as_deref().unwrap_or("tenant_id"),
        user = layout.user_id,
        program = layout.program_id,
        kind = layout.program_type,
        status = layout.status,
        progress = layout.progress,
        spent = layout.time_spent_seconds,
        last = layout.last_activity_at,
    ))?;
    let tx = conn.transaction()?;
    let mut rows = 0;
    {
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            layout.table
        ))?;
        for e in enrollments {
            insert.execute(rusqlite::params![
                tenant.as_str(),
                e.user_id.to_string(),
                e.program_id,
                e.program_type,
                e.status.as_str(),
                e.progress,
                e.time_spent_seconds,
                e.last_activity_at.map(|t| t.timestamp()),
            ])?;
            rows += 1;
        }
    }
    tx.commit()?;
    Ok(rows)
}
