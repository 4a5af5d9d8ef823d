//! What the account flows store: one-time tokens, by the hash of their secret.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

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

/// The outcome of typing a short code ([`TokenStore::attempt_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeAttempt {
    /// The code matched the user's current code, which is now used.
    Consumed(AccountToken),
    /// It did not match; the current code allows `remaining` more attempts (at 0 it is void).
    Wrong {
        /// Attempts left.
        remaining: u32,
    },
    /// The user has no current code of that kind (none, used, replaced, expired or void).
    NoCode,
}

/// How many wrong tries a code gets ([`TokenStore::attempt_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLimits {
    /// Wrong tries per code.
    pub per_code: u32,
    /// Wrong tries over all of the user's codes created since `since`.
    pub per_day: u32,
    /// The start of the window `per_day` counts over.
    pub since: DateTime<Utc>,
}

/// One-time account tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a new token, and in the same transaction marks every unused, current token of
    /// the same user and kind superseded at its creation time (and drops an older token with
    /// the same hash: a short code can recur for a user).
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

    /// One attempt at the user's current code of `kind` (unused, not superseded, unexpired,
    /// fewer than `limits.per_code` failed attempts), unless the failed attempts on the user's
    /// tokens of `kind` created since `limits.since` reach `limits.per_day` (then
    /// [`CodeAttempt::NoCode`]): when its hash is `code_hash` it is marked used, otherwise its
    /// failed attempts grow by one — in one transaction.
    async fn attempt_code(
        &self,
        tenant: &TenantId,
        user: (Uuid, TokenKind),
        code_hash: [u8; 32],
        now: DateTime<Utc>,
        limits: CodeLimits,
    ) -> Result<CodeAttempt>;

    /// Deletes the tokens that expired before `before`; answers how many.
    async fn sweep_tokens(&self, before: DateTime<Utc>) -> Result<u64>;
}
