//! Audit content: field-level diffs with secrets redacted, grouped into events. Core owns what
//! an event says; backends only store it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{AuditAction, AuditEvent, AuditTargetKind, FieldChange, REDACTED, Status, User};
use crate::principal::Principal;

/// Fields that never appear in a diff: identity, bookkeeping and derived values.
const NOT_DIFFED: [&str; 8] = [
    "id",
    "tenant_id",
    "version",
    "created_at",
    "updated_at",
    "has_password",
    "profile_completeness",
    "continent",
];
const CREDENTIAL_FIELDS: [&str; 4] = ["email", "phone", "username", "password"];
const STATUS_FIELDS: [&str; 2] = ["status", "deleted_at"];
const GRANT_FIELDS: [&str; 2] = ["roles", "permissions"];

fn as_object(user: Option<&User>) -> Map<String, Value> {
    match user.map(serde_json::to_value) {
        Some(Ok(Value::Object(map))) => map,
        _ => Map::new(),
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// The changed fields between `old` (absent on creation) and `new`. A password change shows
/// only that it changed: both sides are [`REDACTED`] or `null`.
pub(crate) fn user_diff(
    old: Option<&User>,
    new: &User,
    password: Option<(bool, bool)>,
) -> BTreeMap<String, FieldChange> {
    let before = as_object(old);
    let after = as_object(Some(new));
    let mut changes = BTreeMap::new();
    for (field, new_value) in &after {
        if NOT_DIFFED.contains(&field.as_str()) {
            continue;
        }
        let old_value = before.get(field).cloned().unwrap_or(Value::Null);
        let unchanged = if old.is_none() {
            is_blank(new_value)
        } else {
            &old_value == new_value
        };
        if !unchanged {
            changes.insert(
                field.clone(),
                FieldChange {
                    old: old_value,
                    new: new_value.clone(),
                },
            );
        }
    }
    if let Some((had, has)) = password {
        let mark = |present: bool| {
            if present {
                Value::from(REDACTED)
            } else {
                Value::Null
            }
        };
        changes.insert(
            "password".to_owned(),
            FieldChange {
                old: mark(had),
                new: mark(has),
            },
        );
    }
    changes
}

/// A one-field change set: `field` set to `value` (nothing before).
pub(crate) fn change(
    field: &str,
    value: serde_json::Value,
) -> BTreeMap<String, crate::model::FieldChange> {
    let mut changes = BTreeMap::new();
    changes.insert(
        field.to_owned(),
        crate::model::FieldChange {
            old: serde_json::Value::Null,
            new: value,
        },
    );
    changes
}

/// Builds an event.
pub(crate) fn event(
    principal: &Principal,
    target_kind: AuditTargetKind,
    target_id: Uuid,
    action: AuditAction,
    changes: BTreeMap<String, FieldChange>,
    now: DateTime<Utc>,
) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        tenant_id: principal.tenant_id().clone(),
        target_kind,
        target_id,
        actor: principal.audit_actor(),
        impersonator_id: principal.impersonation().map(|i| i.impersonator_id),
        action,
        changes,
        created_at: now,
    }
}

/// Splits an update's diff into one event per concern: credentials, status, grants, and the
/// remaining fields. Empty groups produce no event.
pub(crate) fn update_events(
    principal: &Principal,
    user_id: Uuid,
    new_status: Status,
    mut changes: BTreeMap<String, FieldChange>,
    now: DateTime<Utc>,
) -> Vec<AuditEvent> {
    let mut take = |fields: &[&str]| -> BTreeMap<String, FieldChange> {
        fields
            .iter()
            .filter_map(|f| changes.remove_entry(*f))
            .collect()
    };
    let status_action = if new_status == Status::Deleted {
        AuditAction::UserDeleted
    } else {
        AuditAction::StatusChanged
    };
    let groups = [
        (AuditAction::CredentialsChanged, take(&CREDENTIAL_FIELDS)),
        (status_action, take(&STATUS_FIELDS)),
        (AuditAction::UserGrantsChanged, take(&GRANT_FIELDS)),
    ];
    let mut events: Vec<AuditEvent> = groups
        .into_iter()
        .filter(|(_, group)| !group.is_empty())
        .map(|(action, group)| {
            event(
                principal,
                AuditTargetKind::User,
                user_id,
                action,
                group,
                now,
            )
        })
        .collect();
    if !changes.is_empty() {
        events.push(event(
            principal,
            AuditTargetKind::User,
            user_id,
            AuditAction::UserUpdated,
            changes,
            now,
        ));
    }
    events
}
