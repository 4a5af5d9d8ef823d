//! [`DevNotifier`]: keeps messages in memory instead of delivering them.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use super::message::{Notification, Notifier, NotifyError};

/// Most messages [`DevNotifier`] keeps.
pub const DEV_NOTIFIER_KEEPS: usize = 100;

/// A notifier for development and tests: it delivers nothing and keeps the last
/// [`DEV_NOTIFIER_KEEPS`] messages in memory, newest last. The service's default, so flows
/// work before mail is configured — never use it in production (the links stay in memory).
#[derive(Debug, Default)]
pub struct DevNotifier {
    messages: Mutex<VecDeque<Notification>>,
    /// Whether the one warning that nothing is delivered was logged.
    warned: std::sync::atomic::AtomicBool,
}

impl DevNotifier {
    /// The kept messages, oldest first.
    pub fn messages(&self) -> Vec<Notification> {
        self.messages
            .lock()
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[async_trait]
impl Notifier for DevNotifier {
    async fn send(&self, message: &Notification) -> Result<(), NotifyError> {
        let mut messages = self
            .messages
            .lock()
            .map_err(|_| NotifyError("the message store is poisoned".to_owned()))?;
        if messages.len() >= DEV_NOTIFIER_KEEPS {
            messages.pop_front();
        }
        messages.push_back(message.clone());
        if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!(
                "account messages are kept in memory by the development notifier, not delivered: \
                 configure a real Notifier (e.g. SmtpNotifier) in production"
            );
        }
        Ok(())
    }
}
