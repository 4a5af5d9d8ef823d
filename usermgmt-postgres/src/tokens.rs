//! `TokenStore` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use usermgmt_core::model::{AccountToken, Recipient, TenantId, TokenKind};
use usermgmt_core::storage::{CodeAttempt, CodeLimits, StoredToken, TokenStore};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::PgStorage;
use crate::codec::parse;
use crate::error::{corrupt, map_err};
use crate::tx::commit;

fn decode(row: &PgRow) -> Result<StoredToken> {
    let get = |e: sqlx::Error| map_err("decoding a token")(e);
    let tenant: String = row.try_get("tenant_id").map_err(get)?;
    let kind: String = row.try_get("kind").map_err(get)?;
    Ok(StoredToken {
        token: AccountToken {
            id: row.try_get("id").map_err(get)?,
            tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a token", "tenant"))?,
            user_id: row.try_get("user_id").map_err(get)?,
            kind: parse("decoding a token kind", &kind)?,
            created_at: row.try_get("created_at").map_err(get)?,
            expires_at: row.try_get("expires_at").map_err(get)?,
            sent_to: row
                .try_get::<Option<String>, _>("sent_to")
                .map_err(get)?
                .as_deref()
                .and_then(Recipient::from_stored),
        },
        used_at: row.try_get("used_at").map_err(get)?,
        superseded_at: row.try_get("superseded_at").map_err(get)?,
        consumed: row.try_get("consumed").map_err(get)?,
    })
}

#[async_trait]
impl TokenStore for PgStorage {
    async fn issue_token(
        &self,
        tenant: &TenantId,
        token: &AccountToken,
        token_hash: [u8; 32],
    ) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &token.tenant_id)?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE account_tokens SET superseded_at = $4 WHERE tenant_id = $1 AND user_id = $2 \
             AND kind = $3 AND used_at IS NULL AND superseded_at IS NULL",
        )
        .bind(token.tenant_id.as_str())
        .bind(token.user_id)
        .bind(token.kind.as_str())
        .bind(token.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err("superseding tokens"))?;
        sqlx::query("DELETE FROM account_tokens WHERE token_hash = $1")
            .bind(token_hash.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(map_err("dropping a recurring code"))?;
        let inserted = sqlx::query(
            "INSERT INTO account_tokens (tenant_id, id, user_id, kind, token_hash, created_at, \
             expires_at, sent_to) SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS \
             (SELECT 1 FROM users WHERE tenant_id = $1 AND id = $3)",
        )
        .bind(token.tenant_id.as_str())
        .bind(token.id)
        .bind(token.user_id)
        .bind(token.kind.as_str())
        .bind(token_hash.as_slice())
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.sent_to.as_ref().map(Recipient::to_stored))
        .execute(&mut *tx)
        .await
        .map_err(map_err("storing a token"))?;
        if inserted.rows_affected() == 0 {
            return Err(Error::NotFound("user"));
        }
        commit(tx).await
    }

    async fn consume_token(
        &self,
        tenant: &TenantId,
        token_hash: [u8; 32],
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredToken>> {
        // One statement: the conditional update and the row as found (one of concurrent
        // consumers sees `consumed`).
        let row = sqlx::query(
            "WITH used AS (UPDATE account_tokens SET used_at = $3 WHERE token_hash = $1 AND kind = $2 \
             AND tenant_id = $4 AND used_at IS NULL AND superseded_at IS NULL AND expires_at > $3 \
             RETURNING id) \
             SELECT t.tenant_id, t.id, t.user_id, t.kind, t.created_at, t.expires_at, \
             CASE WHEN EXISTS (SELECT 1 FROM used) THEN $3 ELSE t.used_at END AS used_at, \
             t.superseded_at, t.sent_to, EXISTS (SELECT 1 FROM used) AS consumed \
             FROM account_tokens t WHERE t.token_hash = $1 AND t.kind = $2 AND t.tenant_id = $4",
        )
        .bind(token_hash.as_slice())
        .bind(kind.as_str())
        .bind(now)
        .bind(tenant.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err("consuming a token"))?;
        row.as_ref().map(decode).transpose()
    }

    async fn attempt_code(
        &self,
        tenant: &TenantId,
        (user_id, kind): (Uuid, TokenKind),
        code_hash: [u8; 32],
        now: DateTime<Utc>,
        limits: CodeLimits,
    ) -> Result<CodeAttempt> {
        let max = i32::try_from(limits.per_code).unwrap_or(i32::MAX);
        let mut tx = self.begin().await?;
        // The user's row is locked first: concurrent attempts for one user take turns, so
        // the day's count cannot be overrun by parallel tries.
        let exists: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 FOR NO KEY UPDATE",
        )
        .bind(tenant.as_str())
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err("locking a user for a code"))?;
        if exists.is_none() {
            return Ok(CodeAttempt::NoCode);
        }
        let failed_today: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(attempts), 0)::bigint FROM account_tokens \
             WHERE tenant_id = $1 AND user_id = $2 AND kind = $3 AND created_at > $4",
        )
        .bind(tenant.as_str())
        .bind(user_id)
        .bind(kind.as_str())
        .bind(limits.since)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err("counting failed codes"))?;
        if failed_today >= i64::from(limits.per_day) {
            return Ok(CodeAttempt::NoCode);
        }
        let consumed = sqlx::query(
            "UPDATE account_tokens SET used_at = $4 WHERE tenant_id = $1 AND user_id = $2 \
             AND kind = $3 AND token_hash = $5 AND attempts < $6 AND used_at IS NULL \
             AND superseded_at IS NULL AND expires_at > $4 \
             RETURNING tenant_id, id, user_id, kind, created_at, expires_at, used_at, \
             superseded_at, sent_to, true AS consumed",
        )
        .bind(tenant.as_str())
        .bind(user_id)
        .bind(kind.as_str())
        .bind(now)
        .bind(code_hash.as_slice())
        .bind(max)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err("trying a code"))?;
        let outcome = match consumed {
            Some(row) => CodeAttempt::Consumed(decode(&row)?.token),
            None => {
                let attempts: Option<i32> = sqlx::query_scalar(
                    "UPDATE account_tokens SET attempts = attempts + 1 WHERE tenant_id = $1 \
                     AND user_id = $2 AND kind = $3 AND attempts < $5 AND used_at IS NULL \
                     AND superseded_at IS NULL AND expires_at > $4 RETURNING attempts",
                )
                .bind(tenant.as_str())
                .bind(user_id)
                .bind(kind.as_str())
                .bind(now)
                .bind(max)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err("counting a failed code"))?;
                match attempts {
                    Some(attempts) => CodeAttempt::Wrong {
                        remaining: u32::try_from(max.saturating_sub(attempts)).unwrap_or(0),
                    },
                    None => CodeAttempt::NoCode,
                }
            }
        };
        commit(tx).await?;
        Ok(outcome)
    }

    async fn sweep_tokens(&self, before: DateTime<Utc>) -> Result<u64> {
        let gone = sqlx::query("DELETE FROM account_tokens WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(map_err("sweeping tokens"))?;
        Ok(gone.rows_affected())
    }
}
