//! `attributes` and `excludedAttributes` (RFC 7644 §3.9): which attributes a response carries.
//! `id` and `schemas` are always returned.

use serde_json::{Map, Value};

/// A requested attribute: the extension it lives in (if any), its name, its sub-attribute.
fn split(path: &str) -> (Option<&str>, &str, Option<&str>) {
    let (uri, rest) = match path.rfind(':') {
        Some(at) => (Some(&path[..at]), &path[at + 1..]),
        None => (None, path),
    };
    let (uri, rest) = match uri {
        // A core schema URN prefixes a resource attribute.
        Some(u) if super::eval::is_core_uri(u) => (None, rest),
        other => (other, rest),
    };
    match rest.split_once('.') {
        Some((name, sub)) => (uri, name, Some(sub)),
        None => (uri, rest, None),
    }
}

fn key<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    object.keys().find(|k| k.eq_ignore_ascii_case(name))
}

fn always(name: &str) -> bool {
    name.eq_ignore_ascii_case("id") || name.eq_ignore_ascii_case("schemas")
}

/// Keeps only `sub` in a complex value or in each element of a multi-valued one.
fn only_sub(value: &Value, sub: &str) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| only_sub(v, sub)).collect()),
        Value::Object(o) => Value::Object(
            key(o, sub)
                .and_then(|k| o.get_key_value(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .into_iter()
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Copies `path` from `from` into `into`.
fn copy(from: &Map<String, Value>, into: &mut Map<String, Value>, path: &str) {
    let (uri, name, sub) = split(path);
    let (source, target) = match uri {
        None => (Some(from), into),
        Some(uri) => {
            let Some(k) = key(from, uri) else { return };
            let ext = into
                .entry(k.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(ext) = ext else { return };
            (from.get(k).and_then(Value::as_object), ext)
        }
    };
    let Some(source) = source else { return };
    let Some(k) = key(source, name) else { return };
    let Some(value) = source.get(k) else { return };
    let picked = match sub {
        Some(sub) => only_sub(value, sub),
        None => value.clone(),
    };
    match (target.get_mut(k), picked) {
        (Some(Value::Object(have)), Value::Object(more)) => have.extend(more),
        (_, picked) => {
            target.insert(k.clone(), picked);
        }
    }
}

/// Removes `path` from `resource`.
fn remove(resource: &mut Map<String, Value>, path: &str) {
    let (uri, name, sub) = split(path);
    let holder = match uri {
        None => Some(resource),
        Some(uri) => key(resource, uri)
            .cloned()
            .and_then(|k| resource.get_mut(&k))
            .and_then(Value::as_object_mut),
    };
    let Some(holder) = holder else { return };
    let Some(k) = key(holder, name).cloned() else {
        return;
    };
    match sub {
        None if uri.is_none() && always(&k) => {}
        None => {
            holder.remove(&k);
        }
        Some(sub) => match holder.get_mut(&k) {
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(s) = key(item, sub).cloned() {
                        item.remove(&s);
                    }
                }
            }
            Some(Value::Object(o)) => {
                if let Some(s) = key(o, sub).cloned() {
                    o.remove(&s);
                }
            }
            _ => {}
        },
    }
}

/// The resource with only `attributes` (when any; plus `id` and `schemas`) and without
/// `excluded`.
pub fn project(resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    let Value::Object(mut object) = resource else {
        return resource;
    };
    if !attributes.is_empty() {
        let mut kept = Map::new();
        for name in ["id", "schemas"] {
            if let Some(v) = object.get(name) {
                kept.insert(name.to_owned(), v.clone());
            }
        }
        for path in attributes {
            copy(&object, &mut kept, path.trim());
        }
        object = kept;
    }
    for path in excluded {
        remove(&mut object, path.trim());
    }
    Value::Object(object)
}
