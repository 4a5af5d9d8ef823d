//! `NoteStore` and `SequenceStore` on SQLite.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use usermgmt_core::model::{AuditActor, AuditEvent, Note, TenantId};
use usermgmt_core::storage::{NoteStore, SequenceStore};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::audit::insert_event;
use crate::codec::{from_micros, micros};
use crate::error::{corrupt, map_err};

type RawNote = (Uuid, String, Uuid, Option<Uuid>, String, i64);

fn decode(raw: RawNote) -> Result<Note> {
    let (id, tenant, user_id, author_id, body, created) = raw;
    Ok(Note {
        id,
        tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a note", "tenant"))?,
        user_id,
        author: author_id.map_or(AuditActor::System, AuditActor::User),
        body,
        created_at: from_micros(created)?,
    })
}

#[async_trait]
impl NoteStore for SqliteStorage {
    async fn insert_note(&self, tenant: &TenantId, note: &Note, audit: AuditEvent) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &note.tenant_id)?;
        let note = note.clone();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let author = match note.author {
                    AuditActor::User(id) => Some(id),
                    // The service refuses notes by a provisioning token.
                    AuditActor::System | AuditActor::Provisioning(_) => None,
                };
                let inserted = tx
                    .execute(
                        "INSERT INTO notes (id, tenant_id, user_seq, author_id, body, created_at) \
                         SELECT ?1, ?2, seq, ?3, ?4, ?5 FROM users WHERE tenant_id = ?2 AND id = ?6",
                        params![note.id, note.tenant_id.as_str(), author, note.body, micros(note.created_at), note.user_id],
                    )
                    .map_err(map_err("storing a note"))?;
                if inserted == 0 {
                    return Err(Error::NotFound("user"));
                }
                insert_event(&tx, &audit)?;
                crate::pool::commit(tx)
            })
            .await
    }

    async fn list_notes(&self, tenant: &TenantId, user_id: Uuid) -> Result<Vec<Note>> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let raws = conn
                    .prepare_cached(
                        "SELECT n.id, n.tenant_id, u.id, n.author_id, n.body, n.created_at FROM notes n \
                         JOIN users u ON u.seq = n.user_seq WHERE n.tenant_id = ?1 AND u.id = ?2 \
                         ORDER BY n.created_at DESC, n.id DESC",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![tenant, user_id], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                        })?
                        .collect::<rusqlite::Result<Vec<RawNote>>>()
                    })
                    .map_err(map_err("listing notes"))?;
                raws.into_iter().map(decode).collect()
            })
            .await
    }

    async fn delete_note(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        note_id: Uuid,
        audit: AuditEvent,
    ) -> Result<Option<Note>> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let found: Option<RawNote> = tx
                    .query_row(
                        "SELECT n.id, n.tenant_id, u.id, n.author_id, n.body, n.created_at FROM notes n \
                         JOIN users u ON u.seq = n.user_seq WHERE n.tenant_id = ?1 AND u.id = ?2 AND n.id = ?3",
                        params![tenant, user_id, note_id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
                    )
                    .optional()
                    .map_err(map_err("finding a note"))?;
                let Some(found) = found else { return Ok(None) };
                tx.execute("DELETE FROM notes WHERE id = ?1", [note_id]).map_err(map_err("deleting a note"))?;
                insert_event(&tx, &audit)?;
                crate::pool::commit(tx)?;
                decode(found).map(Some)
            })
            .await
    }
}

#[async_trait]
impl SequenceStore for SqliteStorage {
    async fn next_value(&self, tenant: &TenantId, name: &str) -> Result<i64> {
        let (tenant, name) = (tenant.as_str().to_owned(), name.to_owned());
        self.pool
            .run(move |conn| {
                // One statement: atomic under SQLite's single writer, so no value is handed out twice.
                conn.prepare_cached(
                    "INSERT INTO sequences (tenant_id, name, value) VALUES (?1, ?2, 1) \
                     ON CONFLICT (tenant_id, name) DO UPDATE SET value = value + 1 RETURNING value",
                )
                .and_then(|mut s| s.query_row(params![tenant, name], |r| r.get(0)))
                .map_err(map_err("advancing a sequence"))
            })
            .await
    }
}
