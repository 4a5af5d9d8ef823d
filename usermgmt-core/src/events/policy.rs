//! How webhooks are delivered and how long the outbox keeps events.

use std::time::Duration;

/// Webhook delivery settings (part of [`crate::ServiceConfig`]).
#[derive(Debug, Clone)]
pub struct WebhookPolicy {
    /// Accept endpoints on loopback, private, link-local and other non-public addresses
    /// (default false: webhooks cannot be aimed at the internal network). Checked when an
    /// endpoint is saved and again, on every resolved address, when a delivery is sent.
    pub allow_private_networks: bool,
    /// Accept `http://` endpoints (default false: HTTPS only).
    pub allow_plain_http: bool,
    /// Attempts before a delivery is dead (default 8).
    pub max_attempts: u32,
    /// The delay before the first retry (default 10 s); it doubles per attempt, up to
    /// `max_retry_delay`, and each delay is drawn between half and all of that (jitter).
    pub first_retry_delay: Duration,
    /// The longest delay between attempts (default 1 hour).
    pub max_retry_delay: Duration,
    /// How long one attempt may take, connection included (default 10 s).
    pub timeout: Duration,
    /// Attempts in flight at once per dispatcher (default 16).
    pub concurrency: usize,
    /// How long the outbox keeps events every consumer has passed, and finished deliveries
    /// (default 7 days); the audit log stays the long-term record.
    pub retention: chrono::Duration,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        Self {
            allow_private_networks: false,
            allow_plain_http: false,
            max_attempts: 8,
            first_retry_delay: Duration::from_secs(10),
            max_retry_delay: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            concurrency: 16,
            retention: chrono::Duration::days(7),
        }
    }
}

impl WebhookPolicy {
    /// The delay before attempt `attempts + 1`, given a uniform draw `unit` in `[0, 1)`:
    /// `first_retry_delay · 2^(attempts-1)`, at most `max_retry_delay`, scaled into
    /// `[½, 1)` of itself.
    pub fn retry_delay(&self, attempts: u32, unit: f64) -> Duration {
        let doubled = self
            .first_retry_delay
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(30)));
        let capped = doubled.min(self.max_retry_delay);
        capped.mul_f64(0.5 + unit.clamp(0.0, 1.0) / 2.0)
    }
}
