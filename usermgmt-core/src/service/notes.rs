//! Administrator notes and the per-user audit log.

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use super::audit::event;
use super::core::UserService;
use crate::error::{Error, Result};
use crate::filter::Page;
use crate::model::{AuditAction, AuditEvent, AuditTargetKind, FieldChange, Note, Permission};
use crate::principal::Principal;

/// Longest accepted note, in characters.
pub const MAX_NOTE_LEN: usize = 5000;

fn note_change(note: &Note, created: bool) -> BTreeMap<String, FieldChange> {
    let value = serde_json::json!({ "id": note.id, "body": note.body });
    let (old, new) = if created {
        (Value::Null, value)
    } else {
        (value, Value::Null)
    };
    BTreeMap::from([("note".to_owned(), FieldChange { old, new })])
}

impl UserService {
    /// Writes a note about a user. Requires `user.update` and every permission the user holds.
    pub async fn create_note(
        &self,
        principal: &Principal,
        user_id: Uuid,
        body: &str,
    ) -> Result<Note> {
        if matches!(principal, Principal::Provisioner { .. }) {
            return Err(Error::Unauthenticated(
                "notes are written by users, not by a provisioning token".to_owned(),
            ));
        }
        let actor = self
            .authorize_write(principal, Permission::USER_UPDATE)
            .await?;
        let body = body.trim();
        if body.is_empty() || body.chars().count() > MAX_NOTE_LEN {
            return Err(Error::invalid(
                "body",
                format!("must be 1-{MAX_NOTE_LEN} characters"),
            ));
        }
        self.load_user(&actor, user_id).await?;
        self.ensure_outranks(&actor, user_id).await?;
        let now = self.clock.now();
        let note = Note {
            id: Uuid::now_v7(),
            tenant_id: actor.tenant_id.clone(),
            user_id,
            author: principal.audit_actor(),
            body: body.to_owned(),
            created_at: now,
        };
        let audit = event(
            principal,
            AuditTargetKind::User,
            user_id,
            AuditAction::NoteCreated,
            note_change(&note, true),
            now,
        );
        self.storage
            .insert_note(&note.tenant_id, &note, audit)
            .await?;
        Ok(note)
    }

    /// The notes about a user, newest first. Requires `user.update` (as the notes routes do)
    /// and every permission the user holds.
    pub async fn list_notes(&self, principal: &Principal, user_id: Uuid) -> Result<Vec<Note>> {
        let actor = self.authorize(principal, Permission::USER_UPDATE).await?;
        self.load_user(&actor, user_id).await?;
        self.ensure_outranks(&actor, user_id).await?;
        self.storage.list_notes(&actor.tenant_id, user_id).await
    }

    /// Deletes a note about a user. Requires `user.update` and every permission the user holds.
    pub async fn delete_note(
        &self,
        principal: &Principal,
        user_id: Uuid,
        note_id: Uuid,
    ) -> Result<()> {
        let actor = self
            .authorize_write(principal, Permission::USER_UPDATE)
            .await?;
        self.ensure_outranks(&actor, user_id).await?;
        let notes = self.storage.list_notes(&actor.tenant_id, user_id).await?;
        let note = notes
            .into_iter()
            .find(|n| n.id == note_id)
            .ok_or(Error::NotFound("note"))?;
        let now = self.clock.now();
        let audit = event(
            principal,
            AuditTargetKind::User,
            user_id,
            AuditAction::NoteDeleted,
            note_change(&note, false),
            now,
        );
        match self
            .storage
            .delete_note(&actor.tenant_id, user_id, note_id, audit)
            .await?
        {
            Some(_) => Ok(()),
            None => Err(Error::NotFound("note")),
        }
    }

    /// A user's audit log, newest first, by page. Requires `user.view` and every permission the
    /// user holds (the log carries note texts).
    pub async fn audit_log(
        &self,
        principal: &Principal,
        user_id: Uuid,
        page: u32,
        page_size: u32,
    ) -> Result<Page<AuditEvent>> {
        let actor = self.authorize(principal, Permission::USER_VIEW).await?;
        self.check_page(page, page_size).into_result()?;
        self.load_user(&actor, user_id).await?;
        // The log carries note texts and grant changes: only for users the actor outranks.
        self.ensure_outranks(&actor, user_id).await?;
        let offset = u64::from(page - 1) * u64::from(page_size);
        let (items, total) = self
            .storage
            .list_audit(&actor.tenant_id, user_id, offset, page_size)
            .await?;
        Ok(Page {
            items,
            total: Some(total),
            page: Some(page),
            page_size,
            next_cursor: None,
            skipped_filters: Vec::new(),
        })
    }
}
