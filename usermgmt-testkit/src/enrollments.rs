//! An in-memory enrollment source (answering with core's reference semantics) and a seeded
//! enrollment generator, to test how backends and the service apply enrollment filters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use usermgmt_core::filter::{EnrollmentMatch, UserFilters};
use usermgmt_core::model::{Enrollment, EnrollmentStatus, TenantId, User};
use usermgmt_core::storage::{
    Batches, EnrollmentFeed, EnrollmentLayout, EnrollmentSource, FeedChanges,
};
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

/// What the in-memory source holds: enrollments per tenant and its change log.
#[derive(Debug, Default)]
struct Held {
    enrollments: HashMap<TenantId, Vec<Enrollment>>,
    /// Every replacement, in order (the feed; a position is a length of it).
    changes: Vec<(TenantId, Uuid)>,
}

/// Enrollments held in memory, per tenant, with a change feed when asked for one (clones share
/// them).
#[derive(Debug, Clone, Default)]
pub struct MemoryEnrollmentSource {
    held: Arc<Mutex<Held>>,
    behaviour: Behaviour,
    feed: bool,
}

impl MemoryEnrollmentSource {
    /// A source answering from these enrollments.
    pub fn new(tenant: TenantId, enrollments: Vec<Enrollment>) -> Self {
        let held = Held {
            enrollments: HashMap::from([(tenant, enrollments)]),
            changes: Vec::new(),
        };
        Self {
            held: Arc::new(Mutex::new(held)),
            behaviour: Behaviour::Answer,
            feed: false,
        }
    }

    /// The same source, behaving as told.
    pub fn behaving(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }

    /// The same source with a change feed, so the counting index holds its enrollments.
    pub fn with_feed(mut self) -> Self {
        self.feed = true;
        self
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn behave(&self) -> Result<()> {
        match self.behaviour {
            Behaviour::Fail => Err(Error::Storage(StorageError::new(
                "reading enrollments",
                "learning database unreachable",
            ))),
            Behaviour::Slow(delay) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
            Behaviour::Answer => Ok(()),
        }
    }
}

#[async_trait]
impl EnrollmentSource for MemoryEnrollmentSource {
    async fn matching_users(
        &self,
        tenant: &TenantId,
        filters: &UserFilters,
    ) -> Result<EnrollmentMatch> {
        self.behave().await?;
        let held = self.held();
        Ok(filters
            .enrollment
            .enrollment_match(held.enrollments.get(tenant).map_or(&[][..], Vec::as_slice)))
    }

    fn feed(&self) -> Option<Arc<dyn EnrollmentFeed>> {
        self.feed
            .then(|| Arc::new(self.clone()) as Arc<dyn EnrollmentFeed>)
    }
}

#[async_trait]
impl EnrollmentFeed for MemoryEnrollmentSource {
    async fn enrollment_feed_position(&self, _tenant: &TenantId) -> Result<Option<u64>> {
        self.behave().await?;
        Ok(Some(self.held().changes.len() as u64))
    }

    async fn enrollment_feed_changes(&self, tenant: &TenantId, since: u64) -> Result<FeedChanges> {
        self.behave().await?;
        let held = self.held();
        let Some(after) = held
            .changes
            .get(usize::try_from(since).unwrap_or(usize::MAX)..)
        else {
            return Ok(FeedChanges::Gap);
        };
        let ids = after
            .iter()
            .filter(|(t, _)| t == tenant)
            .map(|(_, id)| *id)
            .collect();
        Ok(FeedChanges::Changed {
            position: held.changes.len() as u64,
            ids,
        })
    }

    fn all_enrollments(&self, tenant: &TenantId) -> Batches<Enrollment> {
        let all = self
            .held()
            .enrollments
            .get(tenant)
            .cloned()
            .unwrap_or_default();
        Batches::spawn(move |sink| async move {
            for chunk in all.chunks(7) {
                if !sink.send(chunk.to_vec()).await {
                    break;
                }
            }
            Ok(())
        })
    }

    async fn enrollments_of(&self, tenant: &TenantId, users: &[Uuid]) -> Result<Vec<Enrollment>> {
        self.behave().await?;
        let held = self.held();
        Ok(held
            .enrollments
            .get(tenant)
            .map(|all| {
                all.iter()
                    .filter(|e| users.contains(&e.user_id))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Writes to a data set's learning data: what a source or a push-down reads.
#[async_trait]
pub trait LearningWriter: Send + Sync {
    /// Makes `user`'s enrollments exactly `enrollments`.
    async fn replace(&self, tenant: &TenantId, user: Uuid, enrollments: &[Enrollment]);
}

#[async_trait]
impl LearningWriter for MemoryEnrollmentSource {
    async fn replace(&self, tenant: &TenantId, user: Uuid, enrollments: &[Enrollment]) {
        let mut held = self.held();
        let list = held.enrollments.entry(tenant.clone()).or_default();
        list.retain(|e| e.user_id != user);
        list.extend(enrollments.iter().cloned());
        held.changes.push((tenant.clone(), user));
    }
}

/// A learning database file written with [`write_sqlite_learning_db`]'s layout.
#[derive(Debug, Clone)]
pub struct SqliteLearningWriter(pub std::path::PathBuf);

#[async_trait]
impl LearningWriter for SqliteLearningWriter {
    async fn replace(&self, tenant: &TenantId, user: Uuid, enrollments: &[Enrollment]) {
        let mut conn = rusqlite::Connection::open(&self.0).expect("open the learning database");
        conn.busy_timeout(Duration::from_secs(5))
            .expect("busy timeout");
        let tx = conn.transaction().expect("begin");
        tx.execute(
            "DELETE FROM enrollments WHERE tenant_id = ?1 AND user_id = ?2",
            rusqlite::params![tenant.as_str(), user.to_string()],
        )
        .expect("delete enrollments");
        for e in enrollments {
            insert_sqlite(&tx, tenant, e).expect("insert an enrollment");
        }
        tx.commit().expect("commit");
    }
}

fn insert_sqlite(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    e: &Enrollment,
) -> rusqlite::Result<usize> {
    conn.prepare_cached("INSERT INTO enrollments VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?
        .execute(rusqlite::params![
            tenant.as_str(),
            e.user_id.to_string(),
            e.program_id,
            e.program_type,
            e.status.as_str(),
            e.progress,
            i64::try_from(e.time_spent_seconds).unwrap_or(i64::MAX),
            e.last_activity_at.map(|t| t.timestamp()),
        ])
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

/// The total of users with any enrollment, as the list reports it (no filter skipped).
pub async fn enrolled_total(
    service: &usermgmt_core::UserService,
    admin: &usermgmt_core::Principal,
) -> Option<u64> {
    let query = usermgmt_core::filter::ListQuery {
        filters: UserFilters {
            enrollment: usermgmt_core::filter::EnrollmentFilters {
                has_enrollments: Some(true),
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let page = service
        .list_users(admin, query)
        .await
        .unwrap_or_else(|e| panic!("listing enrolled users: {e}"));
    assert!(
        page.skipped_filters.is_empty(),
        "{:?}",
        page.skipped_filters
    );
    page.total
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
    for e in enrollments {
        insert_sqlite(&tx, tenant, &e)?;
        rows += 1;
    }
    tx.commit()?;
    Ok(rows)
}
