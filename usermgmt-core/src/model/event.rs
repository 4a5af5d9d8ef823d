//! Change events: what the outbox announces (SPEC §13).

use serde::Serialize;
use uuid::Uuid;

use super::audit::{AuditAction, AuditEvent, AuditTargetKind};

/// One announced change: an audit event under its per-tenant outbox id.
///
/// Every change that writes an audit event writes its outbox row in the same transaction, so
/// an event exists exactly when its change committed. Ids count up from 1 in each tenant,
/// without gaps, in commit order. The diff carries no secrets (see [`super::REDACTED`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The per-tenant outbox id.
    pub id: u64,
    /// What changed, who changed it and when (`audit.id` is the event's UUID).
    pub audit: AuditEvent,
}

impl Event {
    /// What happened.
    pub fn kind(&self) -> AuditAction {
        self.audit.action
    }

    /// The user the event is about, when it is about a user.
    pub fn user_id(&self) -> Option<Uuid> {
        (self.audit.target_kind == AuditTargetKind::User).then_some(self.audit.target_id)
    }
}

/// Which of the 16 shards of its tenant's events an event about `target` falls in: the low
/// four bits of the id's last byte, as the backends' outbox triggers compute it. Events
/// about one entity share a shard, so a consumer partition that owns the shard sees them in
/// order.
pub fn event_shard(target: Uuid) -> u8 {
    target.as_bytes()[15] & 0x0f
}

/// How many shards the outbox spreads a tenant's events over; a consumer has at most this
/// many partitions.
pub const EVENT_SHARDS: u8 = 16;
