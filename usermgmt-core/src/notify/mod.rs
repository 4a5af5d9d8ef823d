//! Delivering account-flow messages (invitations, password resets, verifications): the
//! [`Notifier`] trait; [`DevNotifier`], which keeps the messages in memory for development
//! and tests; with the `smtp` feature, `SmtpNotifier`, which sends email through an SMTP
//! server; and the replaceable [`MessageTemplates`] they render with.

mod dev;
mod message;
#[cfg(feature = "smtp")]
mod smtp;
mod templates;

pub use crate::model::Recipient;
pub use dev::{DEV_NOTIFIER_KEEPS, DevNotifier};
pub use message::{Notification, Notifier, NotifyError, Proof};
#[cfg(feature = "smtp")]
pub use smtp::{SmtpNotifier, SmtpSettings};
pub use templates::{DefaultTemplates, MessageTemplates, RenderedMessage};
