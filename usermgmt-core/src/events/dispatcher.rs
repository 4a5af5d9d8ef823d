//! The webhook dispatcher: fans events out to endpoints as deliveries, sends due
//! deliveries signed, retries with backoff and jitter, dead-letters, and prunes the outbox.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use uuid::Uuid;

use super::address::check_webhook_url;
use super::policy::WebhookPolicy;
use super::signature::{DELIVERY_ID_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, sign};
use super::subscriber::{EventHandler, HandlerError, Subscriber, Subscription};
use crate::clock::Clock;
use crate::error::Result;
use crate::model::{AuditAction, AuditActor, AuditTargetKind, Event, FieldChange, TenantId};
use crate::storage::{AttemptOutcome, DueDelivery, FinishedAttempt, QueuedDelivery, Storage};

/// The consumer name the dispatcher's fan-out reads the outbox under.
pub const WEBHOOK_CONSUMER: &str = "usermgmt.webhooks";

/// Sends one webhook request.
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// POSTs `body` with `headers` to `url`: the HTTP status of the answer, or why none came.
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> std::result::Result<u16, String>;
}

/// The entity an event is about, in a webhook body.
#[derive(Debug, Serialize)]
struct Target {
    kind: AuditTargetKind,
    id: Uuid,
}

/// A webhook body (JSON): the event, documented in the README.
#[derive(Debug, Serialize)]
struct Payload<'a> {
    id: u64,
    #[serde(rename = "type")]
    kind: AuditAction,
    event_id: Uuid,
    tenant_id: &'a TenantId,
    created_at: DateTime<Utc>,
    target: Target,
    user_id: Option<Uuid>,
    actor: AuditActor,
    impersonator_id: Option<Uuid>,
    changes: &'a BTreeMap<String, FieldChange>,
}

/// The JSON body a webhook delivery of `event` carries.
pub fn webhook_body(event: &Event) -> Vec<u8> {
    let audit = &event.audit;
    let payload = Payload {
        id: event.id,
        kind: audit.action,
        event_id: audit.id,
        tenant_id: &audit.tenant_id,
        created_at: audit.created_at,
        target: Target {
            kind: audit.target_kind,
            id: audit.target_id,
        },
        user_id: event.user_id(),
        actor: audit.actor,
        impersonator_id: audit.impersonator_id,
        changes: &audit.changes,
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// Queues a delivery of each event to each enabled endpoint of its tenant that wants it.
struct FanOut {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl EventHandler for FanOut {
    async fn handle(&self, event: &Event) -> std::result::Result<(), HandlerError> {
        self.handle_batch(std::slice::from_ref(event))
            .await
            .map_err(|(_, error)| error)
    }

    /// A batch (one tenant's) in two statements: its endpoints, then every delivery.
    async fn handle_batch(
        &self,
        events: &[Event],
    ) -> std::result::Result<(), (usize, HandlerError)> {
        let Some(tenant) = events.first().map(|e| &e.audit.tenant_id) else {
            return Ok(());
        };
        let failed = |error: crate::error::Error| (0, HandlerError::from(error));
        let endpoints = self.storage.list_webhooks(tenant).await.map_err(failed)?;
        let rows: Vec<QueuedDelivery> = events
            .iter()
            .flat_map(|event| {
                endpoints
                    .iter()
                    .filter(|e| e.receives(event))
                    .map(|e| (e.id, event.id, event.kind()))
            })
            .collect();
        if !rows.is_empty() {
            self.storage
                .queue_deliveries(tenant, &rows, false, self.clock.now())
                .await
                .map_err(failed)?;
        }
        Ok(())
    }
}

/// What one [`WebhookDispatcher::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Events fanned out to endpoints.
    pub events: usize,
    /// Attempts made.
    pub attempts: usize,
    /// Attempts that delivered.
    pub delivered: usize,
    /// Deliveries that went dead.
    pub dead: usize,
}

/// Delivers webhooks: [`WebhookDispatcher::run_once`] does one round,
/// [`WebhookDispatcher::spawn`] runs rounds in a task. Several instances over one
/// database share the work (the fan-out is a leased [`Subscriber`]; deliveries are
/// claimed with a lease, so an attempt cut short by a crash is retried when it ends).
pub struct WebhookDispatcher {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    policy: WebhookPolicy,
    transport: Arc<dyn WebhookTransport>,
    fanout: Subscriber,
}

impl std::fmt::Debug for WebhookDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDispatcher").finish_non_exhaustive()
    }
}

/// How long a claimed attempt may take before another instance may try it again, beyond
/// the request timeout.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);
/// How often a spawned dispatcher prunes the outbox.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Rows one prune statement deletes at most.
const PRUNE_BATCH: u32 = 10_000;

fn unit_draw() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

impl WebhookDispatcher {
    /// A dispatcher over `storage` (see [`crate::UserService::webhook_dispatcher`]),
    /// registering its fan-out consumer.
    pub(crate) async fn register(
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Clock>,
        policy: WebhookPolicy,
        transport: Arc<dyn WebhookTransport>,
    ) -> Result<Self> {
        let fanout = FanOut {
            storage: storage.clone(),
            clock: clock.clone(),
        };
        let subscription = Subscription {
            poll_interval: Duration::from_millis(200),
            ..Subscription::new(WEBHOOK_CONSUMER)
        };
        let fanout = Subscriber::register(
            storage.clone(),
            clock.clone(),
            subscription,
            Arc::new(fanout),
        )
        .await?;
        Ok(Self {
            storage,
            clock,
            policy,
            transport,
            fanout,
        })
    }
}

impl WebhookDispatcher {
    /// Fans out new events, then makes the attempts that are due (up to the configured
    /// concurrency, all at once).
    pub async fn run_once(&self) -> Result<DispatchReport> {
        let events = self.fanout.poll().await?;
        let policy = &self.policy;
        let now = self.clock.now();
        let lease = policy.timeout.saturating_add(CLAIM_MARGIN);
        // One wave per round: every claimed attempt starts at once, so each ends within the
        // timeout, well inside its lease.
        let limit = u32::try_from(policy.concurrency.max(1)).unwrap_or(16);
        let due = self
            .storage
            .claim_deliveries(now, super::pause::later(now, lease), limit)
            .await?;
        let finished: Vec<FinishedAttempt> = futures_util::stream::iter(due)
            .map(|d| self.attempt(d))
            .buffer_unordered(policy.concurrency.max(1))
            .collect()
            .await;
        let mut report = DispatchReport {
            events,
            ..DispatchReport::default()
        };
        for attempt in &finished {
            report.attempts += 1;
            match attempt.outcome {
                AttemptOutcome::Delivered { .. } => report.delivered += 1,
                AttemptOutcome::Failed { retry_at: None, .. } => report.dead += 1,
                AttemptOutcome::Failed { .. } => {}
            }
        }
        if !finished.is_empty() {
            let recorded = self.storage.finish_deliveries(&finished).await?;
            if recorded < finished.len() as u64 {
                tracing::debug!(
                    changed = finished.len() as u64 - recorded,
                    "deliveries changed during their attempts"
                );
            }
        }
        Ok(report)
    }

    async fn attempt(&self, due: DueDelivery) -> FinishedAttempt {
        let policy = &self.policy;
        let sent = match check_webhook_url(&due.url, policy) {
            Err(_) => Err("the endpoint's URL is not allowed by the webhook policy".to_owned()),
            Ok(_) => {
                let body = webhook_body(&due.event);
                let timestamp = self.clock.now().timestamp();
                let headers = [
                    ("Content-Type", "application/json".to_owned()),
                    (SIGNATURE_HEADER, sign(&due.secret, timestamp, &body)),
                    (EVENT_ID_HEADER, due.event.id.to_string()),
                    (DELIVERY_ID_HEADER, due.delivery.id.to_string()),
                ];
                self.transport.post(&due.url, &headers, body).await
            }
        };
        let attempts = due.delivery.attempts;
        let retry = || {
            (attempts < policy.max_attempts).then(|| {
                let delay = policy.retry_delay(attempts, unit_draw());
                super::pause::later(self.clock.now(), delay)
            })
        };
        let outcome = match sent {
            Ok(status) if (200..300).contains(&status) => AttemptOutcome::Delivered { status },
            Ok(status) => AttemptOutcome::Failed {
                status: Some(status),
                error: format!("the receiver answered {status}"),
                retry_at: retry(),
            },
            Err(error) => AttemptOutcome::Failed {
                status: None,
                error,
                retry_at: retry(),
            },
        };
        FinishedAttempt {
            tenant_id: due.tenant_id,
            id: due.delivery.id,
            attempts,
            outcome,
        }
    }

    /// Deletes what retention allows (see [`super::WebhookPolicy::retention`]): finished
    /// deliveries and outbox rows every consumer has passed, older than the period. How
    /// many rows.
    pub async fn prune(&self) -> Result<u64> {
        let before = self.clock.now() - self.policy.retention;
        let mut pruned = 0;
        loop {
            let n = self.storage.prune_events(before, PRUNE_BATCH).await?;
            pruned += n;
            if n < u64::from(PRUNE_BATCH) {
                return Ok(pruned);
            }
        }
    }

    /// Runs rounds in a task until [`DispatcherHandle::stop`] (dropping the handle leaves it
    /// running): a round right after a busy one, otherwise every `poll_interval`; prunes
    /// every 10 minutes.
    pub fn spawn(self, poll_interval: Duration) -> DispatcherHandle {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut last_prune: Option<tokio::time::Instant> = None;
            loop {
                if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                    if let Err(error) = self.prune().await {
                        tracing::warn!(%error, "pruning the outbox failed");
                    }
                    last_prune = Some(tokio::time::Instant::now());
                }
                let idle = match self.run_once().await {
                    Ok(report) => report.events == 0 && report.attempts == 0,
                    Err(error) => {
                        tracing::warn!(%error, "a webhook round failed");
                        true
                    }
                };
                if *stopped.borrow() {
                    break;
                }
                if idle && super::pause::pause(&mut stopped, poll_interval).await {
                    break;
                }
            }
        });
        DispatcherHandle { stop, task }
    }
}

/// A running dispatcher (see [`WebhookDispatcher::spawn`]).
#[derive(Debug)]
pub struct DispatcherHandle {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl DispatcherHandle {
    /// Stops after the round in hand and waits for the task to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
