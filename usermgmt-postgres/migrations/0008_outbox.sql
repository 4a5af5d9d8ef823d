-- The outbox (SPEC §13). Every audit event is announced by the statement that writes it, so in
-- its transaction: an outbox row names the audit event under a per-tenant id. The counter row
-- stays locked until the writing transaction ends, so ids count up without gaps in commit
-- order: a reader that sees id n sees every id below it.
CREATE TABLE outbox_counters (
    tenant_id text PRIMARY KEY,
    last      bigint NOT NULL
);

CREATE TABLE outbox_events (
    tenant_id  text NOT NULL,
    id         bigint NOT NULL,
    -- audit_events.id: the event's content (the audit log is never pruned).
    event_id   uuid NOT NULL,
    -- The low four bits of the target id's last byte: events of one user share a shard.
    shard      smallint NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE FUNCTION usermgmt_announce_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text;
    n bigint;
    top bigint;
BEGIN
    FOR t, n IN SELECT w.tenant_id, count(*) FROM written w GROUP BY w.tenant_id ORDER BY w.tenant_id LOOP
        INSERT INTO outbox_counters AS c (tenant_id, last) VALUES (t, n)
            ON CONFLICT (tenant_id) DO UPDATE SET last = c.last + EXCLUDED.last
            RETURNING c.last INTO top;
        INSERT INTO outbox_events (tenant_id, id, event_id, shard, created_at)
            SELECT t, top - n + row_number() OVER (ORDER BY w.seq), w.id,
                   get_byte(uuid_send(w.target_id), 15) & 15, w.created_at
            FROM written w WHERE w.tenant_id = t;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER audit_events_announce AFTER INSERT ON audit_events
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION usermgmt_announce_audit();

-- Named consumers of the outbox and their positions, one per tenant and partition.
CREATE TABLE event_consumers (
    name        text PRIMARY KEY,
    -- NULL: every tenant.
    tenant_id   text,
    partitions  smallint NOT NULL,
    -- Where a tenant's cursor starts when the consumer is registered: 0 or the tenant's last id.
    from_latest boolean NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE event_cursors (
    consumer    text NOT NULL REFERENCES event_consumers (name) ON DELETE CASCADE,
    tenant_id   text NOT NULL,
    part        smallint NOT NULL,
    position    bigint NOT NULL,
    -- Who holds the cursor and until when; with no owner, `lease_until` is a retry time.
    lease_owner text,
    lease_until timestamptz,
    claimed_at  timestamptz,
    PRIMARY KEY (consumer, tenant_id, part)
);
