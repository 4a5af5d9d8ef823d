//! `TokenStore` on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use usermgmt_core::model::{AccountToken, TenantId, TokenKind};
use usermgmt_core::storage::{StoredToken, TokenStore};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::codec::{from_micros, micros, opt_from_micros, parse};
use crate::error::{corrupt, map_err};
use crate::sessions::user_seq;

type RawToken = (
    Uuid,
    String,
    Uuid,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);

fn decode(raw: RawToken, consumed: bool) -> Result<StoredToken> {
    let (id, tenant, user_id, kind, created, expires, used, superseded) = raw;
    Ok(StoredToken {
        token: AccountToken {
            id,
            tenant_id: TenantId::new(tenant).map_err(|_| corrupt("decoding a token", "tenant"))?,
            user_id,
            kind: parse("decoding a token kind", &kind)?,
            created_at: from_micros(created)?,
            expires_at: from_micros(expires)?,
        },
        used_at: opt_from_micros(used)?,
        superseded_at: opt_from_micros(superseded)?,
        consumed,
    })
}

const TOKEN_COLUMNS: &str = "SELECT t.id, t.tenant_id, u.id, t.kind, t.created_at, t.expires_at, \
    t.used_at, t.superseded_at FROM account_tokens t JOIN users u ON u.seq = t.user_seq \
    WHERE t.token_hash = ?1 AND t.kind = ?2 AND t.tenant_id = ?3";

#[async_trait]
impl TokenStore for SqliteStorage {
    async fn issue_token(
        &self,
        tenant: &TenantId,
        token: &AccountToken,
        token_hash: [u8; 32],
    ) -> Result<()> {
        usermgmt_core::storage::ensure_tenant(tenant, &token.tenant_id)?;
        let token = token.clone();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let seq = user_seq(&tx, token.tenant_id.as_str(), token.user_id)?
                    .ok_or(Error::NotFound("user"))?;
                tx.prepare_cached(
                    "UPDATE account_tokens SET superseded_at = ?3 WHERE user_seq = ?1 AND kind = ?2 \
                     AND used_at IS NULL AND superseded_at IS NULL",
                )
                .and_then(|mut s| {
                    s.execute(params![seq, token.kind.as_str(), micros(token.created_at)])
                })
                .map_err(map_err("superseding tokens"))?;
                tx.prepare_cached(
                    "INSERT INTO account_tokens (id, tenant_id, user_seq, kind, token_hash, created_at, \
                     expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        token.id,
                        token.tenant_id.as_str(),
                        seq,
                        token.kind.as_str(),
                        token_hash.as_slice(),
                        micros(token.created_at),
                        micros(token.expires_at),
                    ])
                })
                .map_err(map_err("storing a token"))?;
                crate::pool::commit(tx)
            })
            .await
    }

    async fn consume_token(
        &self,
        tenant: &TenantId,
        token_hash: [u8; 32],
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredToken>> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let consumed = tx
                    .prepare_cached(
                        "UPDATE account_tokens SET used_at = ?3 WHERE token_hash = ?1 AND kind = ?2 \
                         AND tenant_id = ?4 AND used_at IS NULL AND superseded_at IS NULL \
                         AND expires_at > ?3",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            token_hash.as_slice(),
                            kind.as_str(),
                            micros(now),
                            tenant
                        ])
                    })
                    .map_err(map_err("consuming a token"))?
                    == 1;
                let raw = tx
                    .prepare_cached(TOKEN_COLUMNS)
                    .and_then(|mut s| {
                        s.query_row(params![token_hash.as_slice(), kind.as_str(), tenant], |r| {
                            Ok((
                                r.get(0)?,
                                r.get(1)?,
                                r.get(2)?,
                                r.get(3)?,
                                r.get(4)?,
                                r.get(5)?,
                                r.get(6)?,
                                r.get(7)?,
                            ))
                        })
                        .optional()
                    })
                    .map_err(map_err("reading a token"))?;
                crate::pool::commit(tx)?;
                raw.map(|raw| decode(raw, consumed)).transpose()
            })
            .await
    }

    async fn sweep_tokens(&self, before: DateTime<Utc>) -> Result<u64> {
        self.pool
            .run(move |conn| {
                let gone = conn
                    .prepare_cached("DELETE FROM account_tokens WHERE expires_at < ?1")
                    .and_then(|mut s| s.execute([micros(before)]))
                    .map_err(map_err("sweeping tokens"))?;
                Ok(u64::try_from(gone).unwrap_or(0))
            })
            .await
    }
}
