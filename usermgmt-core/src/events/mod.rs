//! Reacting to changes (SPEC §13): the outbox every change writes in its transaction, read by
//! named in-process [`Subscriber`]s and by the webhook dispatcher.
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

mod subscriber;

pub use subscriber::{
    EventHandler, FnHandler, HandlerError, MAX_CONSUMER_NAME, Subscriber, SubscriberHandle,
    Subscription, handler_fn,
};
