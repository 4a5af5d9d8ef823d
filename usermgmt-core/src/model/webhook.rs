//! Webhook endpoints and their deliveries (SPEC §13).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::audit::AuditAction;
use super::string_enum::string_enum;
use super::tenant::TenantId;

/// A URL events are POSTed to. Its signing secret is stored apart and shown once, at
/// creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    /// Endpoint id (UUID v7).
    pub id: Uuid,
    /// Owning tenant.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub tenant_id: TenantId,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The event kinds delivered (empty: every kind).
    pub kinds: Vec<AuditAction>,
    /// Whether new events are delivered; a disabled endpoint keeps its pending deliveries
    /// until it is enabled again.
    pub enabled: bool,
    /// The administrator who created it.
    pub created_by: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The tenant's last event id when the endpoint was created (its own creation): it
    /// receives the events after it; a replay reaches earlier ones.
    pub since_event_id: u64,
}

impl WebhookEndpoint {
    /// Whether events of `kind` are delivered to it.
    pub fn wants(&self, kind: AuditAction) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&kind)
    }

    /// Whether the fan-out queues `event` for it: enabled, a wanted kind, and after the
    /// endpoint was created.
    pub fn receives(&self, event: &super::event::Event) -> bool {
        self.enabled && self.wants(event.kind()) && event.id > self.since_event_id
    }
}

string_enum! {
    /// Where a delivery stands.
    pub enum DeliveryStatus {
        /// Waiting for its first attempt or a retry.
        Pending => "pending",
        /// The receiver answered 2xx.
        Delivered => "delivered",
        /// Every attempt failed (dead letter): only a redelivery or a replay sends it again.
        Dead => "dead",
    }
}

/// One event's delivery to one endpoint, with the outcome of its last attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    /// Delivery id (UUID v7), sent as the `Usermgmt-Delivery-Id` header.
    pub id: Uuid,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The event's per-tenant id.
    pub event_id: u64,
    /// The event's kind.
    pub kind: AuditAction,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer, if one came.
    pub response_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    pub error: Option<String>,
    /// When the delivery was queued.
    pub created_at: DateTime<Utc>,
}
