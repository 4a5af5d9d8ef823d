-- The outbox (SPEC §13). Every audit event is announced by the statement that writes it, so in
-- its transaction: an outbox row names the audit event under a per-tenant id that counts up
-- without gaps in commit order (SQLite has one writer at a time).
CREATE TABLE outbox_counters (
    tenant_id TEXT PRIMARY KEY,
    last      INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE outbox_events (
    tenant_id  TEXT NOT NULL,
    id         INTEGER NOT NULL,
    -- audit_events.id: the event's content (the audit log is never pruned).
    event_id   BLOB NOT NULL,
    -- The low four bits of the target id's last byte: events of one user share a shard.
    shard      INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

CREATE TRIGGER audit_events_announce AFTER INSERT ON audit_events BEGIN
    INSERT INTO outbox_counters (tenant_id, last) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET last = last + 1;
    INSERT INTO outbox_events (tenant_id, id, event_id, shard, created_at)
        SELECT NEW.tenant_id, last, NEW.id,
               instr('0123456789ABCDEF', substr(hex(NEW.target_id), 32, 1)) - 1, NEW.created_at
        FROM outbox_counters WHERE tenant_id = NEW.tenant_id;
END;

-- Named consumers of the outbox and their positions, one per tenant and partition.
CREATE TABLE event_consumers (
    name       TEXT PRIMARY KEY,
    -- NULL: every tenant.
    tenant_id  TEXT,
    partitions INTEGER NOT NULL,
    -- Where a tenant's cursor starts when the consumer is registered: 0 or the tenant's last id.
    from_latest INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE event_cursors (
    consumer    TEXT NOT NULL REFERENCES event_consumers (name) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    part        INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    -- Who holds the cursor and until when; with no owner, `lease_until` is a retry time.
    lease_owner TEXT,
    lease_until INTEGER,
    claimed_at  INTEGER,
    PRIMARY KEY (consumer, tenant_id, part)
) WITHOUT ROWID;
