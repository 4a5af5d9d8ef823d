//! The SCIM Group resource: a role (RFC 7643 §4.2). `displayName` is the role's name (1-64 of
//! `a-z 0-9 . - _`, lower-cased), `members` the users holding it (users only: roles do not
//! nest). The super-admin role is not a group. PATCH operations on `members` become member
//! changes applied in one transaction, never a rewrite of the whole list.

use serde_json::{Value, json};
use uuid::Uuid;

use super::eval::member;
use super::filter::{CompValue, CompareOp, Filter};
use super::patch::{PatchError, error, parse_path, pathless};
use super::user::instant;
use crate::error::{Error, FieldErrors};
use crate::model::{Role, User};
use crate::service::MemberChange;

/// The core Group schema URI.
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The Group resource for `role`; `members` when they were read.
pub fn group_resource(role: &Role, members: Option<&[User]>, base: &str) -> Value {
    let mut out = json!({
        "schemas": [CORE_GROUP],
        "id": role.id,
        "displayName": role.name,
        "meta": {
            "resourceType": "Group",
            "created": instant(role.created_at),
            "lastModified": instant(role.updated_at),
            "location": format!("{base}/Groups/{}", role.id),
        },
    });
    if let Some(members) = members.filter(|m| !m.is_empty()) {
        out["members"] = Value::Array(
            members
                .iter()
                .map(|u| {
                    json!({
                        "value": u.id,
                        "type": "User",
                        "$ref": format!("{base}/Users/{}", u.id),
                    })
                })
                .collect(),
        );
    }
    out
}

/// What a Group body says: its name, and its members when it lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    /// `displayName`.
    pub name: Option<String>,
    /// `members`' user ids.
    pub members: Vec<Uuid>,
}

/// The user ids of a `members` value: an array of `{"value": "<user id>"}`.
fn member_ids(value: &Value) -> Result<Vec<Uuid>, String> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(value),
        _ => return Err("members must be an array of {\"value\": \"<user id>\"}".into()),
    };
    items
        .iter()
        .map(|item| {
            if member(item, "type")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.eq_ignore_ascii_case("User"))
            {
                return Err("members are users: groups do not nest".to_owned());
            }
            member(item, "value")
                .and_then(Value::as_str)
                .and_then(|v| Uuid::parse_str(v).ok())
                .ok_or_else(|| "every member needs a user id as its value".to_owned())
        })
        .collect()
}

/// Reads a Group body (create or replace).
pub fn read_group(body: &Value) -> Result<ScimGroup, Error> {
    let mut errors = FieldErrors::new();
    let name = match member(body, "displayName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.add("displayName", "must be a string");
            None
        }
    };
    let members = match member(body, "members") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => member_ids(v).unwrap_or_else(|why| {
            errors.add("members", why);
            Vec::new()
        }),
    };
    errors.into_result()?;
    Ok(ScimGroup { name, members })
}

/// A PATCH of a group, decided: a new name, and the member changes in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPatch {
    /// The new `displayName`.
    pub rename: Option<String>,
    /// Member changes, in the order of the operations.
    pub members: Vec<MemberChange>,
}

/// The ids a `members[value eq "…" or value eq "…"]` filter names.
fn filtered_ids(filter: &Filter, out: &mut Vec<Uuid>) -> Result<(), PatchError> {
    match filter {
        Filter::Or(a, b) => {
            filtered_ids(a, out)?;
            filtered_ids(b, out)
        }
        Filter::Compare(path, CompareOp::Eq, CompValue::String(v))
            if path.uri.is_none()
                && path.sub.is_none()
                && path.name.eq_ignore_ascii_case("value") =>
        {
            // An id that is no uuid names no member.
            if let Ok(id) = Uuid::parse_str(v) {
                out.push(id);
            }
            Ok(())
        }
        _ => Err(error(
            "invalidFilter",
            "members are selected with `value eq \"<user id>\"` (joined by `or`)",
        )),
    }
}

fn ids_of(value: Option<&Value>) -> Result<Vec<Uuid>, PatchError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => member_ids(v).map_err(|why| error("invalidValue", why)),
    }
}

/// Reads one PATCH operation into `into`. Operations on attributes a group does not store
/// (e.g. `externalId`) change nothing.
pub fn patch_group(
    into: &mut GroupPatch,
    op: &str,
    path: Option<&str>,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let op = op.to_ascii_lowercase();
    if !matches!(op.as_str(), "add" | "replace" | "remove") {
        return Err(error("invalidSyntax", format!("unknown op `{op}`")));
    }
    let name_of = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(error("invalidValue", "displayName must be a string")),
    };
    let Some(path) = path else {
        let attributes = pathless(&op, value.cloned())?;
        for (name, v) in &attributes {
            if name.eq_ignore_ascii_case("displayName") {
                into.rename = Some(name_of(Some(v))?);
            } else if name.eq_ignore_ascii_case("members") {
                let ids = ids_of(Some(v))?;
                into.members.push(if op == "add" {
                    MemberChange::Add(ids)
                } else {
                    MemberChange::Replace(ids)
                });
            }
        }
        return Ok(());
    };
    let path = parse_path(path)?;
    let name = &path.attr.name;
    if name.eq_ignore_ascii_case("displayName") && path.filter.is_none() {
        if op == "remove" {
            return Err(error("mutability", "displayName is required"));
        }
        into.rename = Some(name_of(value)?);
    } else if name.eq_ignore_ascii_case("members") {
        match (&path.filter, op.as_str()) {
            (Some(filter), "remove") => {
                let mut ids = Vec::new();
                filtered_ids(filter, &mut ids)?;
                into.members.push(MemberChange::Remove(ids));
            }
            (Some(_), _) => {
                return Err(error(
                    "invalidPath",
                    "a member is added with path `members`, not replaced in place",
                ));
            }
            (None, "add") => into.members.push(MemberChange::Add(ids_of(value)?)),
            (None, "replace") => into.members.push(MemberChange::Replace(ids_of(value)?)),
            (None, _) => into.members.push(match value {
                // Entra ID removes members by listing them as the value.
                Some(v) if !v.is_null() => MemberChange::Remove(ids_of(Some(v))?),
                _ => MemberChange::Clear,
            }),
        }
    }
    Ok(())
}
