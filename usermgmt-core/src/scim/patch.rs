//! SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON: `add`, `replace` and `remove`,
//! with or without a path, paths into extensions, sub-attributes and value paths such as
//! `emails[value eq "a@example.com"].primary`. The patched resource is then read back like a
//! PUT body, so a PATCH can do nothing a PUT could not.

use serde_json::{Map, Value};

use super::eval::matches;
use super::filter::{AttrPath, Filter, parse};

/// The PatchOp message schema.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations one PATCH request may carry.
pub const MAX_PATCH_OPERATIONS: usize = 100;

/// Why a PATCH was refused: a SCIM error type (`invalidPath`, `noTarget`, `invalidValue`,
/// `invalidSyntax`) and a detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scim_type}: {detail}")]
pub struct PatchError {
    /// The SCIM `scimType`.
    pub scim_type: &'static str,
    /// What was wrong.
    pub detail: String,
}

pub(crate) fn error(scim_type: &'static str, detail: impl Into<String>) -> PatchError {
    PatchError {
        scim_type,
        detail: detail.into(),
    }
}

/// A parsed PATCH path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    /// The attribute.
    pub(crate) attr: AttrPath,
    /// The value filter, for a value path.
    pub(crate) filter: Option<Filter>,
    /// The sub-attribute after a value filter (`emails[…].value`).
    pub(crate) sub: Option<String>,
}

fn attr_path(text: &str) -> Result<AttrPath, PatchError> {
    let (uri, rest) = match text.rfind(':') {
        Some(at) => (Some(text[..at].to_owned()), &text[at + 1..]),
        None => (None, text),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub.to_owned())),
        None => (rest, None),
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !word(name) || sub.as_deref().is_some_and(|s| !word(s)) {
        return Err(error(
            "invalidPath",
            format!("`{text}` is not an attribute path"),
        ));
    }
    Ok(AttrPath {
        uri,
        name: name.to_owned(),
        sub,
    })
}

pub(crate) fn parse_path(text: &str) -> Result<Path, PatchError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case(super::compile::ENTERPRISE_USER) {
        // The whole extension, as one attribute of the resource.
        return Ok(Path {
            attr: AttrPath {
                uri: None,
                name: text.to_owned(),
                sub: None,
            },
            filter: None,
            sub: None,
        });
    }
    let Some(open) = text.find('[') else {
        return Ok(Path {
            attr: attr_path(text)?,
            filter: None,
            sub: None,
        });
    };
    let close = text
        .rfind(']')
        .filter(|c| *c > open)
        .ok_or_else(|| error("invalidPath", "an unclosed value filter"))?;
    let attr = attr_path(&text[..open])?;
    let filter = parse(&text[open + 1..close]).map_err(|e| error("invalidFilter", e.0))?;
    let after = &text[close + 1..];
    let sub = match after.strip_prefix('.') {
        Some(sub) if !sub.is_empty() => Some(sub.to_owned()),
        None if after.is_empty() => None,
        _ => {
            return Err(error(
                "invalidPath",
                format!("`{text}` is not a value path"),
            ));
        }
    };
    Ok(Path {
        attr,
        filter: Some(filter),
        sub,
    })
}

/// The key of `object` equal to `name` ignoring case, or `name` itself.
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// The object holding the path's attribute: the resource, or its extension object.
fn container<'a>(
    resource: &'a mut Map<String, Value>,
    uri: Option<&str>,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    match uri {
        Some(uri) if !super::eval::is_core_uri(uri) => {
            let key = key_of(resource, uri);
            if create && !resource.contains_key(&key) {
                resource.insert(key.clone(), Value::Object(Map::new()));
            }
            resource.get_mut(&key)?.as_object_mut()
        }
        _ => Some(resource),
    }
}

/// Merges `value` into `target`: arrays append the values not already there; objects merge
/// member by member; anything else replaces.
fn add_into(target: &mut Value, value: Value) {
    match (target, value) {
        (Value::Array(items), Value::Array(more)) => {
            for v in more {
                if !items.contains(&v) {
                    items.push(v);
                }
            }
        }
        (Value::Object(object), Value::Object(more)) => {
            for (k, v) in more {
                let key = key_of(object, &k);
                match object.get_mut(&key) {
                    Some(existing) => add_into(existing, v),
                    None => {
                        object.insert(key, v);
                    }
                }
            }
        }
        (target, value) => *target = value,
    }
}

/// The attributes of an operation without a path: its value, which must be an object (and
/// `remove` needs a path).
pub(crate) fn pathless<V>(
    op: &str,
    value: Option<V>,
) -> Result<serde_json::Map<String, Value>, PatchError>
where
    V: Into<Value>,
{
    match value.map(Into::into) {
        Some(Value::Object(members)) if op != "remove" => Ok(members),
        _ if op == "remove" => Err(error("noTarget", "`remove` needs a path")),
        _ => Err(error(
            "invalidValue",
            "without a path, the value must be an object",
        )),
    }
}

/// One operation on `resource` (a JSON object).
pub fn apply(
    resource: &mut Value,
    op: &str,
    path: Option<&str>,
    value: Option<Value>,
) -> Result<(), PatchError> {
    let Some(object) = resource.as_object_mut() else {
        return Err(error("invalidSyntax", "the resource is not an object"));
    };
    let op = op.to_ascii_lowercase();
    let Some(path) = path.map(parse_path).transpose()? else {
        // No path: the value is an object of attributes.
        let members = pathless(&op, value)?;
        for (k, v) in members {
            let key = key_of(object, &k);
            match (op.as_str(), object.get_mut(&key)) {
                ("add", Some(existing)) => add_into(existing, v),
                ("add" | "replace", _) => {
                    object.insert(key, v);
                }
                _ => return Err(error("invalidSyntax", format!("unknown op `{op}`"))),
            }
        }
        return Ok(());
    };
    let value = match (op.as_str(), value) {
        ("remove", _) => None,
        ("add" | "replace", Some(v)) => Some(v),
        ("add" | "replace", None) => {
            return Err(error("invalidValue", "the operation needs a value"));
        }
        _ => return Err(error("invalidSyntax", format!("unknown op `{op}`"))),
    };
    let Some(holder) = container(object, path.attr.uri.as_deref(), value.is_some()) else {
        return Ok(());
    };
    let key = key_of(holder, &path.attr.name);
    match (&path.filter, &path.attr.sub) {
        (None, None) => match value {
            None => {
                holder.remove(&key);
            }
            Some(v) if op == "add" => match holder.get_mut(&key) {
                Some(existing) => add_into(existing, v),
                None => {
                    holder.insert(key, v);
                }
            },
            Some(v) => {
                holder.insert(key, v);
            }
        },
        (None, Some(sub)) => {
            let parent = holder
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(parent) = parent.as_object_mut() else {
                return Err(error(
                    "invalidPath",
                    format!(
                        "`{}` has no sub-attributes to address directly",
                        path.attr.name
                    ),
                ));
            };
            let sub_key = key_of(parent, sub);
            match value {
                None => {
                    parent.remove(&sub_key);
                }
                Some(v) => {
                    parent.insert(sub_key, v);
                }
            }
        }
        (Some(filter), _) => {
            let Some(Value::Array(items)) = holder.get_mut(&key) else {
                return Err(error("noTarget", "no value matches the path's filter"));
            };
            let hits: Vec<usize> = (0..items.len())
                .filter(|i| items.get(*i).is_some_and(|v| matches(filter, v)))
                .collect();
            if hits.is_empty() {
                return Err(error("noTarget", "no value matches the path's filter"));
            }
            for &i in hits.iter().rev() {
                let Some(item) = items.get_mut(i) else {
                    continue;
                };
                match (&path.sub, &value) {
                    (None, None) => {
                        items.remove(i);
                    }
                    (Some(sub), None) => {
                        if let Some(o) = item.as_object_mut() {
                            let k = key_of(o, sub);
                            o.remove(&k);
                        }
                    }
                    (Some(sub), Some(v)) => {
                        if let Some(o) = item.as_object_mut() {
                            let k = key_of(o, sub);
                            o.insert(k, v.clone());
                        }
                    }
                    (None, Some(v)) if op == "add" => add_into(item, v.clone()),
                    (None, Some(v)) => *item = v.clone(),
                }
            }
        }
    }
    Ok(())
}
