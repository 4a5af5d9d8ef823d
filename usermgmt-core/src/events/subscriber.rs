//! Named in-process consumers of the outbox.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::model::{AuditAction, EVENT_SHARDS, Event, TenantId};
use crate::storage::{ConsumerSpec, LeasedCursor, Storage};

/// What a handler returns when it could not handle an event: the event is retried.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Longest consumer name.
pub const MAX_CONSUMER_NAME: usize = 100;

/// Handles events, one at a time, in order per user.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Handles one event; an error retries it (and holds back the events after it in its
    /// partition) after a backoff. May be called again for an event it already handled.
    async fn handle(&self, event: &Event) -> std::result::Result<(), HandlerError>;

    /// Handles a batch of events of one tenant and partition, in order. The default calls
    /// [`EventHandler::handle`] for each; a handler that writes elsewhere can do the whole
    /// batch in one write. An error names the index of the first event not handled: it and
    /// the events after it are retried.
    async fn handle_batch(
        &self,
        events: &[Event],
    ) -> std::result::Result<(), (usize, HandlerError)> {
        for (i, event) in events.iter().enumerate() {
            self.handle(event).await.map_err(|error| (i, error))?;
        }
        Ok(())
    }
}

/// An [`EventHandler`] from an async function (see [`handler_fn`]).
pub struct FnHandler<F>(F);

/// Makes an [`EventHandler`] of an async function taking the event.
pub fn handler_fn<F, Fut>(f: F) -> FnHandler<F>
where
    F: Fn(Event) -> Fut + Send + Sync,
    Fut: Future<Output = std::result::Result<(), HandlerError>> + Send,
{
    FnHandler(f)
}

#[async_trait]
impl<F, Fut> EventHandler for FnHandler<F>
where
    F: Fn(Event) -> Fut + Send + Sync,
    Fut: Future<Output = std::result::Result<(), HandlerError>> + Send,
{
    async fn handle(&self, event: &Event) -> std::result::Result<(), HandlerError> {
        (self.0)(event.clone()).await
    }
}

/// What a subscriber reads and how.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The consumer name positions are stored under (1-100 printable characters).
    pub name: String,
    /// The kinds handled (empty: every kind); other events are passed over.
    pub kinds: Vec<AuditAction>,
    /// The one tenant read, or every tenant.
    pub tenant: Option<TenantId>,
    /// Partitions per tenant (1-16, default 4): how many instances can share a tenant's work.
    /// Fixed when the name is first registered.
    pub partitions: u8,
    /// Start after the events that exist when the name is first registered (default false:
    /// from the oldest event the outbox still holds).
    pub from_latest: bool,
    /// Events read per lease (default 100).
    pub batch_size: u32,
    /// How long a lease lasts (default 60 s): a batch must be handled within it, or another
    /// instance may take the partition over and handle the batch again.
    pub lease: Duration,
    /// How often an idle subscriber looks for new events (default 500 ms).
    pub poll_interval: Duration,
    /// The first retry delay after a handler error (default 1 s); it doubles up to
    /// `max_retry_delay` (default 5 minutes).
    pub retry_delay: Duration,
    /// The longest retry delay.
    pub max_retry_delay: Duration,
}

impl Subscription {
    /// A subscription to every kind in every tenant, with the defaults.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kinds: Vec::new(),
            tenant: None,
            partitions: 4,
            from_latest: false,
            batch_size: 100,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(300),
        }
    }

    /// Only these kinds.
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = AuditAction>) -> Self {
        self.kinds = kinds.into_iter().collect();
        self
    }

    /// Only this tenant.
    pub fn tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Partitions per tenant (1-16).
    pub fn partitions(mut self, partitions: u8) -> Self {
        self.partitions = partitions;
        self
    }

    /// Starts after the events that exist at first registration.
    pub fn from_latest(mut self) -> Self {
        self.from_latest = true;
        self
    }

    fn check(&self) -> Result<()> {
        let name = self.name.as_str();
        if name.trim().is_empty()
            || name.chars().count() > MAX_CONSUMER_NAME
            || name.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                "name",
                format!("must be 1-{MAX_CONSUMER_NAME} printable characters"),
            ));
        }
        if self.partitions == 0 || self.partitions > EVENT_SHARDS {
            return Err(Error::invalid(
                "partitions",
                format!("must be 1-{EVENT_SHARDS}"),
            ));
        }
        if self.batch_size == 0 || self.batch_size > 10_000 {
            return Err(Error::invalid("batch_size", "must be 1-10000"));
        }
        if self.lease < Duration::from_secs(1) {
            return Err(Error::invalid("lease", "must be at least 1 second"));
        }
        Ok(())
    }

    fn wants(&self, event: &Event) -> bool {
        self.kinds.is_empty() || self.kinds.contains(&event.kind())
    }
}

/// A registered consumer: [`Subscriber::poll`] handles what is waiting,
/// [`Subscriber::spawn`] keeps doing so in a task.
pub struct Subscriber {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    subscription: Subscription,
    handler: Arc<dyn EventHandler>,
    /// This instance's lease owner name.
    owner: String,
    /// Consecutive handler failures per (tenant, partition), for the backoff.
    failures: Mutex<HashMap<(TenantId, u8), u32>>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("subscription", &self.subscription)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// Batches one [`Subscriber::poll`] handles at most before returning, so a busy outbox
/// does not keep it from returning.
const MAX_BATCHES_PER_POLL: usize = 64;

impl Subscriber {
    /// Registers `subscription` in `storage` and returns its subscriber (see
    /// [`crate::UserService::subscribe`]).
    pub(crate) async fn register(
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        subscription: Subscription,
        handler: Arc<dyn EventHandler>,
    ) -> Result<Self> {
        subscription.check()?;
        let spec = ConsumerSpec {
            name: subscription.name.clone(),
            tenant: subscription.tenant.clone(),
            partitions: subscription.partitions,
            from_latest: subscription.from_latest,
        };
        storage.register_consumer(&spec, clock.now()).await?;
        Ok(Subscriber {
            storage,
            clock,
            subscription,
            handler,
            owner: Uuid::now_v7().to_string(),
            failures: Mutex::new(HashMap::new()),
        })
    }
}

impl Subscriber {
    /// Leases partitions that have unread events and handles a batch of each, until none is
    /// free and behind (or 64 batches); returns how many events the handler took.
    pub async fn poll(&self) -> Result<usize> {
        let mut handled = 0;
        for _ in 0..MAX_BATCHES_PER_POLL {
            let now = self.clock.now();
            let until = super::pause::later(now, self.subscription.lease);
            let Some(cursor) = self
                .storage
                .lease_cursor(&self.subscription.name, &self.owner, now, until)
                .await?
            else {
                break;
            };
            handled += self.handle_batch(&cursor).await?;
        }
        Ok(handled)
    }

    async fn handle_batch(&self, cursor: &LeasedCursor) -> Result<usize> {
        let batch = match self
            .storage
            .read_events(
                &cursor.tenant_id,
                cursor.position,
                cursor.part,
                cursor.partitions,
                self.subscription.batch_size,
            )
            .await
        {
            Ok(batch) => batch,
            Err(e) => {
                self.release(cursor, cursor.position, None).await?;
                return Err(e);
            }
        };
        let next_position = batch.next_position;
        let wanted: Vec<Event> = batch
            .events
            .into_iter()
            .filter(|e| self.subscription.wants(e))
            .collect();
        if let Err((failed, error)) = self.handler.handle_batch(&wanted).await {
            // Everything before the failed event is handled: the cursor stops just before it.
            let (handled, event) = match wanted.get(failed) {
                Some(event) => (failed, event.id),
                None => (wanted.len(), next_position.saturating_add(1)),
            };
            tracing::warn!(
                consumer = %self.subscription.name,
                tenant = %cursor.tenant_id.as_str(),
                event,
                %error,
                "an event handler failed; retrying later"
            );
            let retry_at = super::pause::later(self.clock.now(), self.backoff(cursor));
            self.release(cursor, event.saturating_sub(1), Some(retry_at))
                .await?;
            return Ok(handled);
        }
        self.forget_failures(cursor);
        self.release(cursor, next_position, None).await?;
        Ok(wanted.len())
    }

    async fn release(
        &self,
        cursor: &LeasedCursor,
        position: u64,
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<()> {
        let held = self
            .storage
            .release_cursor(
                &self.subscription.name,
                cursor,
                &self.owner,
                position,
                retry_at,
            )
            .await?;
        if !held {
            tracing::warn!(
                consumer = %self.subscription.name,
                tenant = %cursor.tenant_id.as_str(),
                part = cursor.part,
                "a lease ran out before its batch was handled; another instance has it"
            );
        }
        Ok(())
    }

    /// The delay before retrying a failed partition: `retry_delay` doubled per consecutive
    /// failure, at most `max_retry_delay`.
    fn backoff(&self, cursor: &LeasedCursor) -> Duration {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = failures
            .entry((cursor.tenant_id.clone(), cursor.part))
            .or_insert(0);
        *count = count.saturating_add(1);
        let factor = 2u32.saturating_pow(count.saturating_sub(1).min(20));
        self.subscription
            .retry_delay
            .saturating_mul(factor)
            .min(self.subscription.max_retry_delay)
    }

    fn forget_failures(&self, cursor: &LeasedCursor) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(cursor.tenant_id.clone(), cursor.part));
    }

    /// Runs [`Subscriber::poll`] in a task until [`SubscriberHandle::stop`] (dropping the
    /// handle leaves it running), waiting `poll_interval` whenever nothing was waiting (or
    /// storage failed).
    pub fn spawn(self) -> SubscriberHandle {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let interval = self.subscription.poll_interval;
        let task = tokio::spawn(async move {
            loop {
                let idle = match self.poll().await {
                    Ok(handled) => handled == 0,
                    Err(error) => {
                        tracing::warn!(consumer = %self.subscription.name, %error, "reading the outbox failed");
                        true
                    }
                };
                if *stopped.borrow() {
                    break;
                }
                if idle && super::pause::pause(&mut stopped, interval).await {
                    break;
                }
            }
        });
        SubscriberHandle { stop, task }
    }
}

/// A running subscriber (see [`Subscriber::spawn`]).
#[derive(Debug)]
pub struct SubscriberHandle {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SubscriberHandle {
    /// Stops after the batch in hand and waits for the task to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
