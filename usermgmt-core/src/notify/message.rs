//! What an account message is, and the [`Notifier`] that delivers it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::{Recipient, TenantId, TokenKind};

/// What a message carries: a one-time link (email) or a short code (SMS). A secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Proof {
    /// A link to open, with the token in its query.
    Link(String),
    /// A numeric code to type in.
    Code(String),
}

/// A message to deliver. Its link or code is a secret: `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Notification {
    /// What the message is for.
    pub kind: TokenKind,
    /// The user's tenant.
    pub tenant_id: TenantId,
    /// The user.
    pub user_id: Uuid,
    /// The user's display name.
    pub name: String,
    /// Where it goes.
    pub recipient: Recipient,
    /// The user's locale, for the template.
    pub locale: Option<String>,
    /// The one-time link or code.
    pub proof: Proof,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

impl Notification {
    /// The link, when the message carries one.
    pub fn link(&self) -> Option<&str> {
        match &self.proof {
            Proof::Link(link) => Some(link),
            Proof::Code(_) => None,
        }
    }

    /// The code, when the message carries one.
    pub fn code(&self) -> Option<&str> {
        match &self.proof {
            Proof::Code(code) => Some(code),
            Proof::Link(_) => None,
        }
    }
}

impl std::fmt::Debug for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notification")
            .field("kind", &self.kind)
            .field("tenant_id", &self.tenant_id)
            .field("user_id", &self.user_id)
            .field("recipient", &self.recipient)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a message was not delivered (never includes the link).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("delivery failed: {0}")]
pub struct NotifyError(pub String);

/// Delivers account-flow messages.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends one message.
    async fn send(&self, message: &Notification) -> Result<(), NotifyError>;
}
