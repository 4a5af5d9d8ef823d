//! `TokenStore` on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, Transaction, params};
use usermgmt_core::model::{AccountToken, Recipient, TenantId, TokenKind};
use usermgmt_core::storage::{CodeAttempt, CodeLimits, StoredToken, TokenStore};
use usermgmt_core::{Error, Result};
use uuid::Uuid;

use crate::SqliteStorage;
use crate::codec::{from_micros, micros, opt_from_micros, parse};
use crate::error::{corrupt, map_err};
use crate::sessions::user_seq;

/// A token row as read: `TOKEN_COLUMNS` in order.
struct RawToken {
    id: Uuid,
    tenant: String,
    user_id: Uuid,
    kind: String,
    created: i64,
    expires: i64,
    used: Option<i64>,
    superseded: Option<i64>,
    sent_to: Option<String>,
}

impl RawToken {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            tenant: r.get(1)?,
            user_id: r.get(2)?,
            kind: r.get(3)?,
            created: r.get(4)?,
            expires: r.get(5)?,
            used: r.get(6)?,
            superseded: r.get(7)?,
            sent_to: r.get(8)?,
        })
    }

    fn decode(self, consumed: bool) -> Result<StoredToken> {
        Ok(StoredToken {
            token: AccountToken {
                id: self.id,
                tenant_id: TenantId::new(self.tenant)
                    .map_err(|_| corrupt("decoding a token", "tenant"))?,
                user_id: self.user_id,
                kind: parse("decoding a token kind", &self.kind)?,
                created_at: from_micros(self.created)?,
                expires_at: from_micros(self.expires)?,
                sent_to: self.sent_to.as_deref().and_then(Recipient::from_stored),
            },
            used_at: opt_from_micros(self.used)?,
            superseded_at: opt_from_micros(self.superseded)?,
            consumed,
        })
    }
}

const TOKEN_COLUMNS: &str = "SELECT t.id, t.tenant_id, u.id, t.kind, t.created_at, t.expires_at, \
    t.used_at, t.superseded_at, t.sent_to FROM account_tokens t JOIN users u ON u.seq = t.user_seq";

/// The token with this hash and kind in the tenant.
fn read_token(
    tx: &Transaction<'_>,
    token_hash: &[u8; 32],
    kind: TokenKind,
    tenant: &str,
) -> Result<Option<RawToken>> {
    tx.prepare_cached(&format!(
        "{TOKEN_COLUMNS} WHERE t.token_hash = ?1 AND t.kind = ?2 AND t.tenant_id = ?3"
    ))
    .and_then(|mut s| {
        s.query_row(
            params![token_hash.as_slice(), kind.as_str(), tenant],
            RawToken::read,
        )
        .optional()
    })
    .map_err(map_err("reading a token"))
}

/// The condition of a token that still works at `?now`.
const CURRENT: &str = "used_at IS NULL AND superseded_at IS NULL AND expires_at > ?3";

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
                tx.prepare_cached("DELETE FROM account_tokens WHERE token_hash = ?1")
                    .and_then(|mut s| s.execute([token_hash.as_slice()]))
                    .map_err(map_err("dropping a recurring code"))?;
                tx.prepare_cached(
                    "INSERT INTO account_tokens (id, tenant_id, user_seq, kind, token_hash, created_at, \
                     expires_at, sent_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
                        token.sent_to.as_ref().map(Recipient::to_stored),
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
                    .prepare_cached(&format!(
                        "UPDATE account_tokens SET used_at = ?3 WHERE token_hash = ?1 AND kind = ?2 \
                         AND tenant_id = ?4 AND {CURRENT}"
                    ))
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
                let raw = read_token(&tx, &token_hash, kind, &tenant)?;
                crate::pool::commit(tx)?;
                raw.map(|raw| raw.decode(consumed)).transpose()
            })
            .await
    }

    async fn attempt_code(
        &self,
        tenant: &TenantId,
        (user_id, kind): (Uuid, TokenKind),
        code_hash: [u8; 32],
        now: DateTime<Utc>,
        limits: CodeLimits,
    ) -> Result<CodeAttempt> {
        let tenant = tenant.as_str().to_owned();
        self.pool
            .run(move |conn| {
                let tx = crate::pool::immediate(conn)?;
                let Some(seq) = user_seq(&tx, &tenant, user_id)? else {
                    return Ok(CodeAttempt::NoCode);
                };
                let failed_today: i64 = tx
                    .prepare_cached(
                        "SELECT coalesce(sum(attempts), 0) FROM account_tokens \
                         WHERE user_seq = ?1 AND kind = ?2 AND created_at > ?3",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![seq, kind.as_str(), micros(limits.since)], |r| {
                            r.get(0)
                        })
                    })
                    .map_err(map_err("counting failed codes"))?;
                if failed_today >= i64::from(limits.per_day) {
                    return Ok(CodeAttempt::NoCode);
                }
                let matched = tx
                    .prepare_cached(&format!(
                        "UPDATE account_tokens SET used_at = ?3 WHERE user_seq = ?1 AND kind = ?2 \
                         AND token_hash = ?4 AND attempts < ?5 AND {CURRENT}"
                    ))
                    .and_then(|mut s| {
                        s.execute(params![
                            seq,
                            kind.as_str(),
                            micros(now),
                            code_hash.as_slice(),
                            limits.per_code
                        ])
                    })
                    .map_err(map_err("trying a code"))?
                    == 1;
                let outcome = if matched {
                    match read_token(&tx, &code_hash, kind, &tenant)? {
                        Some(raw) => CodeAttempt::Consumed(raw.decode(true)?.token),
                        None => CodeAttempt::NoCode,
                    }
                } else {
                    let attempts: Option<u32> = tx
                        .prepare_cached(&format!(
                            "UPDATE account_tokens SET attempts = attempts + 1 WHERE user_seq = ?1 \
                             AND kind = ?2 AND attempts < ?4 AND {CURRENT} RETURNING attempts"
                        ))
                        .and_then(|mut s| {
                            s.query_row(
                                params![seq, kind.as_str(), micros(now), limits.per_code],
                                |r| r.get(0),
                            )
                            .optional()
                        })
                        .map_err(map_err("counting a failed code"))?;
                    match attempts {
                        Some(attempts) => CodeAttempt::Wrong {
                            remaining: limits.per_code.saturating_sub(attempts),
                        },
                        None => CodeAttempt::NoCode,
                    }
                };
                crate::pool::commit(tx)?;
                Ok(outcome)
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
