//! What retention deletes: finished deliveries, then outbox rows nobody needs.

/// Delivered and dead deliveries queued before `?1`, at most `?2`.
pub(crate) const PRUNE_DELIVERIES: &str = "DELETE FROM webhook_deliveries WHERE id IN ( \
     SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND created_at < ?1 LIMIT ?2)";

/// Outbox rows created before `?1` that every cursor of their tenant has passed and no
/// pending delivery needs, at most `?2`.
pub(crate) const PRUNE: &str = "DELETE FROM outbox_events WHERE (tenant_id, id) IN ( \
     SELECT o.tenant_id, o.id FROM outbox_events o WHERE o.created_at < ?1 \
     AND o.id <= COALESCE((SELECT min(e.position) FROM event_cursors e WHERE e.tenant_id = o.tenant_id), o.id) \
     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.tenant_id = o.tenant_id \
                     AND d.event_id = o.id AND d.status = 'pending') \
     LIMIT ?2)";
