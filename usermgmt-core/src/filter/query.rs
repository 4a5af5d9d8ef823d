//! List requests (what a caller asks), list plans (what a backend executes) and pages.

use serde::{Deserialize, Serialize};

use super::cursor::Cursor;
use super::enrollment::EnrollmentMatch;
use super::filters::UserFilters;
use super::sort::{SortBy, SortOrder};
use crate::error::{Error, FieldErrors};

/// Default page size.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Largest accepted page number for offset paging (deeper pages: use `cursor`).
pub const MAX_PAGE: u32 = 1_000_000;
/// Default largest page size (configurable in the service).
pub const DEFAULT_MAX_PAGE_SIZE: u32 = 500;

/// A request for one page of the user list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Filters.
    pub filters: UserFilters,
    /// Sort key (default `created_at`).
    pub sort_by: SortBy,
    /// Direction (default `desc`).
    pub sort_order: SortOrder,
    /// Page number from 1 (ignored when `cursor` is set).
    pub page: u32,
    /// Rows per page (default 20, at most the configured maximum).
    pub page_size: u32,
    /// A `next_cursor` from an earlier page: continue after it in constant time.
    pub cursor: Option<String>,
    /// Whether to count the matching rows (default true).
    pub include_total: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            filters: UserFilters::default(),
            sort_by: SortBy::default(),
            sort_order: SortOrder::default(),
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
            cursor: None,
            include_total: true,
        }
    }
}

/// Where the requested rows start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    /// Skip this many rows.
    Offset(u64),
    /// Start strictly after this position.
    After(Cursor),
}

/// A validated, normalised list request as a backend executes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPlan {
    /// Normalised filters (cross-service filters already removed or resolved).
    pub filters: UserFilters,
    /// Sort key.
    pub sort_by: SortBy,
    /// Direction.
    pub sort_order: SortOrder,
    /// Where to start.
    pub window: Window,
    /// How many rows to return at most.
    pub limit: u32,
    /// Whether to count all matching rows.
    pub include_total: bool,
    /// The users an enrollment source left (cross-service filters already evaluated).
    pub enrollment: Option<EnrollmentMatch>,
    /// So many users match (the counting index knows how many) that walking the sort order
    /// and testing each row finds the page sooner than finding every match and sorting them:
    /// a backend whose planner cannot know this may force the sort-order index.
    pub order_first: bool,
}

/// Rows a walk in sort order may be expected to read before it has its page (see
/// [`ListPlan::walks_order`]).
pub const ORDER_WALK_ROWS: u64 = 20_000;

impl ListQuery {
    /// Validates and normalises the request into a plan that fetches one extra row (so the
    /// caller can tell whether a next page exists).
    pub fn plan(mut self, max_page_size: u32) -> Result<ListPlan, Error> {
        let mut errors = match self.filters.normalize() {
            Ok(()) => FieldErrors::new(),
            Err(errors) => errors,
        };
        if self.page == 0 || self.page > MAX_PAGE {
            errors.add("page", format!("must be between 1 and {MAX_PAGE}"));
        }
        if self.page_size == 0 || self.page_size > max_page_size {
            errors.add(
                "page_size",
                format!("must be between 1 and {max_page_size}"),
            );
        }
        let window = match self.cursor.as_deref().filter(|c| !c.trim().is_empty()) {
            Some(text) => match Cursor::decode(text, self.sort_by, self.sort_order) {
                Ok(cursor) => Window::After(cursor),
                Err(Error::Validation(cursor_errors)) => {
                    errors.merge(cursor_errors);
                    Window::Offset(0)
                }
                Err(other) => return Err(other),
            },
            None => {
                Window::Offset(u64::from(self.page.saturating_sub(1)) * u64::from(self.page_size))
            }
        };
        errors.into_result()?;
        Ok(ListPlan {
            filters: self.filters,
            sort_by: self.sort_by,
            sort_order: self.sort_order,
            window,
            limit: self.page_size + 1,
            include_total: self.include_total,
            enrollment: None,
            order_first: false,
        })
    }
}

impl ListPlan {
    /// The plan an export runs: every user matching the (normalised) filters and left by
    /// `enrollment`, in the list's default order (`created_at` desc, `id` desc), no limit, no
    /// count.
    pub fn export(filters: &UserFilters, enrollment: Option<EnrollmentMatch>) -> ListPlan {
        ListPlan {
            filters: filters.clone(),
            sort_by: SortBy::CreatedAt,
            sort_order: SortOrder::Desc,
            window: Window::Offset(0),
            limit: u32::MAX,
            include_total: false,
            enrollment,
            order_first: false,
        }
    }

    /// Whether walking the sort order reads at most [`ORDER_WALK_ROWS`] rows for the page,
    /// expected when `matching` of `users` users match, spread evenly along the order.
    pub fn walks_order(&self, matching: u64, users: u64) -> bool {
        let before = match &self.window {
            Window::Offset(offset) => *offset,
            Window::After(_) => 0,
        };
        let rows = u128::from(before.saturating_add(u64::from(self.limit)));
        matching > 0
            && rows * u128::from(users) <= u128::from(ORDER_WALK_ROWS) * u128::from(matching)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// All matching rows, when requested.
    pub total: Option<u64>,
    /// The page number (absent when the page was fetched by cursor).
    pub page: Option<u32>,
    /// Rows per page.
    pub page_size: u32,
    /// Pass as `cursor` to fetch the following page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Filters that could not be evaluated and were ignored (e.g. cross-service filters
    /// without a reachable source).
    pub skipped_filters: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_walked_when_matches_are_common_enough() {
        let plan = ListQuery {
            page_size: 20,
            ..Default::default()
        }
        .plan(500)
        .unwrap_or_else(|e| panic!("{e}"));
        // 21 rows from a walk: every 952nd user matching is still within 20,000 rows.
        assert!(plan.walks_order(1_050, 1_000_000));
        assert!(!plan.walks_order(1_000, 1_000_000));
        assert!(
            !plan.walks_order(0, 1_000_000),
            "nobody matches: nothing to walk"
        );
        let deep = ListPlan {
            window: Window::Offset(10_000),
            ..plan.clone()
        };
        assert!(
            !deep.walks_order(100_000, 1_000_000),
            "a deep page reads too far"
        );
        assert!(deep.walks_order(900_000, 1_000_000));
    }
}
