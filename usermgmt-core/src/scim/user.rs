//! The SCIM User resource and what it maps to (RFC 7643 §4.1, the enterprise extension §4.3).
//!
//! | SCIM | usermgmt |
//! |---|---|
//! | `id` | `id` |
//! | `userName` | `username` (lower-cased; then the same rules: 3-64 of `a-z 0-9 . - _`) |
//! | `displayName` (or `name.formatted`, or `name.givenName` + `name.familyName`) | `name` |
//! | `emails` (the primary one, else the first) | `email` |
//! | `active` | `status`: `true` makes an inactive user active, `false` an active one inactive; suspended and pending users stay so |
//! | `title` | `designation` |
//! | enterprise `employeeNumber` | `unique_id` |
//! | `meta.created` / `meta.lastModified` / `meta.version` | `created_at` / `updated_at` / `version` |
//!
//! Users created over SCIM are learners. A user without a username (created elsewhere) has no
//! `userName`. Attributes outside this table are ignored on input.

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::compile::{CORE_USER, ENTERPRISE_USER};
use super::eval::member;
use crate::error::{Error, FieldErrors};
use crate::model::{Status, User};
use crate::service::{CreateUser, UpdateUser};

/// What a SCIM User body says, in usermgmt's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimUser {
    /// `userName`.
    pub username: Option<String>,
    /// `displayName` or `name`.
    pub name: Option<String>,
    /// The chosen email.
    pub email: Option<String>,
    /// `active`.
    pub active: Option<bool>,
    /// `title`.
    pub designation: Option<String>,
    /// The enterprise `employeeNumber`.
    pub unique_id: Option<String>,
}

/// An RFC 3339 instant as SCIM writes it.
pub fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The weak ETag of a version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The User resource for `user`; `base` is the SCIM root URL (`…/scim/v2`).
pub fn user_resource(user: &User, base: &str) -> Value {
    let mut out = Map::new();
    let mut schemas = vec![json!(CORE_USER)];
    out.insert("id".into(), json!(user.id));
    if let Some(username) = &user.username {
        out.insert("userName".into(), json!(username));
    }
    out.insert("displayName".into(), json!(user.name));
    out.insert("active".into(), json!(user.status == Status::Active));
    if let Some(email) = &user.email {
        out.insert(
            "emails".into(),
            // One address is kept; `primary` is read on input (to choose it) but neither
            // declared nor returned, since every user has at most one.
            json!([{ "value": email }]),
        );
    }
    if let Some(title) = &user.profile.designation {
        out.insert("title".into(), json!(title));
    }
    if let Some(unique_id) = &user.unique_id {
        schemas.push(json!(ENTERPRISE_USER));
        out.insert(
            ENTERPRISE_USER.into(),
            json!({ "employeeNumber": unique_id }),
        );
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": instant(user.created_at),
            "lastModified": instant(user.updated_at),
            "version": etag(user.version),
            "location": format!("{base}/Users/{}", user.id),
        }),
    );
    Value::Object(out)
}

fn text(body: &Value, name: &str, errors: &mut FieldErrors) -> Option<String> {
    match member(body, name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.add(name, "must be a string");
            None
        }
    }
}

/// Reads a User body (create, replace, or a resource after PATCH). Type errors are field
/// errors (SCIM `invalidValue`).
pub fn read_user(body: &Value) -> Result<ScimUser, Error> {
    let mut errors = FieldErrors::new();
    if !body.is_object() {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    // SCIM's userName ignores case, and usernames are stored lower-cased.
    let username = text(body, "userName", &mut errors).map(|u| u.to_lowercase());
    let mut name = text(body, "displayName", &mut errors);
    if name.as_deref().is_none_or(|n| n.trim().is_empty())
        && let Some(full) = member(body, "name").filter(|n| n.is_object())
    {
        let formatted = text(full, "formatted", &mut errors);
        let given = text(full, "givenName", &mut errors);
        let family = text(full, "familyName", &mut errors);
        let joined = [given, family]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        name = formatted.or((!joined.trim().is_empty()).then_some(joined));
    }
    let email = match member(body, "emails") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let primary = items
                .iter()
                .find(|e| member(e, "primary") == Some(&Value::Bool(true)));
            match primary.or(items.first()).map(|e| member(e, "value")) {
                None | Some(None) | Some(Some(Value::Null)) => None,
                Some(Some(Value::String(s))) => Some(s.clone()),
                Some(Some(_)) => {
                    errors.add("emails", "values must be strings");
                    None
                }
            }
        }
        Some(_) => {
            errors.add("emails", "must be an array");
            None
        }
    };
    let active = match member(body, "active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            errors.add("active", "must be true or false");
            None
        }
    };
    let designation = text(body, "title", &mut errors);
    let unique_id = match member(body, ENTERPRISE_USER) {
        None | Some(Value::Null) => None,
        Some(ext) if ext.is_object() => text(ext, "employeeNumber", &mut errors),
        Some(_) => {
            errors.add(ENTERPRISE_USER, "must be an object");
            None
        }
    };
    errors.into_result()?;
    Ok(ScimUser {
        username,
        name,
        email,
        active,
        designation,
        unique_id,
    })
}

impl ScimUser {
    /// The create request: an active (or, with `active: false`, inactive) learner.
    pub fn create(self) -> CreateUser {
        CreateUser {
            name: self.name.unwrap_or_default(),
            email: self.email,
            username: self.username,
            unique_id: self.unique_id,
            designation: self.designation,
            status: Some(if self.active == Some(false) {
                Status::Inactive
            } else {
                Status::Active
            }),
            is_learner: true,
            ..CreateUser::default()
        }
    }

    /// The update that makes `current` what this (whole) resource says: mapped attributes
    /// it leaves out are cleared; `active` left out keeps the status.
    pub fn replace(self, current: &User, expected_version: Option<i64>) -> UpdateUser {
        // Only the two states an identity provider owns switch: a suspension (an
        // administrator's decision) and a pending verification stay as they are.
        let status = match (self.active, current.status) {
            (Some(true), Status::Inactive) => Some(Status::Active),
            (Some(false), Status::Active) => Some(Status::Inactive),
            _ => None,
        };
        UpdateUser {
            name: Some(self.name.unwrap_or_default()),
            email: Some(self.email),
            username: Some(self.username),
            unique_id: Some(self.unique_id),
            designation: Some(self.designation),
            status,
            expected_version,
            ..UpdateUser::default()
        }
    }
}
