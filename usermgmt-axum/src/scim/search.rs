//! List and search requests (RFC 7644 §3.4.2-3): `filter`, `startIndex`, `count`, `sortBy`,
//! `sortOrder`, `attributes` and `excludedAttributes`, from a query or a `/.search` body.

use std::collections::HashMap;

use serde_json::Value;
use usermgmt_core::filter::SortOrder;
use usermgmt_core::scim::eval::member;

use super::http::ScimError;

/// Results per page when the client does not say.
pub(super) const DEFAULT_COUNT: u64 = 100;
/// Most results per page.
pub(super) const MAX_COUNT: u64 = 500;

/// `attributes` / `excludedAttributes`.
#[derive(Debug, Default)]
pub(super) struct Shape {
    pub(super) attributes: Vec<String>,
    pub(super) excluded: Vec<String>,
}

fn names(text: Option<&String>) -> Vec<String> {
    text.map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

impl Shape {
    pub(super) fn from_query(query: &HashMap<String, String>) -> Self {
        Self {
            attributes: names(query.get("attributes")),
            excluded: names(query.get("excludedAttributes")),
        }
    }
}

/// A list or search request.
#[derive(Debug, Default)]
pub(super) struct Search {
    pub(super) filter: Option<String>,
    pub(super) start: Option<i64>,
    pub(super) count: Option<i64>,
    pub(super) sort_by: Option<String>,
    pub(super) sort_order: Option<String>,
    pub(super) shape: Shape,
}

fn number(text: Option<&String>, name: &str) -> Result<Option<i64>, ScimError> {
    text.map(|t| {
        t.trim()
            .parse()
            .map_err(|_| ScimError::bad("invalidValue", format!("`{name}` must be an integer")))
    })
    .transpose()
}

impl Search {
    pub(super) fn from_query(query: &HashMap<String, String>) -> Result<Self, ScimError> {
        Ok(Self {
            filter: query.get("filter").cloned(),
            start: number(query.get("startIndex"), "startIndex")?,
            count: number(query.get("count"), "count")?,
            sort_by: query.get("sortBy").cloned(),
            sort_order: query.get("sortOrder").cloned(),
            shape: Shape::from_query(query),
        })
    }

    pub(super) fn from_body(body: &Value) -> Result<Self, ScimError> {
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match member(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::bad(
                    "invalidValue",
                    format!("`{name}` must be a string"),
                )),
            }
        };
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            match member(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                    ScimError::bad("invalidValue", format!("`{name}` must be an integer"))
                }),
            }
        };
        let list = |name: &str| -> Result<Vec<String>, ScimError> {
            match member(body, name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_owned).ok_or_else(|| {
                            ScimError::bad("invalidValue", format!("`{name}` must list strings"))
                        })
                    })
                    .collect(),
                Some(_) => Err(ScimError::bad(
                    "invalidValue",
                    format!("`{name}` must be an array"),
                )),
            }
        };
        Ok(Self {
            filter: text("filter")?,
            start: int("startIndex")?,
            count: int("count")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            shape: Shape {
                attributes: list("attributes")?,
                excluded: list("excludedAttributes")?,
            },
        })
    }
}

impl Search {
    /// The first result (1-based) and the page size asked for (at most [`MAX_COUNT`]).
    pub(super) fn window(&self) -> (u64, u64) {
        let start = u64::try_from(self.start.unwrap_or(1).max(1)).unwrap_or(1);
        let count = self
            .count
            .map_or(DEFAULT_COUNT, |c| u64::try_from(c.max(0)).unwrap_or(0))
            .min(MAX_COUNT);
        (start, count)
    }

    /// `sortOrder` (ascending by default).
    pub(super) fn order(&self) -> Result<SortOrder, ScimError> {
        match self.sort_order.as_deref().map(str::to_ascii_lowercase) {
            None => Ok(SortOrder::Asc),
            Some(o) if o == "ascending" => Ok(SortOrder::Asc),
            Some(o) if o == "descending" => Ok(SortOrder::Desc),
            Some(_) => Err(ScimError::bad(
                "invalidValue",
                "sortOrder is ascending or descending",
            )),
        }
    }
}
