//! Webhook endpoints (SPEC §13), managed by holders of `webhook.manage`. An endpoint receives
//! every change in its tenant it asks for, so managing one also requires `user.view` and
//! every registered permission (the actor outranks every user), and is never done from an
//! impersonation session. Audit diffs show an endpoint's URL as its origin only (paths and
//! queries often carry tokens).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::access::Actor;
use super::audit::event;
use super::core::UserService;
use crate::error::{Error, Result, StorageError};
use crate::events::{WEBHOOK_SECRET_PREFIX, check_webhook_url};
use crate::model::{
    AuditAction, AuditTargetKind, FieldChange, Permission, SessionToken, WebhookDelivery,
    WebhookEndpoint,
};
use crate::principal::Principal;
use crate::storage::QueuedDelivery;

/// Most endpoints one tenant may have.
pub const MAX_WEBHOOKS: usize = 50;
/// Most deliveries one history request shows.
pub const MAX_DELIVERY_PAGE: u32 = 200;
/// Most events one replay request queues; a longer replay continues from `next_from`.
pub const MAX_REPLAY_EVENTS: u32 = 1000;

/// A new endpoint.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where deliveries are POSTed: `https://` on a public address (the server's webhook
    /// policy may allow `http://` and private addresses), at most 2000 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub url: String,
    /// The kinds delivered; empty or absent: every kind.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub kinds: Vec<AuditAction>,
    /// Whether it receives events (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A change to an endpoint: absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    /// New URL (same rules as on creation).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub url: Option<String>,
    /// New kinds (empty: every kind).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub kinds: Option<Vec<AuditAction>>,
    /// Enable or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// An endpoint just created, with its signing secret: shown this once (and never in
/// `Debug` output).
#[derive(Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedWebhook {
    /// The stored endpoint.
    pub endpoint: WebhookEndpoint,
    /// The HMAC-SHA256 signing secret (`whsec_…`).
    pub secret: String,
}

impl std::fmt::Debug for IssuedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedWebhook")
            .field("endpoint", &self.endpoint)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// A replay: send again every retained event from an id on.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReplayWebhook {
    /// The first event id (per tenant) to send again.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)
    )]
    #[serde(deserialize_with = "whole_number")]
    pub from_event_id: u64,
}

/// A JSON integer, also written as a float with no fraction (`1419.0`), which JSON Schema
/// counts as an integer; at most 2^53 - 1, where floats are still exact.
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    const MAX: u64 = (1 << 53) - 1;
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(f))
            .map(|f| f as u64)
    });
    match whole {
        Some(n) if n <= MAX => Ok(n),
        _ => Err(serde::de::Error::custom(
            "from_event_id must be a whole number from 1 to 9007199254740991",
        )),
    }
}

/// What a replay queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayOutcome {
    /// Deliveries queued (or put back to pending).
    pub queued: u64,
    /// The first event found at or after `from_event_id` (older events may be pruned).
    pub first_event_id: Option<u64>,
    /// Where to continue when more events remain than one request replays.
    pub next_from: Option<u64>,
}

fn dedupe(kinds: Vec<AuditAction>) -> Vec<AuditAction> {
    let mut kinds = kinds;
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

fn change(old: Value, new: Value) -> FieldChange {
    FieldChange { old, new }
}

/// What an audit diff shows of an endpoint URL: its origin, not the path or query (which
/// often carry a token).
fn url_value(url: &str) -> Value {
    match url::Url::parse(url) {
        Ok(parsed) => Value::from(format!("{}/…", parsed.origin().ascii_serialization())),
        Err(_) => Value::from("[redacted]"),
    }
}

fn kinds_value(kinds: &[AuditAction]) -> Value {
    Value::from(kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>())
}

impl UserService {
    /// The actor managing webhooks: holds `webhook.manage` and `user.view`, not impersonated.
    async fn webhook_manager(&self, principal: &Principal, write: bool) -> Result<Actor> {
        let actor = if write {
            self.authorize_write(principal, Permission::WEBHOOK_MANAGE)
                .await?
        } else {
            self.authorize(principal, Permission::WEBHOOK_MANAGE)
                .await?
        };
        actor.require_all([&Permission::USER_VIEW])?;
        // An endpoint receives every change it asks for — notes, grants, credentials of any
        // user — so only an actor who outranks every user may aim one (or replay to it).
        let everything = self.config.permissions.all();
        actor.require_reach(everything.iter())?;
        if write && principal.impersonation().is_some() {
            return Err(Error::Forbidden(Permission::WEBHOOK_MANAGE));
        }
        Ok(actor)
    }

    /// Creates an endpoint; the answer carries its signing secret, shown this once.
    /// Requires `webhook.manage` and `user.view`.
    pub async fn create_webhook(
        &self,
        principal: &Principal,
        input: CreateWebhook,
    ) -> Result<IssuedWebhook> {
        let actor = self.webhook_manager(principal, true).await?;
        let url = check_webhook_url(input.url.trim(), &self.config.webhooks)?;
        let existing = self.storage.list_webhooks(&actor.tenant_id).await?;
        if existing.len() >= MAX_WEBHOOKS {
            return Err(Error::invalid(
                "url",
                format!("a tenant has at most {MAX_WEBHOOKS} webhook endpoints"),
            ));
        }
        let random = SessionToken::generate().map_err(|e| {
            Error::Storage(StorageError::new("drawing a random secret", e.to_string()))
        })?;
        let secret = format!("{WEBHOOK_SECRET_PREFIX}{}", random.expose());
        let now = self.clock.now();
        let endpoint = WebhookEndpoint {
            id: Uuid::now_v7(),
            tenant_id: actor.tenant_id.clone(),
            url: url.to_string(),
            kinds: dedupe(input.kinds),
            enabled: input.enabled,
            created_by: actor.user_id,
            created_at: now,
            updated_at: now,
            since_event_id: 0,
        };
        let changes = BTreeMap::from([
            (
                "url".to_owned(),
                change(Value::Null, url_value(&endpoint.url)),
            ),
            (
                "kinds".to_owned(),
                change(Value::Null, kinds_value(&endpoint.kinds)),
            ),
            (
                "enabled".to_owned(),
                change(Value::Null, Value::from(endpoint.enabled)),
            ),
        ]);
        let audit = event(
            principal,
            AuditTargetKind::Webhook,
            endpoint.id,
            AuditAction::WebhookCreated,
            changes,
            now,
        );
        let mut endpoint = endpoint;
        endpoint.since_event_id = self
            .storage
            .insert_webhook(&endpoint, &secret, audit)
            .await?;
        Ok(IssuedWebhook { endpoint, secret })
    }

    /// The tenant's endpoints, oldest first. Requires `webhook.manage` and `user.view`.
    pub async fn list_webhooks(&self, principal: &Principal) -> Result<Vec<WebhookEndpoint>> {
        let actor = self.webhook_manager(principal, false).await?;
        self.storage.list_webhooks(&actor.tenant_id).await
    }

    /// One endpoint. Requires `webhook.manage` and `user.view`.
    pub async fn get_webhook(&self, principal: &Principal, id: Uuid) -> Result<WebhookEndpoint> {
        let actor = self.webhook_manager(principal, false).await?;
        self.storage
            .get_webhook(&actor.tenant_id, id)
            .await?
            .ok_or(Error::NotFound("webhook"))
    }

    /// Changes an endpoint's URL, kinds or enabled flag. Requires `webhook.manage` and
    /// `user.view`.
    pub async fn update_webhook(
        &self,
        principal: &Principal,
        id: Uuid,
        patch: UpdateWebhook,
    ) -> Result<WebhookEndpoint> {
        let actor = self.webhook_manager(principal, true).await?;
        let old = self
            .storage
            .get_webhook(&actor.tenant_id, id)
            .await?
            .ok_or(Error::NotFound("webhook"))?;
        let mut new = old.clone();
        if let Some(url) = &patch.url {
            new.url = check_webhook_url(url.trim(), &self.config.webhooks)?.to_string();
        }
        if let Some(kinds) = patch.kinds {
            new.kinds = dedupe(kinds);
        }
        if let Some(enabled) = patch.enabled {
            new.enabled = enabled;
        }
        let mut changes = BTreeMap::new();
        if new.url != old.url {
            changes.insert(
                "url".to_owned(),
                change(url_value(&old.url), url_value(&new.url)),
            );
        }
        if new.kinds != old.kinds {
            changes.insert(
                "kinds".to_owned(),
                change(kinds_value(&old.kinds), kinds_value(&new.kinds)),
            );
        }
        if new.enabled != old.enabled {
            changes.insert(
                "enabled".to_owned(),
                change(Value::from(old.enabled), Value::from(new.enabled)),
            );
        }
        if changes.is_empty() {
            return Ok(old);
        }
        let now = self.clock.now();
        new.updated_at = now;
        let audit = event(
            principal,
            AuditTargetKind::Webhook,
            id,
            AuditAction::WebhookUpdated,
            changes,
            now,
        );
        if self.storage.update_webhook(&new, audit).await? {
            Ok(new)
        } else {
            Err(Error::NotFound("webhook"))
        }
    }

    /// Deletes an endpoint and its delivery history. Requires `webhook.manage` and
    /// `user.view`.
    pub async fn delete_webhook(&self, principal: &Principal, id: Uuid) -> Result<()> {
        let actor = self.webhook_manager(principal, true).await?;
        let now = self.clock.now();
        let audit = event(
            principal,
            AuditTargetKind::Webhook,
            id,
            AuditAction::WebhookDeleted,
            BTreeMap::new(),
            now,
        );
        if self
            .storage
            .delete_webhook(&actor.tenant_id, id, audit)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("webhook"))
        }
    }

    /// The newest deliveries of an endpoint (at most 200), newest first. Requires
    /// `webhook.manage` and `user.view`.
    pub async fn webhook_deliveries(
        &self,
        principal: &Principal,
        id: Uuid,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let endpoint = self.get_webhook(principal, id).await?;
        if limit == 0 || limit > MAX_DELIVERY_PAGE {
            return Err(Error::invalid(
                "limit",
                format!("must be 1-{MAX_DELIVERY_PAGE}"),
            ));
        }
        self.storage
            .list_deliveries(&endpoint.tenant_id, id, limit)
            .await
    }

    /// Sends a delivery again (pending, due now, attempts from 0), whatever its state.
    /// Requires `webhook.manage` and `user.view`.
    pub async fn redeliver_webhook(
        &self,
        principal: &Principal,
        id: Uuid,
        delivery: Uuid,
    ) -> Result<()> {
        let actor = self.webhook_manager(principal, true).await?;
        if self
            .storage
            .redeliver(&actor.tenant_id, id, delivery, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("delivery"))
        }
    }

    /// Queues every retained event from `from_event_id` on that the endpoint wants (at most
    /// 1000 per request) for delivery again. Requires `webhook.manage` and `user.view`.
    pub async fn replay_webhook(
        &self,
        principal: &Principal,
        id: Uuid,
        input: ReplayWebhook,
    ) -> Result<ReplayOutcome> {
        let actor = self.webhook_manager(principal, true).await?;
        if input.from_event_id == 0 {
            return Err(Error::invalid("from_event_id", "must be at least 1"));
        }
        let endpoint = self
            .storage
            .get_webhook(&actor.tenant_id, id)
            .await?
            .ok_or(Error::NotFound("webhook"))?;
        let batch = self
            .storage
            .read_events(
                &actor.tenant_id,
                input.from_event_id - 1,
                0,
                1,
                MAX_REPLAY_EVENTS,
            )
            .await?;
        let full = batch.events.len() >= usize::try_from(MAX_REPLAY_EVENTS).unwrap_or(usize::MAX);
        let rows: Vec<QueuedDelivery> = batch
            .events
            .iter()
            .filter(|e| endpoint.wants(e.kind()))
            .map(|e| (endpoint.id, e.id, e.kind()))
            .collect();
        let queued = if rows.is_empty() {
            0
        } else {
            self.storage
                .queue_deliveries(&actor.tenant_id, &rows, true, self.clock.now())
                .await?
        };
        Ok(ReplayOutcome {
            queued,
            first_event_id: batch.events.first().map(|e| e.id),
            next_from: full
                .then(|| batch.events.last().map(|e| e.id.saturating_add(1)))
                .flatten(),
        })
    }
}
