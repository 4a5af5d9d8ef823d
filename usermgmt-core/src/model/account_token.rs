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

/// Where an account message goes: the address a token was sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// An email address.
    Email(String),
    /// A phone number (E.164), for SMS.
    Phone(String),
}

impl Recipient {
    /// The stored form: `email:<address>` or `phone:<number>`.
    pub fn to_stored(&self) -> String {
        match self {
            Recipient::Email(address) => format!("email:{address}"),
            Recipient::Phone(number) => format!("phone:{number}"),
        }
    }

    /// Reads the stored form; `None` for anything else.
    pub fn from_stored(stored: &str) -> Option<Self> {
        if let Some(address) = stored.strip_prefix("email:") {
            Some(Recipient::Email(address.to_owned()))
        } else {
            stored
                .strip_prefix("phone:")
                .map(|number| Recipient::Phone(number.to_owned()))
        }
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
    /// Where its message went (`None` for tokens stored before this was recorded).
    pub sent_to: Option<Recipient>,
}
