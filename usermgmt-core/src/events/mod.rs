//! Reacting to changes (SPEC §13): the outbox every change writes in its transaction, read by
//! named in-process [`Subscriber`]s and by the [`WebhookDispatcher`].
//!
//! Guarantees of a subscriber:
//! - **At least once.** A cursor moves past an event only after its handler returned `Ok`; a
//!   crash or a lost lease hands the same events to the next holder.
//! - **In order per user** (per entity): the events of one tenant are spread over 16 shards by
//!   their target id, a partition holds a fixed set of shards, and one instance at a time
//!   holds a partition's lease and handles its events in id order. A failing handler holds
//!   its partition (retrying with backoff) rather than skip an event.
//! - **Shared work.** Instances of the host that run the same subscription over one database
//!   lease different partitions (PostgreSQL: `FOR UPDATE SKIP LOCKED`), so an event is
//!   handled once in the normal case; twice only when a handler outlives its lease.
//! - **Resumable.** Positions are stored per consumer name, tenant and partition: a restart
//!   continues after the last event handled.
//!
//! Webhooks are delivered at least once and not in order (each attempt is independent);
//! receivers order and deduplicate by the event's per-tenant `id`.

mod address;
mod dispatcher;
mod pause;
mod policy;
mod signature;
mod subscriber;
#[cfg(feature = "webhooks")]
mod transport;

pub use address::{MAX_WEBHOOK_URL, check_webhook_url, is_public};
pub use dispatcher::{
    DispatchReport, DispatcherHandle, WEBHOOK_CONSUMER, WebhookDispatcher, WebhookTransport,
    webhook_body,
};
pub use policy::WebhookPolicy;
pub use signature::{
    DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, WEBHOOK_SECRET_PREFIX, sign, verify,
};
pub use subscriber::{
    EventHandler, FnHandler, HandlerError, MAX_CONSUMER_NAME, Subscriber, SubscriberHandle,
    Subscription, handler_fn,
};
#[cfg(feature = "webhooks")]
pub use transport::ReqwestTransport;
