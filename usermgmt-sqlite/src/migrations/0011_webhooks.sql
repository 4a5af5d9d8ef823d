-- Webhook endpoints (SPEC §13) with their signing secrets (needed in clear to sign), and one
-- delivery per event and endpoint.
CREATE TABLE webhook_endpoints (
    id         BLOB PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    url        TEXT NOT NULL,
    -- JSON array of event kinds; empty: every kind.
    kinds      TEXT NOT NULL,
    enabled    INTEGER NOT NULL,
    secret     TEXT NOT NULL,
    created_by BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- The tenant's last outbox id at creation: later events are delivered.
    since_event_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id, created_at);

CREATE TABLE webhook_deliveries (
    id              BLOB PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    endpoint_id     BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The event's per-tenant outbox id.
    event_id        INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER,
    last_attempt_at INTEGER,
    response_status INTEGER,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
-- The outbox keeps an event while a delivery of it is pending.
CREATE INDEX webhook_deliveries_pending_events ON webhook_deliveries (tenant_id, event_id)
    WHERE status = 'pending';
