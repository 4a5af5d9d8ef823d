//! The host's handles on the outbox: subscribers and the webhook dispatcher.

use std::sync::Arc;

use super::core::UserService;
use crate::error::Result;
use crate::events::{EventHandler, Subscriber, Subscription, WebhookDispatcher, WebhookTransport};

impl UserService {
    /// Registers `subscription` (its name keeps its positions across restarts) and returns
    /// the subscriber that hands its events to `handler`. See [`crate::events`] for the
    /// guarantees. This is the host's own code: no principal is checked.
    pub async fn subscribe(
        &self,
        subscription: Subscription,
        handler: impl EventHandler + 'static,
    ) -> Result<Subscriber> {
        Subscriber::register(
            self.storage.clone(),
            self.clock.clone(),
            subscription,
            Arc::new(handler),
        )
        .await
    }

    /// Forgets a consumer name and its positions (so the outbox need not keep events for
    /// it); `false` when there was none.
    pub async fn remove_subscription(&self, name: &str) -> Result<bool> {
        self.storage.remove_consumer(name).await
    }

    /// A webhook dispatcher sending with `transport` (the `webhooks` feature gives
    /// [`crate::events::ReqwestTransport`]) under the configured webhook policy, registering
    /// its fan-out consumer.
    pub async fn webhook_dispatcher(
        &self,
        transport: Arc<dyn WebhookTransport>,
    ) -> Result<WebhookDispatcher> {
        WebhookDispatcher::register(
            self.storage.clone(),
            self.clock.clone(),
            self.config.webhooks.clone(),
            transport,
        )
        .await
    }
}
