//! Filtering, sorting and pagination of the user list, and the reference model.

mod checks;
mod column;
mod conditions;
mod cursor;
mod enrollment;
mod filters;
mod query;
mod reference;
mod sort;

pub use conditions::{Cmp, Column, Condition, Operand, Related};
pub use cursor::Cursor;
pub use enrollment::{EnrollmentFilters, EnrollmentMatch};
pub use filters::{
    MAX_AGE, MAX_DAYS, MAX_FAILED_ATTEMPTS, MAX_FILTER_VALUES, MAX_SEARCH_LEN, UserFilters,
    identity_key,
};
pub use query::{
    DEFAULT_MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, ListPlan, ListQuery, MAX_PAGE, ORDER_WALK_ROWS, Page,
    Window,
};
pub use reference::reference_list;
pub use sort::{SortBy, SortOrder, SortValue, compare};
