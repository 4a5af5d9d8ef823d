-- Webhook endpoints (SPEC §13) with their signing secrets (needed in clear to sign), and one
-- delivery per event and endpoint.
CREATE TABLE webhook_endpoints (
    tenant_id  text NOT NULL,
    id         uuid NOT NULL UNIQUE,
    url        text NOT NULL,
    -- Event kinds; empty: every kind.
    kinds      text[] NOT NULL,
    enabled    boolean NOT NULL,
    secret     text NOT NULL,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    -- The tenant's last outbox id at creation: later events are delivered.
    since_event_id bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id       text NOT NULL,
    id              uuid NOT NULL,
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The event's per-tenant outbox id.
    event_id        bigint NOT NULL,
    kind            text NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL,
    next_attempt_at timestamptz,
    last_attempt_at timestamptz,
    response_status integer,
    error           text,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
-- The outbox keeps an event while a delivery of it is pending.
CREATE INDEX webhook_deliveries_pending_events ON webhook_deliveries (tenant_id, event_id)
    WHERE status = 'pending';
