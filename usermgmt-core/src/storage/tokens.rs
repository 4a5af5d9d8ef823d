//! What the account flows store: one-time tokens, by the hash of their secret.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::model::{AccountToken, TenantId, TokenKind};

/// A stored token as found when redeeming it: the record, its state, and whether this call
/// consumed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The record.
    pub token: AccountToken,
    /// When it was used, if it was.
    pub used_at: Option<DateTime<Utc>>,
    /// When a newer token of the same kind for the same user replaced it, if one did.
    pub superseded_at: Option<DateTime<Utc>>,
    /// Whether this call marked it used (it was unused, current and unexpired).
    pub consumed: bool,
}

/// One-time account tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new token, and in the same transaction marks every unused, current token of
    /// the same user and kind superseded at its creation time.
    async fn issue_token(
        &self,
        tenant: &TenantId,
        token: &AccountToken,
        token_hash: [u8; 32],
    ) -> Result<()>;

    /// The token of `kind` in `tenant` with this hash, marked used at `now` in the same
    /// statement when it is unused, not superseded and not expired (of concurrent calls, one
    /// consumes it); `None` when there is no such token.
    async fn consume_token(
        &self,
        tenant: &TenantId,
        token_hash: [u8; 32],
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredToken>>;

    /// Deletes the tokens that expired before `before`; answers how many.
    async fn sweep_tokens(&self, before: DateTime<Utc>) -> Result<u64>;
}
