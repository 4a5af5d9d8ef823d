//! `NoteStore` and `SequenceStore` on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use usermgmt_core::model::{AuditActor, AuditEvent, Note, TenantId};
use usermgmt_core::storage::{NoteStore, SequenceStore};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::PgStorage;
use crate::audit::insert_event;
use crate::error::{corrupt, map_err};
use crate::tx::commit;

fn decode(row: &PgRow) -> Result<Note> {
    let get = |e: sqlx::Error| map_err("decoding a note")(e);
    let tenant: String = row.try_get("tenant_id").map_err(get)?;
    let author: Option<Uuid> = row.try_get("author_id").map_err(get)?;
    Ok(Note {
        id: row.try_get("id").map_err(get)?,
        tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a note", "tenant"))?,
        user_id: row.try_get("user_id").map_err(get)?,
        author: author.map_or(AuditActor::System, AuditActor::User),
        body: row.try_get("body").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
    })
}

#[async_trait]
impl NoteStore for PgStorage {
    async fn insert_note(&self, tenant: &TenantId, note: &Note, audit: AuditEvent) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &note.tenant_id)?;
        let mut tx = self.begin().await?;
        let author = match note.author {
            AuditActor::User(id) => Some(id),
            // The service refuses notes by a provisioning token.
            AuditActor::System | AuditActor::Provisioning(_) => None,
        };
        let inserted = sqlx::query(
            "INSERT INTO notes (tenant_id, id, user_id, author_id, body, created_at) \
             SELECT $1, $2, id, $4, $5, $6 FROM users WHERE tenant_id = $1 AND id = $3",
        )
        .bind(note.tenant_id.as_str())
        .bind(note.id)
        .bind(note.user_id)
        .bind(author)
        .bind(&note.body)
        .bind(note.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err("storing a note"))?;
        if inserted.rows_affected() == 0 {
            return Err(Error::NotFound("user"));
        }
        insert_event(&mut tx, &audit).await?;
        commit(tx).await
    }

    async fn list_notes(&self, tenant: &TenantId, user_id: Uuid) -> Result<Vec<Note>> {
        let rows = sqlx::query(
            "SELECT tenant_id, id, user_id, author_id, body, created_at FROM notes WHERE tenant_id = $1 AND user_id = $2 \
             ORDER BY created_at DESC, id DESC",
        )
        .bind(tenant.as_str())
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err("listing notes"))?;
        rows.iter().map(decode).collect()
    }

    async fn delete_note(
        &self,
        tenant: &TenantId,
        user_id: Uuid,
        note_id: Uuid,
        audit: AuditEvent,
    ) -> Result<Option<Note>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "DELETE FROM notes WHERE tenant_id = $1 AND user_id = $2 AND id = $3 \
             RETURNING tenant_id, id, user_id, author_id, body, created_at",
        )
        .bind(tenant.as_str())
        .bind(user_id)
        .bind(note_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err("deleting a note"))?;
        let Some(row) = row else { return Ok(None) };
        insert_event(&mut tx, &audit).await?;
        commit(tx).await?;
        decode(&row).map(Some)
    }
}

#[async_trait]
impl SequenceStore for PgStorage {
    async fn next_value(&self, tenant: &TenantId, name: &str) -> Result<i64> {
        // One statement: the row lock serialises concurrent callers, so no value repeats.
        sqlx::query_scalar(
            "INSERT INTO sequences (tenant_id, name, value) VALUES ($1, $2, 1) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET value = sequences.value + 1 RETURNING value",
        )
        .bind(tenant.as_str())
        .bind(name)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err("advancing a sequence"))
    }
}
