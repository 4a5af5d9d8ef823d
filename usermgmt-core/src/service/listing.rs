//! The user list: the enrollment filters answered by the counting index when the learning
//! data has a change feed (else by the source or the store's push-down), the total from the
//! index, and the page read in sort order.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::core::{EnrollmentOptions, UserService};
use crate::count::Total;
use crate::error::Result;
use crate::filter::{Cursor, ListPlan, ListQuery, ORDER_WALK_ROWS, Page, Window};
use crate::model::{Permission, TenantId, User};
use crate::principal::Principal;
use crate::storage::EnrollmentFeed;

/// Most rows one step of a walk in sort order reads.
const WALK_BATCH: u64 = 2_000;

impl UserService {
    /// One page of the user list. Requires `user.list`.
    ///
    /// Cross-service (enrollment) filters are reported in `skipped_filters` when no source
    /// evaluates them.
    pub async fn list_users(&self, principal: &Principal, query: ListQuery) -> Result<Page<User>> {
        let actor = self.authorize(principal, Permission::USER_LIST).await?;
        let tenant = &actor.tenant_id;
        let page = query.page;
        let page_size = query.page_size;
        let by_cursor = query.cursor.is_some();
        let mut plan = query.plan(self.config.max_page_size)?;
        let mut skipped = self.resolve_list_filters(tenant, &mut plan).await?;
        let now = self.clock.now();
        let wants_total = plan.include_total;
        // The index also tells an enrollment-filtered page how dense its matches are.
        let indexed = self
            .indexed_total(tenant, &plan, wants_total || plan.enrollment.is_some(), now)
            .await?;
        let mut walk = None;
        if let Some(total) = indexed {
            plan.include_total = false;
            plan.order_first = plan.walks_order(total.matching, total.users);
            if plan.enrollment.is_some() && plan.order_first {
                walk = Some(total);
            }
        }
        let listed = match (indexed, walk) {
            // Nobody matches: no page to read.
            (Some(total), _) if total.matching == 0 => Ok((Vec::new(), None)),
            (_, Some(total)) => self
                .walk_page(tenant, &plan, total, now)
                .await
                .map(|items| (items, None)),
            _ => self.storage.list_users(tenant, &plan, now).await,
        };
        let (mut items, total) = match listed {
            // A store evaluating the enrollment filters itself could not reach the learning
            // data: answer without them, as with a failing source, unless strict.
            Err(crate::Error::EnrollmentSourceUnavailable(reason))
                if !self.strict_enrollments() =>
            {
                tracing::warn!(%reason, "enrollment push-down failed");
                skipped = plan.filters.skip_cross_service();
                self.storage.list_users(tenant, &plan, now).await?
            }
            other => other?,
        };
        let has_more = items.len() > page_size as usize;
        items.truncate(page_size as usize);
        let next_cursor = match items.last() {
            Some(last) if has_more => Some(cursor_after(&plan, last).encode()),
            _ => None,
        };
        let total = if wants_total {
            indexed.map(|t| t.matching).or(total)
        } else {
            None
        };
        Ok(Page {
            items,
            total,
            page: (!by_cursor).then_some(page),
            page_size,
            next_cursor,
            skipped_filters: skipped,
        })
    }

    /// A plan's total from the counting index, when `wanted` and the index covers its
    /// filters (a search term counts there unless searches are off); `None`: count in SQL.
    async fn indexed_total(
        &self,
        tenant: &TenantId,
        plan: &ListPlan,
        wanted: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Total>> {
        if !wanted {
            return Ok(None);
        }
        self.counter
            .total(
                self.storage.as_ref(),
                tenant,
                &plan.filters,
                plan.enrollment.as_ref(),
                now,
            )
            .await
    }

    /// The learning data the counting index can follow: the store's own (push-down) or the
    /// enrollment source's, when it has a change feed.
    fn enrollment_feed(&self) -> Option<Arc<dyn EnrollmentFeed>> {
        if self.storage.pushes_down_enrollments() {
            return self.storage.enrollment_feed();
        }
        self.enrollments
            .as_ref()
            .and_then(|(source, _)| source.feed())
    }

    /// Reads a tenant's enrollments into the counting index ahead of the first enrollment
    /// filter (when the learning data has a feed); a failure is logged, and lists then ask
    /// the source until the index is built.
    pub(super) async fn warm_enrollments(&self, tenant: &TenantId) {
        let Some(feed) = self.enrollment_feed() else {
            return;
        };
        if let Err(error) = self.counter.warm_enrollments(feed, tenant).await {
            tracing::warn!(%error, "reading the learning data into the counting index failed");
        }
    }

    /// [`UserService::resolve_filters`], with the enrollment filters answered by the counting
    /// index when it can.
    async fn resolve_list_filters(
        &self,
        tenant: &TenantId,
        plan: &mut ListPlan,
    ) -> Result<Vec<String>> {
        if plan.filters.uses_cross_service()
            && let Some(feed) = self.enrollment_feed()
        {
            let timeout = self
                .enrollments
                .as_ref()
                .map_or(EnrollmentOptions::default().timeout, |(_, o)| o.timeout);
            let matched = self
                .counter
                .enrollment_match(&feed, tenant, &plan.filters.enrollment);
            match tokio::time::timeout(timeout, matched).await {
                Ok(Ok(Some(matched))) => {
                    // (`resolve_filters` checks it on the other paths.)
                    self.check_permission_filter(&plan.filters)?;
                    plan.enrollment = Some(matched);
                    plan.filters = std::mem::take(&mut plan.filters).without_cross_service();
                    return Ok(Vec::new());
                }
                Ok(Ok(None)) => {}
                Ok(Err(error)) => {
                    tracing::warn!(%error, "the counting index could not follow the learning data");
                }
                Err(_) => tracing::warn!(?timeout, "the counting index did not catch up in time"),
            }
        }
        self.resolve_filters(tenant, plan).await
    }

    /// The page of an enrollment-filtered plan whose matches are dense: the store reads the
    /// users matching the other filters in sort order, and those the enrollment match leaves
    /// are kept until the page is full (`total` says how dense they are). Cheaper than handing
    /// the store every matching id when many match.
    async fn walk_page(
        &self,
        tenant: &TenantId,
        plan: &ListPlan,
        total: Total,
        now: DateTime<Utc>,
    ) -> Result<Vec<User>> {
        let mut walk = plan.clone();
        let Some(matched) = walk.enrollment.take() else {
            return Ok(self.storage.list_users(tenant, plan, now).await?.0);
        };
        let mut skip = match plan.window {
            Window::Offset(offset) => {
                walk.window = Window::Offset(0);
                offset
            }
            Window::After(_) => 0,
        };
        let want = plan.limit as usize;
        // Rows expected before the page is full, and a quarter more.
        let expected = (skip.saturating_add(u64::from(plan.limit)))
            .saturating_mul(total.users)
            .checked_div(total.matching)
            .unwrap_or(WALK_BATCH);
        let mut batch = expected.saturating_add(expected / 4).clamp(32, WALK_BATCH);
        // Matches bunched far along the sort order (a sort chosen by the caller) must not
        // make one request read the whole table: past a few times what an even spread needs,
        // the store is handed the matching ids instead.
        let mut budget = expected.saturating_mul(4).max(ORDER_WALK_ROWS);
        let mut page = Vec::with_capacity(want);
        loop {
            if budget == 0 {
                return Ok(self.storage.list_users(tenant, plan, now).await?.0);
            }
            batch = batch.min(budget);
            budget -= batch;
            walk.limit = u32::try_from(batch).unwrap_or(u32::MAX);
            let (rows, _) = self.storage.list_users(tenant, &walk, now).await?;
            let full = rows.len() as u64 == batch;
            let next = rows.last().map(|last| cursor_after(plan, last));
            for user in rows {
                if !matched.allows(user.id) {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                page.push(user);
                if page.len() == want {
                    return Ok(page);
                }
            }
            match next {
                Some(cursor) if full => walk.window = Window::After(cursor),
                _ => return Ok(page),
            }
            batch = WALK_BATCH;
        }
    }
}

/// The cursor that continues a plan's order after `last`.
fn cursor_after(plan: &ListPlan, last: &User) -> Cursor {
    Cursor {
        sort_by: plan.sort_by,
        sort_order: plan.sort_order,
        value: plan.sort_by.value_of(last),
        id: last.id,
    }
}
