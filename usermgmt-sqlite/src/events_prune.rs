//! Which outbox rows retention deletes.

/// Outbox rows created before `?1` that every cursor of their tenant has passed, at most `?2`.
pub(crate) const PRUNE: &str = "DELETE FROM outbox_events WHERE (tenant_id, id) IN ( \
     SELECT o.tenant_id, o.id FROM outbox_events o WHERE o.created_at < ?1 \
     AND o.id <= COALESCE((SELECT min(e.position) FROM event_cursors e WHERE e.tenant_id = o.tenant_id), o.id) \
     LIMIT ?2)";
