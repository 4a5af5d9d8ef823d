//! Keeping a tenant's indexes current: one loop follows a change feed (the users' in the
//! store, the enrollments' in the learning data) and re-reads what changed, or rebuilds from a
//! full read when the feed no longer reaches back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

use crate::error::Result;
use crate::filter::{EnrollmentFilters, EnrollmentMatch, ListPlan, UserFilters};
use crate::model::{Status, TenantId};
use crate::storage::{EnrollmentFeed, FeedChanges, Storage};

use super::learning::LearningStatus;
use super::{Counter, LearningIndex, READ_BATCH, SyncState, Tenant, TenantIndex, poisoned};

/// A data set an index follows through a feed.
#[async_trait]
trait Followed: Send + Sync {
    /// The feed's position before a full read; `None`: no feed.
    async fn position(&self) -> Result<Option<u64>>;
    /// What changed since a position.
    async fn changes(&self, since: u64) -> Result<FeedChanges>;
    /// Replaces the index with a full read.
    async fn rebuild(&self) -> Result<()>;
    /// Re-reads these ids into the index.
    async fn reindex(&self, ids: &[Uuid]) -> Result<()>;
}

/// Where following a feed left an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Current as of the request's start.
    Current,
    /// There is no feed to follow.
    NoFeed,
    /// Only a full read would make it current, and that was not allowed.
    Stale,
}

impl Counter {
    /// Makes an index reflect every write committed before `begun` (rebuilding it when the
    /// feed no longer reaches back, if `rebuild` allows).
    async fn follow(
        &self,
        sync: &tokio::sync::Mutex<SyncState>,
        followed: &dyn Followed,
        begun: Instant,
        rebuild: bool,
    ) -> Result<Progress> {
        let mut sync = sync.lock().await;
        if sync.synced.is_some_and(|at| at >= begun) {
            // A read that began after this request did already.
            return Ok(Progress::Current);
        }
        let started = Instant::now();
        let fresh = sync
            .synced
            .is_some_and(|at| at.elapsed() < self.options.feed_retention / 2);
        let changes = match sync.position {
            Some(position) if fresh => followed.changes(position).await?,
            _ => FeedChanges::Gap,
        };
        match changes {
            FeedChanges::Changed { position, ids } => {
                for chunk in ids.chunks(READ_BATCH) {
                    followed.reindex(chunk).await?;
                }
                sync.position = Some(position);
            }
            FeedChanges::Gap if !rebuild => return Ok(Progress::Stale),
            FeedChanges::Gap => {
                let Some(position) = followed.position().await? else {
                    return Ok(Progress::NoFeed);
                };
                followed.rebuild().await?;
                sync.position = Some(position);
            }
        }
        sync.synced = Some(started);
        Ok(Progress::Current)
    }

    /// Makes the users' index reflect every write committed before `begun`; false when the
    /// store keeps no feed.
    pub(super) async fn catch_up(
        &self,
        storage: &dyn Storage,
        tenant: &TenantId,
        state: &Tenant,
        begun: Instant,
    ) -> Result<bool> {
        if *self.has_feed.lock().map_err(poisoned)? == Some(false) {
            return Ok(false);
        }
        let users = Users {
            storage,
            tenant,
            state,
            search: self.options.search,
        };
        let followed = self.follow(&state.sync, &users, begun, true).await? == Progress::Current;
        *self.has_feed.lock().map_err(poisoned)? = Some(followed);
        if followed
            && due(&self.pruned, self.options.feed_retention)
            && let Err(error) = storage.prune_feed(self.options.feed_retention).await
        {
            tracing::warn!(%error, "pruning the change feed failed");
        }
        Ok(followed)
    }

    /// The users of `tenant` the enrollment filters leave, from the index of the tenant's
    /// enrollments followed through `feed` (exact as of the request's start); `None` when the
    /// index cannot answer now: counting is off, the learning data has no feed installed, or
    /// the index is being (re)built from a full read, in a task of its own, meanwhile.
    pub async fn enrollment_match(
        self: &Arc<Self>,
        feed: &Arc<dyn EnrollmentFeed>,
        tenant: &TenantId,
        filters: &EnrollmentFilters,
    ) -> Result<Option<EnrollmentMatch>> {
        if !self.options.enabled {
            return Ok(None);
        }
        let begun = Instant::now();
        let state = self.tenant(tenant)?;
        let ready = matches!(
            *state.learning_status.lock().map_err(poisoned)?,
            LearningStatus::Ready
        );
        let followed = if ready {
            // In a task of its own: a request that stops waiting (its timeout) does not stop
            // the catch-up, which later requests then find done.
            let follow = self.clone().follow_learning(
                feed.clone(),
                tenant.clone(),
                state.clone(),
                begun,
                false,
            );
            joined(tokio::spawn(follow).await)?
        } else {
            Progress::Stale
        };
        if followed != Progress::Current {
            self.build_learning(feed.clone(), tenant.clone(), &state);
            return Ok(None);
        }
        if due(&self.pruned_learning, self.options.feed_retention)
            && let Err(error) = feed
                .prune_enrollment_feed(self.options.feed_retention)
                .await
        {
            tracing::warn!(%error, "pruning the enrollment feed failed");
        }
        // A scan of every enrollment: off the async workers.
        let filters = filters.clone();
        let matched = tokio::task::spawn_blocking(move || {
            let index = state.learning.read().map_err(poisoned)?;
            Ok(index.matching(&filters))
        })
        .await;
        joined(matched).map(Some)
    }

    /// Builds a tenant's enrollment index ahead of its first use; false when the learning
    /// data has no feed installed. The read runs in a task of its own: it completes (and the
    /// index serves) even if the caller stops waiting.
    pub async fn warm_enrollments(
        self: &Arc<Self>,
        feed: Arc<dyn EnrollmentFeed>,
        tenant: &TenantId,
    ) -> Result<bool> {
        let state = self.tenant(tenant)?;
        {
            // Requests meanwhile ask the source rather than start a read of their own.
            let mut status = state.learning_status.lock().map_err(poisoned)?;
            if !matches!(*status, LearningStatus::Ready) {
                *status = LearningStatus::Building;
            }
        }
        let build = self.clone().build_task(feed, tenant.clone(), state);
        joined(tokio::spawn(build).await)
    }

    /// Follows a tenant's learning data (see [`Counter::follow`]), owning what it needs.
    async fn follow_learning(
        self: Arc<Self>,
        feed: Arc<dyn EnrollmentFeed>,
        tenant: TenantId,
        state: Arc<Tenant>,
        begun: Instant,
        rebuild: bool,
    ) -> Result<Progress> {
        let learning = Learning {
            feed: feed.as_ref(),
            tenant: &tenant,
            state: &state,
        };
        self.follow(&state.learning_sync, &learning, begun, rebuild)
            .await
    }

    /// A full read (or catch-up) of a tenant's enrollments that leaves the status `Ready`, or
    /// `NoFeed` when there is no feed or the read failed.
    async fn build_task(
        self: Arc<Self>,
        feed: Arc<dyn EnrollmentFeed>,
        tenant: TenantId,
        state: Arc<Tenant>,
    ) -> Result<bool> {
        let followed = self
            .clone()
            .follow_learning(feed, tenant, state.clone(), Instant::now(), true)
            .await;
        let status = match followed {
            Ok(Progress::Current) => LearningStatus::Ready,
            _ => LearningStatus::NoFeed(Instant::now()),
        };
        *state.learning_status.lock().map_err(poisoned)? = status;
        Ok(followed? == Progress::Current)
    }

    /// Starts a full read of a tenant's enrollments in a task of its own, unless one runs or
    /// the learning data was found without a feed less than a minute ago.
    fn build_learning(
        self: &Arc<Self>,
        feed: Arc<dyn EnrollmentFeed>,
        tenant: TenantId,
        state: &Arc<Tenant>,
    ) {
        {
            let Ok(mut status) = state.learning_status.lock() else {
                return;
            };
            match *status {
                LearningStatus::Building => return,
                LearningStatus::NoFeed(at) if at.elapsed() < NO_FEED_RECHECK => return,
                _ => *status = LearningStatus::Building,
            }
        }
        let build = self.clone().build_task(feed, tenant, state.clone());
        tokio::spawn(async move {
            if let Err(error) = build.await {
                tracing::warn!(%error, "reading the learning data into the counting index failed");
            }
        });
    }
}

/// The outcome of a task of the index's own.
fn joined<T>(outcome: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    outcome
        .map_err(|e| crate::error::Error::Storage(crate::error::StorageError::new("counting", e)))?
}

/// How long a learning database found without a feed is not asked again.
const NO_FEED_RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether a periodic job is due (at most every tenth of the retention), marking it done.
fn due(last: &Mutex<Option<Instant>>, retention: std::time::Duration) -> bool {
    let Ok(mut last) = last.lock() else {
        return false;
    };
    let due = last.is_none_or(|at| at.elapsed() >= retention / 10);
    if due {
        *last = Some(Instant::now());
    }
    due
}

/// The users of a tenant, in the store.
struct Users<'a> {
    storage: &'a dyn Storage,
    tenant: &'a TenantId,
    state: &'a Tenant,
    search: bool,
}

#[async_trait]
impl Followed for Users<'_> {
    async fn position(&self) -> Result<Option<u64>> {
        self.storage.feed_position(self.tenant).await
    }

    async fn changes(&self, since: u64) -> Result<FeedChanges> {
        self.storage.feed_changes(self.tenant, since).await
    }

    /// Every user of the tenant, deleted ones included, read into a new index.
    async fn rebuild(&self) -> Result<()> {
        let everyone = UserFilters {
            statuses: Status::ALL.to_vec(),
            ..Default::default()
        };
        let plan = ListPlan::export(&everyone, None);
        let mut batches =
            self.storage
                .export_users(self.tenant, plan, Utc::now(), READ_BATCH as u32);
        let mut index = TenantIndex::new(self.search);
        while let Some(batch) = batches.next().await {
            for user in batch? {
                index.put(&user);
            }
        }
        index.shrink();
        *self.state.index.write().map_err(poisoned)? = index;
        Ok(())
    }

    /// Re-reads changed users into the index (absent ones are gone).
    async fn reindex(&self, ids: &[Uuid]) -> Result<()> {
        let users: HashMap<Uuid, crate::model::User> = self
            .storage
            .users_by_ids(self.tenant, ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let mut index = self.state.index.write().map_err(poisoned)?;
        for id in ids {
            match users.get(id) {
                Some(user) => index.put(user),
                None => index.remove(*id),
            }
        }
        Ok(())
    }
}

/// The enrollments of a tenant, in the learning data.
struct Learning<'a> {
    feed: &'a dyn EnrollmentFeed,
    tenant: &'a TenantId,
    state: &'a Tenant,
}

#[async_trait]
impl Followed for Learning<'_> {
    async fn position(&self) -> Result<Option<u64>> {
        self.feed.enrollment_feed_position(self.tenant).await
    }

    async fn changes(&self, since: u64) -> Result<FeedChanges> {
        self.feed.enrollment_feed_changes(self.tenant, since).await
    }

    async fn rebuild(&self) -> Result<()> {
        let mut batches = self.feed.all_enrollments(self.tenant);
        let mut index = LearningIndex::default();
        while let Some(batch) = batches.next().await {
            index.add(&batch?);
        }
        index.shrink();
        *self.state.learning.write().map_err(poisoned)? = index;
        Ok(())
    }

    async fn reindex(&self, ids: &[Uuid]) -> Result<()> {
        let rows = self.feed.enrollments_of(self.tenant, ids).await?;
        self.state
            .learning
            .write()
            .map_err(poisoned)?
            .replace(ids, &rows);
        Ok(())
    }
}
