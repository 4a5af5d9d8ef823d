//! Protection of the public login route: a bound on concurrent password hashing, a per-client
//! attempt throttle, and a lock for unknown identifiers that mirrors the account lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{Error, Result};
use crate::model::TenantId;
use crate::password::{HashMemory, PasswordPolicy};

/// How concurrent password hashing and login attempts are bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Memory the argon2 work of concurrent hashes and verifications may use at once (default
    /// 256 MiB: 13 at the default 19 MiB cost). Further ones wait.
    pub hashing_memory_mib: u32,
    /// Longest wait for a hashing slot before answering [`Error::Busy`] (default 10 s).
    pub hashing_wait: StdDuration,
    /// Login attempts one client address may make in a burst (default 20).
    pub client_burst: u32,
    /// Then one more every this long (default 3 s, i.e. 20 a minute).
    pub client_refill: StdDuration,
    /// Most unknown identifiers whose failures are remembered (default 100,000).
    pub max_tracked_identifiers: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            hashing_memory_mib: 256,
            hashing_wait: StdDuration::from_secs(10),
            client_burst: 20,
            client_refill: StdDuration::from_secs(3),
            max_tracked_identifiers: 100_000,
        }
    }
}

/// The key a client address is counted under: IPv4 as is, IPv6 by its /64 (one subscriber's
/// network), so rotating addresses within it gains nothing.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
        v4 => v4,
    }
}

/// The failure state of an identifier no account answers to.
#[derive(Debug, Clone, Copy)]
struct Shadow {
    attempts: u32,
    locked_until: Option<DateTime<Utc>>,
    last_failure: DateTime<Utc>,
}

/// Per-service login protection state.
pub(crate) struct LoginGuard {
    hashing: Semaphore,
    hashing_wait: StdDuration,
    /// argon2 working memory, one buffer per slot in use: allocated once, then reused, so
    /// the memory hashing takes is bounded by the slots (freed 19 MiB blocks scattered over
    /// many threads' allocator arenas are otherwise kept, and grew without bound).
    memory: Mutex<Vec<HashMemory>>,
    /// Blocks a returned buffer keeps: what the policy's own hashes use.
    blocks_kept: usize,
    clients: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// When the client limiter last dropped idle keys.
    pruned: Mutex<std::time::Instant>,
    unknown: Mutex<HashMap<(TenantId, String), Shadow>>,
    max_unknown: usize,
    /// When each user last had a requested password reset sent.
    requested: Mutex<HashMap<(uuid::Uuid, crate::model::TokenKind), std::time::Instant>>,
}

/// Requested messages (password resets, verifications) of one kind for one user are sent at
/// most this often.
const RESET_INTERVAL: StdDuration = StdDuration::from_secs(60);

impl LoginGuard {
    pub(crate) fn new(policy: &ThrottlePolicy, password: &PasswordPolicy) -> Self {
        let per_hash_mib = (password.memory_kib / 1024).max(1);
        let permits = (policy.hashing_memory_mib / per_hash_mib).max(1) as usize;
        let clients = NonZeroU32::new(policy.client_burst)
            .zip(Quota::with_period(policy.client_refill))
            .map(|(burst, quota)| DefaultKeyedRateLimiter::keyed(quota.allow_burst(burst)));
        Self {
            hashing: Semaphore::new(permits),
            hashing_wait: policy.hashing_wait,
            memory: Mutex::new(Vec::new()),
            blocks_kept: usize::try_from(password.memory_kib).unwrap_or(usize::MAX),
            clients,
            pruned: Mutex::new(std::time::Instant::now()),
            unknown: Mutex::new(HashMap::new()),
            max_unknown: policy.max_tracked_identifiers,
            requested: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a requested message of `kind` may be sent to `user` now (at most one per
    /// [`RESET_INTERVAL`]); counts it when so.
    pub(crate) fn admit_message(&self, user: &uuid::Uuid, kind: crate::model::TokenKind) -> bool {
        let Ok(mut sent) = self.requested.lock() else {
            return false;
        };
        let now = std::time::Instant::now();
        if sent.len() >= self.max_unknown {
            sent.retain(|_, at| now.duration_since(*at) < RESET_INTERVAL);
        }
        match sent.get(&(*user, kind)) {
            Some(at) if now.duration_since(*at) < RESET_INTERVAL => false,
            _ => {
                sent.insert((*user, kind), now);
                true
            }
        }
    }

    /// How many hashes may run at once.
    pub(crate) fn hashing_slots(&self) -> usize {
        self.hashing.available_permits()
    }

    /// A slot for one argon2 hash or verification, or [`Error::Busy`] after the wait.
    pub(crate) async fn hashing_slot(&self) -> Result<SemaphorePermit<'_>> {
        let busy = || Error::Busy {
            retry_after: StdDuration::from_secs(1),
        };
        match tokio::time::timeout(self.hashing_wait, self.hashing.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy()),
        }
    }

    /// A working-memory buffer for a hash (hold a slot while using it).
    pub(crate) fn take_memory(&self) -> HashMemory {
        self.memory
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_default()
    }

    /// Gives a buffer back for the next hash.
    pub(crate) fn return_memory(&self, mut memory: HashMemory) {
        memory.trim_to(self.blocks_kept);
        if let Ok(mut pool) = self.memory.lock() {
            pool.push(memory);
        }
    }

    /// Counts a login attempt from `client`; [`Error::TooManyRequests`] past its budget.
    pub(crate) fn admit_client(&self, client: Option<IpAddr>) -> Result<()> {
        let (Some(limiter), Some(ip)) = (&self.clients, client) else {
            return Ok(());
        };
        // Idle keys are dropped at most once a minute (a scan of the map).
        if let Ok(mut pruned) = self.pruned.lock()
            && pruned.elapsed() >= StdDuration::from_secs(60)
        {
            limiter.retain_recent();
            *pruned = std::time::Instant::now();
        }
        limiter.check_key(&client_key(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Error::TooManyRequests {
                retry_after: wait.max(StdDuration::from_secs(1)),
            }
        })
    }

    /// When the unknown identifier is locked, until when.
    pub(crate) fn unknown_locked_until(
        &self,
        key: &(TenantId, String),
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let map = self.unknown.lock().ok()?;
        map.get(key)
            .and_then(|s| s.locked_until)
            .filter(|until| *until > now)
    }

    /// Records a failure for an unknown identifier exactly as the account lock would; returns
    /// the lock end when this failure reaches the limit.
    pub(crate) fn unknown_failed(
        &self,
        key: (TenantId, String),
        now: DateTime<Utc>,
        max_attempts: u32,
        lock: chrono::Duration,
    ) -> Option<DateTime<Utc>> {
        let mut map = self.unknown.lock().ok()?;
        if map.len() >= self.max_unknown && !map.contains_key(&key) {
            // Forget identifiers neither locked nor failing recently; when that is not enough,
            // the older half (by last failure), so the map stays bounded and keeps counting.
            map.retain(|_, s| {
                s.locked_until.is_some_and(|u| u > now) || now - s.last_failure < lock
            });
            if map.len() >= self.max_unknown {
                let mut times: Vec<DateTime<Utc>> = map.values().map(|s| s.last_failure).collect();
                times.sort_unstable();
                if let Some(cut) = times.get(times.len() / 2).copied() {
                    map.retain(|_, s| s.last_failure > cut);
                }
            }
        }
        let shadow = map.entry(key).or_insert(Shadow {
            attempts: 0,
            locked_until: None,
            last_failure: now,
        });
        if shadow.locked_until.is_some_and(|until| until <= now) {
            // A lock that ran out starts a fresh count, as the account lock does.
            shadow.attempts = 0;
            shadow.locked_until = None;
        }
        shadow.attempts = shadow.attempts.saturating_add(1);
        shadow.last_failure = now;
        if shadow.attempts >= max_attempts {
            shadow.locked_until = Some(now + lock);
        }
        shadow.locked_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_slots_follow_the_memory_budget() {
        let policy = ThrottlePolicy::default();
        let guard = LoginGuard::new(&policy, &PasswordPolicy::default());
        assert_eq!(guard.hashing_slots(), 13, "256 MiB / 19 MiB");
        let tiny = LoginGuard::new(
            &ThrottlePolicy {
                hashing_memory_mib: 1,
                ..policy
            },
            &PasswordPolicy::default(),
        );
        assert_eq!(tiny.hashing_slots(), 1, "always at least one");
    }

    #[tokio::test]
    async fn a_full_hashing_gate_answers_busy() {
        let policy = ThrottlePolicy {
            hashing_memory_mib: 1,
            hashing_wait: StdDuration::from_millis(20),
            ..ThrottlePolicy::default()
        };
        let guard = LoginGuard::new(&policy, &PasswordPolicy::default());
        let held = guard.hashing_slot().await;
        assert!(held.is_ok());
        assert!(matches!(
            guard.hashing_slot().await,
            Err(Error::Busy { .. })
        ));
        drop(held);
        assert!(guard.hashing_slot().await.is_ok());
    }
}
