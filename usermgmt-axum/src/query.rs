//! Query strings for the list, export and bulk routes: every [`UserFilters`] field plus the
//! paging and sorting keys. Multi-valued filters take comma-separated values, repeated keys or
//! both (`country=DE,FR&country=US`); a scalar given twice, an unknown key or a bad value is a
//! 400 naming the key, and every bad key is reported at once.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use usermgmt_core::filter::{ListQuery, SortBy, SortOrder, UserFilters};
use usermgmt_core::{Error, FieldErrors, Result};

/// Decodes `a=1&b=2` (percent-decoding; malformed UTF-8 becomes U+FFFD) into pairs.
fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The JSON shape of the filters' fields: `true` for multi-valued ones. Read from the type's
/// own serialisation, so a field added to [`UserFilters`] is accepted here without a list to
/// keep in step.
fn filter_fields() -> Map<String, Value> {
    match serde_json::to_value(UserFilters::default()) {
        Ok(Value::Object(map)) => map,
        // `UserFilters` is a plain struct: it always serialises to an object.
        _ => Map::new(),
    }
}

/// A value as the JSON candidates it could stand for: as written, then as a literal
/// (`true`, `42`) for typed scalars.
fn candidates(value: &str) -> Vec<Value> {
    let mut out = vec![Value::String(value.to_owned())];
    if let Ok(literal @ (Value::Bool(_) | Value::Number(_))) = serde_json::from_str(value) {
        out.push(literal);
    }
    out
}

/// The first candidate that `T` accepts for `key`, or the reason none did.
fn typed_scalar<T: DeserializeOwned>(key: &str, value: &str) -> Result<Value, String> {
    let mut reason = String::new();
    for candidate in candidates(value) {
        let mut object = Map::new();
        object.insert(key.to_owned(), candidate.clone());
        match serde_json::from_value::<T>(Value::Object(object)) {
            Ok(_) => return Ok(candidate),
            Err(e) if reason.is_empty() => reason = readable(&e.to_string()),
            Err(_) => {}
        }
    }
    Err(reason)
}

/// Adds a single-valued key typed as `T` accepts it, or records why not (a bad value, an
/// unknown key, or the key given twice).
fn put_scalar<T: DeserializeOwned>(
    target: &mut Map<String, Value>,
    errors: &mut FieldErrors,
    key: String,
    value: &str,
) {
    match typed_scalar::<T>(&key, value) {
        Ok(_) if target.contains_key(&key) => errors.add(key, "given more than once"),
        Ok(typed) => {
            target.insert(key, typed);
        }
        Err(reason) => errors.add(key, reason),
    }
}

/// serde's message without its position suffix.
fn readable(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned()
}

/// The paging keys, checked one by one.
#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Paging {
    /// Sort key (default `created_at`).
    sort_by: Option<SortBy>,
    /// `asc` or `desc` (default `desc`).
    sort_order: Option<SortOrder>,
    /// Page number from 1, for offset paging.
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u32>,
    /// Users per page (default 20, at most the configured maximum, 500 by default).
    #[param(minimum = 1, maximum = 500)]
    page_size: Option<u32>,
    /// `next_cursor` of the previous page, for keyset paging (wins over `page`).
    cursor: Option<String>,
    /// Whether to count all matches into `total` (default `true`).
    include_total: Option<bool>,
}

/// Parses a list query string.
pub(crate) fn list_query(raw: Option<&str>) -> Result<ListQuery> {
    let (filters, paging): (UserFilters, Paging) = filters_and(raw)?;
    let defaults = ListQuery::default();
    Ok(ListQuery {
        filters,
        sort_by: paging.sort_by.unwrap_or(defaults.sort_by),
        sort_order: paging.sort_order.unwrap_or(defaults.sort_order),
        page: paging.page.unwrap_or(defaults.page),
        page_size: paging.page_size.unwrap_or(defaults.page_size),
        cursor: paging.cursor,
        include_total: paging.include_total.unwrap_or(defaults.include_total),
    })
}

/// Parses the filters and the single-valued keys of `T` (a `deny_unknown_fields` struct whose
/// fields all have defaults); any other key is refused.
pub(crate) fn filters_and<T: DeserializeOwned>(raw: Option<&str>) -> Result<(UserFilters, T)> {
    let fields = filter_fields();
    let mut errors = FieldErrors::new();
    let mut filters = Map::new();
    let mut extra = Map::new();
    for (key, value) in pairs(raw) {
        if matches!(fields.get(&key), Some(Value::Array(_))) {
            let list = filters
                .entry(key.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = list {
                items.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| Value::String(v.to_owned())),
                );
            }
            continue;
        }
        if fields.contains_key(&key) {
            put_scalar::<UserFilters>(&mut filters, &mut errors, key, &value);
        } else {
            put_scalar::<T>(&mut extra, &mut errors, key, &value);
        }
    }
    // Multi-valued fields: check each list as a whole (an unknown enum value, for one).
    for (key, value) in &filters {
        if value.is_array() {
            let mut object = Map::new();
            object.insert(key.clone(), value.clone());
            if let Err(e) = serde_json::from_value::<UserFilters>(Value::Object(object)) {
                errors.add(key.clone(), readable(&e.to_string()));
            }
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let filters = serde_json::from_value(Value::Object(filters))
        .map_err(|e| Error::invalid("query", readable(&e.to_string())))?;
    let extra = serde_json::from_value(Value::Object(extra))
        .map_err(|e| Error::invalid("query", readable(&e.to_string())))?;
    Ok((filters, extra))
}

/// Parses a query string of single-valued keys into `T`, a `deny_unknown_fields` struct whose
/// fields all have defaults (handlers check the required ones): unknown keys, repeated keys
/// and bad values are a 400 naming each.
pub(crate) fn params<T: DeserializeOwned>(raw: Option<&str>) -> Result<T> {
    let mut errors = FieldErrors::new();
    let mut object = Map::new();
    for (key, value) in pairs(raw) {
        put_scalar::<T>(&mut object, &mut errors, key, &value);
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    serde_json::from_value(Value::Object(object))
        .map_err(|e| Error::invalid("query", readable(&e.to_string())))
}

#[cfg(test)]
mod tests {
    use usermgmt_core::model::Status;

    use super::*;

    #[test]
    fn multi_values_accept_commas_and_repeats() {
        let query = list_query(Some("country=DE,%20FR&country=US&status=active&page=2")).unwrap();
        assert_eq!(query.filters.country, ["DE", "FR", "US"]);
        assert_eq!(query.filters.status, Some(Status::Active));
        assert_eq!(query.page, 2);
    }

    #[test]
    fn typed_scalars_and_strings_that_look_like_numbers() {
        let query = list_query(Some(
            "search=123&is_admin=true&age_min=30&include_total=false",
        ))
        .unwrap();
        assert_eq!(query.filters.search.as_deref(), Some("123"));
        assert_eq!(query.filters.is_admin, Some(true));
        assert_eq!(query.filters.age_min, Some(30));
        assert!(!query.include_total);
    }

    #[test]
    fn every_bad_key_is_named() {
        let Err(Error::Validation(errors)) = list_query(Some(
            "colour=red&age_min=old&status=gone&page=1&page=2&gender=x",
        )) else {
            panic!("expected a validation error");
        };
        for key in ["colour", "age_min", "status", "page", "gender"] {
            assert!(errors.get(key).is_some(), "{key} not named: {errors:?}");
        }
    }
}
