//! A SCIM filter evaluated over a resource's JSON, as RFC 7644 §3.4.2.2 defines it: the
//! reference the compiled filters are tested against, and what PATCH value paths select with.
//!
//! Attribute names ignore case; strings compare ignoring case unless the attribute is
//! case-exact (`id`, and the `value` of group members); a comparison on a multi-valued
//! attribute holds when it holds for one of its values; `dateTime` values (`meta.created`,
//! `meta.lastModified`) compare as instants.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::filter::{AttrPath, CompValue, CompareOp, Filter};

/// Whether `uri` is a core schema's (`urn:ietf:params:scim:schemas:core:2.0:…`): its
/// attributes are the resource's own, not an extension object's.
pub fn is_core_uri(uri: &str) -> bool {
    uri.to_ascii_lowercase()
        .starts_with("urn:ietf:params:scim:schemas:core:2.0:")
}

/// A member of a JSON object, its name compared ignoring case.
pub fn member<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The values `path` reaches in `resource` (several for a multi-valued attribute).
fn values<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let whole = AttrPath {
        sub: None,
        ..path.clone()
    };
    let items = elements(resource, &whole);
    match &path.sub {
        None => items
            .into_iter()
            // A multi-valued complex attribute compares through its `value`.
            .map(|v| member(v, "value").filter(|_| v.is_object()).unwrap_or(v))
            .collect(),
        Some(sub) => items.into_iter().filter_map(|v| member(v, sub)).collect(),
    }
}

fn case_exact(path: &AttrPath) -> bool {
    path.uri.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case("id")
}

fn is_time(path: &AttrPath) -> bool {
    path.name.eq_ignore_ascii_case("meta")
        && path.sub.as_deref().is_some_and(|s| {
            s.eq_ignore_ascii_case("created") || s.eq_ignore_ascii_case("lastModified")
        })
}

fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn compare_one(value: &Value, op: CompareOp, wanted: &CompValue, exact: bool, time: bool) -> bool {
    use std::cmp::Ordering;
    let order = |o: Ordering| match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    };
    match (value, wanted) {
        (Value::String(have), CompValue::String(want)) => {
            if time && let (Some(a), Some(b)) = (instant(have), instant(want)) {
                return order(a.cmp(&b));
            }
            let (have, want) = if exact {
                (have.clone(), want.clone())
            } else {
                (have.to_lowercase(), want.to_lowercase())
            };
            match op {
                CompareOp::Co => have.contains(&want),
                CompareOp::Sw => have.starts_with(&want),
                CompareOp::Ew => have.ends_with(&want),
                _ => order(have.cmp(&want)),
            }
        }
        (Value::Bool(have), CompValue::Bool(want)) => {
            matches!(op, CompareOp::Eq | CompareOp::Ne) && order(have.cmp(want))
        }
        (Value::Number(have), CompValue::Number(want)) => match (have.as_f64(), want.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(order),
            _ => false,
        },
        (Value::Null, CompValue::Null) => op == CompareOp::Eq,
        _ => op == CompareOp::Ne,
    }
}

fn present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// Whether `resource` (or one element of a multi-valued attribute) satisfies `filter`.
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource) && matches(b, resource),
        Filter::Or(a, b) => matches(a, resource) || matches(b, resource),
        Filter::Not(inner) => !matches(inner, resource),
        Filter::Present(path) => values(resource, path).into_iter().any(present),
        Filter::Compare(path, op, wanted) => {
            let found = values(resource, path);
            let exact = case_exact(path);
            let time = is_time(path);
            if found.is_empty() {
                // An absent attribute equals nothing, and is unequal to everything but null.
                return match (op, wanted) {
                    (CompareOp::Eq, CompValue::Null) => true,
                    (CompareOp::Ne, CompValue::Null) => false,
                    (op, _) => *op == CompareOp::Ne,
                };
            }
            match op {
                // `ne` on a multi-valued attribute: no value equals.
                CompareOp::Ne => !found
                    .iter()
                    .any(|v| compare_one(v, CompareOp::Eq, wanted, exact, time)),
                _ => found
                    .iter()
                    .any(|v| compare_one(v, *op, wanted, exact, time)),
            }
        }
        Filter::ValuePath { attr, filter, .. } => elements(resource, attr)
            .into_iter()
            .any(|element| matches(filter, element)),
    }
}

/// The elements of the multi-valued attribute `path` names in `resource` (its sub-attribute
/// ignored); a single value counts as one element.
pub fn elements<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let base = match &path.uri {
        Some(uri) if is_core_uri(uri) => Some(resource),
        Some(uri) => member(resource, uri),
        None => Some(resource),
    };
    match base.and_then(|b| member(b, &path.name)) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}
