//! Exact totals without counting rows: a per-tenant, in-memory column index of the counted
//! user attributes, kept current from the database's change feed ([`CountFeed`]).
//!
//! **What it covers.** Every filter condition, search terms included (unless
//! [`CountOptions::search`] is off), but cross-service (enrollment) constraints; lists with
//! those are counted in SQL, as before.
//!
//! **Exactness.** Before it answers, a request reads the feed: every user changed by a
//! transaction that committed before the request began is re-read and re-indexed, by this
//! instance or by a concurrent request's read that began after it. So a total never misses a
//! write committed before its request began, whichever instance wrote it; it may include
//! writes committed while the request ran (as a count in SQL would). Two requests arriving
//! together share one feed read.
//!
//! **Cost.** A full read of the tenant's users (the export path) the first time a tenant is
//! counted ([`Counter::warm`] does it ahead), then one small feed query per counted request.
//! Nothing is persisted: a restart rebuilds from the database.

mod bits;
mod eval;
mod facets;
mod follow;
mod index;
mod learning;
mod search;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::filter::{Condition, EnrollmentMatch, UserFilters};
use crate::model::{Status, StatusGroup, TenantId, ValueCount, ValueField};
use crate::storage::Storage;

use index::TenantIndex;
use learning::LearningIndex;

/// Users read per batch while building or catching up.
const READ_BATCH: usize = 500;

/// How the counting index behaves.
#[derive(Debug, Clone)]
pub struct CountOptions {
    /// Whether totals come from the index at all (default true); false counts in SQL.
    pub enabled: bool,
    /// How long feed entries are kept (default one hour); an index idle for half of it
    /// rebuilds on its next use instead of reading the feed.
    pub feed_retention: Duration,
    /// Whether the index keeps each user's search text, so lists with a search term count
    /// there too (default true; ~100 bytes a user).
    pub search: bool,
}

impl Default for CountOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            feed_retention: Duration::from_secs(3600),
            search: true,
        }
    }
}

/// A total from the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    /// Users matching the filters.
    pub matching: u64,
    /// Users of the tenant, deleted ones included.
    pub users: u64,
}

/// Sizes of a tenant's index, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSize {
    /// Users held.
    pub users: usize,
    /// Heap bytes held, roughly.
    pub bytes: usize,
    /// Enrollments held (0 when the learning data is not followed).
    pub enrollments: usize,
    /// Heap bytes the enrollments hold, roughly.
    pub enrollment_bytes: usize,
}

#[derive(Debug, Default)]
struct SyncState {
    /// The feed position the index is current to; `None` before the first build.
    position: Option<u64>,
    /// When the last completed feed read (or full read) began.
    synced: Option<Instant>,
}

#[derive(Debug)]
struct Tenant {
    sync: tokio::sync::Mutex<SyncState>,
    index: RwLock<TenantIndex>,
    /// The tenant's enrollments, when its learning data has a feed (see [`learning`]).
    learning_sync: tokio::sync::Mutex<SyncState>,
    learning: RwLock<LearningIndex>,
    learning_status: Mutex<learning::LearningStatus>,
}

/// The counting index of every tenant a service has counted (see the module docs).
#[derive(Debug)]
pub struct Counter {
    options: CountOptions,
    tenants: Mutex<HashMap<TenantId, Arc<Tenant>>>,
    /// Whether the store keeps a feed (learnt on first use).
    has_feed: Mutex<Option<bool>>,
    pruned: Mutex<Option<Instant>>,
    pruned_learning: Mutex<Option<Instant>>,
}

fn poisoned<T>(_: T) -> Error {
    Error::Storage(crate::error::StorageError::new(
        "counting",
        "the counting index lock is poisoned",
    ))
}

impl Counter {
    /// A counter with no index built yet.
    pub fn new(options: CountOptions) -> Self {
        Self {
            options,
            tenants: Mutex::new(HashMap::new()),
            has_feed: Mutex::new(None),
            pruned: Mutex::new(None),
            pruned_learning: Mutex::new(None),
        }
    }

    fn tenant(&self, tenant: &TenantId) -> Result<Arc<Tenant>> {
        let mut tenants = self.tenants.lock().map_err(poisoned)?;
        Ok(tenants
            .entry(tenant.clone())
            .or_insert_with(|| {
                Arc::new(Tenant {
                    sync: tokio::sync::Mutex::new(SyncState::default()),
                    index: RwLock::new(TenantIndex::new(self.options.search)),
                    learning_sync: tokio::sync::Mutex::new(SyncState::default()),
                    learning: RwLock::new(LearningIndex::default()),
                    learning_status: Mutex::new(learning::LearningStatus::default()),
                })
            })
            .clone())
    }

    /// The total of users matching `filters` (normalised, without cross-service filters) and
    /// left by `enrollment` at `now`, from the index; `None` when the index does not cover
    /// them (count in SQL).
    pub async fn total(
        &self,
        storage: &dyn Storage,
        tenant: &TenantId,
        filters: &UserFilters,
        enrollment: Option<&EnrollmentMatch>,
        now: DateTime<Utc>,
    ) -> Result<Option<Total>> {
        let Some(conditions) = self.conditions(filters, now) else {
            return Ok(None);
        };
        self.read(storage, tenant, |index| {
            eval::covers(index, &conditions).then(|| {
                let mut set = eval::matching(index, &conditions);
                match enrollment {
                    Some(EnrollmentMatch::Only(ids)) => set &= index.slots_of(ids),
                    Some(EnrollmentMatch::Except(ids)) => set -= index.slots_of(ids),
                    None => {}
                }
                Total {
                    matching: set.len(),
                    users: index.len() as u64,
                }
            })
        })
        .await
    }

    /// Per-status groups of counts over the users matching `filters` (every user, deleted
    /// ones included, when `None`); `None` when the index does not cover the filters.
    pub async fn status_groups(
        &self,
        storage: &dyn Storage,
        tenant: &TenantId,
        filters: Option<&UserFilters>,
        now: DateTime<Utc>,
    ) -> Result<Option<BTreeMap<Status, StatusGroup>>> {
        let conditions = match filters {
            Some(filters) => match self.conditions(filters, now) {
                Some(conditions) => conditions,
                None => return Ok(None),
            },
            None if self.options.enabled => Vec::new(),
            None => return Ok(None),
        };
        self.read(storage, tenant, |index| {
            eval::covers(index, &conditions)
                .then(|| facets::status_groups(index, &eval::matching(index, &conditions), now))
        })
        .await
    }

    /// For each field, a page of its values among non-deleted users with their counts (see
    /// [`crate::storage::InsightStore::distinct_values`]) and how many values there are, all
    /// from one read of the index; `None` when the index is off.
    pub async fn values(
        &self,
        storage: &dyn Storage,
        tenant: &TenantId,
        fields: &[ValueField],
        contains: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<Option<Vec<(Vec<ValueCount>, u64)>>> {
        if !self.options.enabled {
            return Ok(None);
        }
        // Roles are listed even when nobody holds them.
        let listed: Vec<String> = if fields.contains(&ValueField::Roles) {
            let roles = storage.list_roles(tenant).await?;
            roles.into_iter().map(|r| r.name).collect()
        } else {
            Vec::new()
        };
        self.read(storage, tenant, |index| {
            // A column whose dictionary overflowed lacks values: count it in SQL.
            let incomplete = fields.iter().any(|field| match facets::source(*field) {
                facets::Source::Column(column) => index.overflowed(column),
                facets::Source::Related(_) => false,
            });
            if incomplete {
                return None;
            }
            let live = eval::matching(index, &[Condition::NotDeleted]);
            let pages = fields
                .iter()
                .map(|field| {
                    let listed = if *field == ValueField::Roles {
                        listed.as_slice()
                    } else {
                        &[]
                    };
                    let all =
                        facets::values(index, &facets::source(*field), &live, contains, listed);
                    let total = all.len() as u64;
                    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(all.len());
                    let page = all.into_iter().skip(start).take(limit as usize).collect();
                    (page, total)
                })
                .collect();
            Some(pages)
        })
        .await
    }

    /// The conditions of filters the index may answer (`None`: count in SQL).
    fn conditions(&self, filters: &UserFilters, now: DateTime<Utc>) -> Option<Vec<Condition>> {
        if !self.options.enabled || filters.uses_cross_service() {
            return None;
        }
        Some(filters.conditions(now))
    }

    /// Brings the tenant's index up to date and reads it; `None` when the store keeps no feed
    /// or `read` declines.
    async fn read<T>(
        &self,
        storage: &dyn Storage,
        tenant: &TenantId,
        read: impl FnOnce(&TenantIndex) -> Option<T>,
    ) -> Result<Option<T>> {
        let begun = Instant::now();
        let state = self.tenant(tenant)?;
        if !self.catch_up(storage, tenant, &state, begun).await? {
            return Ok(None);
        }
        let index = state.index.read().map_err(poisoned)?;
        Ok(read(&index))
    }

    /// Builds (or brings up to date) a tenant's index ahead of its first request; false when
    /// the store keeps no feed.
    pub async fn warm(&self, storage: &dyn Storage, tenant: &TenantId) -> Result<bool> {
        let state = self.tenant(tenant)?;
        self.catch_up(storage, tenant, &state, Instant::now()).await
    }

    /// The size of a tenant's index, when built.
    pub fn size(&self, tenant: &TenantId) -> Option<IndexSize> {
        let tenants = self.tenants.lock().ok()?;
        let state = tenants.get(tenant)?;
        let index = state.index.read().ok()?;
        let learning = state.learning.read().ok()?;
        Some(IndexSize {
            users: index.len(),
            bytes: index.heap_bytes(),
            enrollments: learning.rows(),
            enrollment_bytes: learning.heap_bytes(),
        })
    }
}
