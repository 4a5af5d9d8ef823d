//! One-time account tokens: the secrets behind invitation, password-reset and verification
//! links. Only their SHA-256 is stored (the secret itself is a
//! [`SessionToken`](super::SessionToken): 256 random bits).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::string_enum::string_enum;
use super::tenant::TenantId;

string_enum! {
    /// What a one-time token is for.
    pub enum TokenKind {
        /// Accepting an invitation: set a password, verify the channel, become active.
        Invitation => "invitation",
        /// Setting a new password.
        PasswordReset => "password_reset",
        /// Verifying an email address or phone number.
        Verification => "verification",
    }
}

/// An issued one-time token (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountToken {
    /// Token id.
    pub id: Uuid,
    /// The user's tenant.
    pub tenant_id: TenantId,
    /// The user it acts for.
    pub user_id: Uuid,
    /// What it is for.
    pub kind: TokenKind,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}
