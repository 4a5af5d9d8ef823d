//! What webhooks store: endpoints with their signing secrets, and deliveries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::model::{
    AuditAction, AuditEvent, DeliveryStatus, Event, TenantId, WebhookDelivery, WebhookEndpoint,
};

/// A delivery claimed for an attempt, with what sending it needs (`Debug` hides the secret).
#[derive(Clone)]
pub struct DueDelivery {
    /// The delivery; `attempts` already counts this attempt.
    pub delivery: WebhookDelivery,
    /// The endpoint's tenant.
    pub tenant_id: TenantId,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's signing secret.
    pub secret: String,
    /// The event.
    pub event: Event,
}

impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("delivery", &self.delivery)
            .field("tenant_id", &self.tenant_id)
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .field("event", &self.event)
            .finish()
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Delivered {
        /// Its status.
        status: u16,
    },
    /// No answer or a non-2xx answer.
    Failed {
        /// The status, when an answer came.
        status: Option<u16>,
        /// What went wrong (no secrets).
        error: String,
        /// When to try again; `None`: the delivery is dead.
        retry_at: Option<DateTime<Utc>>,
    },
}

impl AttemptOutcome {
    /// What the delivery becomes: its status (pending again while a retry is due, dead when
    /// none is), the answer's HTTP status, the error, and when it is due next.
    pub fn recorded(
        &self,
    ) -> (
        DeliveryStatus,
        Option<u16>,
        Option<&str>,
        Option<DateTime<Utc>>,
    ) {
        match self {
            AttemptOutcome::Delivered { status } => {
                (DeliveryStatus::Delivered, Some(*status), None, None)
            }
            AttemptOutcome::Failed {
                status,
                error,
                retry_at,
            } => (
                if retry_at.is_some() {
                    DeliveryStatus::Pending
                } else {
                    DeliveryStatus::Dead
                },
                *status,
                Some(error.as_str()),
                *retry_at,
            ),
        }
    }
}

/// A claimed attempt and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedAttempt {
    /// The delivery's tenant.
    pub tenant_id: TenantId,
    /// The delivery.
    pub id: Uuid,
    /// Its attempt count when claimed (this attempt included).
    pub attempts: u32,
    /// How the attempt ended.
    pub outcome: AttemptOutcome,
}

/// One delivery to queue: (endpoint, event id, event kind).
pub type QueuedDelivery = (Uuid, u64, AuditAction);

/// Webhook endpoints and deliveries.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint with its secret, and its audit event, in one transaction;
    /// `since_event_id` is set to the tenant's last event id after that event. Returns it.
    async fn insert_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        secret: &str,
        audit: AuditEvent,
    ) -> Result<u64>;

    /// One endpoint of `tenant`.
    async fn get_webhook(&self, tenant: &TenantId, id: Uuid) -> Result<Option<WebhookEndpoint>>;

    /// The endpoints of `tenant`, oldest first.
    async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>>;

    /// Replaces an endpoint's URL, kinds, enabled flag and `updated_at`, and writes `audit`;
    /// `false` (nothing written) when there is no such endpoint.
    async fn update_webhook(&self, endpoint: &WebhookEndpoint, audit: AuditEvent) -> Result<bool>;

    /// Deletes an endpoint and its deliveries, and writes `audit`; `false` (nothing written)
    /// when there is no such endpoint.
    async fn delete_webhook(&self, tenant: &TenantId, id: Uuid, audit: AuditEvent) -> Result<bool>;

    /// Queues one delivery per row, due at `now`. A delivery of the same event to the same
    /// endpoint is kept as it is, or with `again` goes back to pending with no attempts.
    /// How many were queued or re-queued.
    async fn queue_deliveries(
        &self,
        tenant: &TenantId,
        rows: &[QueuedDelivery],
        again: bool,
        now: DateTime<Utc>,
    ) -> Result<u64>;

    /// Claims up to `limit` pending deliveries of enabled endpoints due at `now`, oldest due
    /// first: each counts an attempt and is not due again before `lease_until` (so a crash
    /// mid-attempt retries it then). Instances never claim the same delivery at once.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery>>;

    /// Records how claimed attempts ended, in one write — each only while its delivery is
    /// still pending at the attempt count it was claimed with (a redelivery or a later claim
    /// meanwhile wins); how many were recorded.
    async fn finish_deliveries(&self, finished: &[FinishedAttempt]) -> Result<u64>;

    /// The newest `limit` deliveries of an endpoint, newest first.
    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: Uuid,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>>;

    /// Puts a delivery of the endpoint back to pending, due at `now`, with no attempts;
    /// `false` when there is no such delivery or its event is no longer in the outbox.
    async fn redeliver(
        &self,
        tenant: &TenantId,
        endpoint: Uuid,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool>;
}
