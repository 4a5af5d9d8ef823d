-- The outbox takes its ids at commit (SPEC §13). Migration 8 numbered an audit event's outbox
-- row in the statement that wrote it, so the tenant's counter row was locked from a
-- transaction's first audit write to its end; a transaction that then locked another user (an
-- import's upsert, a group change) could deadlock with a single-user edit of that user, which
-- locks the user first and the counter second. Now the statement only stages its events; a
-- deferred trigger, fired once per transaction at commit, after every row lock the
-- transaction takes, numbers them under the counter (tenants in order) and moves them to
-- `outbox_events`. Ids still count up without gaps in commit order.

-- Staged events never outlive their transaction, so nothing here needs the write-ahead log.
CREATE UNLOGGED TABLE outbox_staged (
    tenant_id  text NOT NULL,
    seq        bigint NOT NULL,
    event_id   uuid NOT NULL,
    shard      smallint NOT NULL,
    created_at timestamptz NOT NULL
);

-- One row per transaction with staged events: its insert queues the commit-time trigger once.
CREATE UNLOGGED TABLE outbox_pending (
    txid bigint PRIMARY KEY
);

CREATE OR REPLACE FUNCTION usermgmt_announce_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_staged (tenant_id, seq, event_id, shard, created_at)
        SELECT w.tenant_id, w.seq, w.id, get_byte(uuid_send(w.target_id), 15) & 15, w.created_at
        FROM written w;
    INSERT INTO outbox_pending (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION usermgmt_number_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t text;
    n bigint;
    top bigint;
BEGIN
    -- Only this transaction's rows are visible: every other transaction removes its own
    -- before it commits.
    FOR t, n IN SELECT s.tenant_id, count(*) FROM outbox_staged s GROUP BY s.tenant_id ORDER BY s.tenant_id LOOP
        INSERT INTO outbox_counters AS c (tenant_id, last) VALUES (t, n)
            ON CONFLICT (tenant_id) DO UPDATE SET last = c.last + EXCLUDED.last
            RETURNING c.last INTO top;
        INSERT INTO outbox_events (tenant_id, id, event_id, shard, created_at)
            SELECT t, top - n + row_number() OVER (ORDER BY s.seq), s.event_id, s.shard, s.created_at
            FROM outbox_staged s WHERE s.tenant_id = t;
    END LOOP;
    DELETE FROM outbox_staged;
    DELETE FROM outbox_pending WHERE txid = NEW.txid;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER outbox_number_at_commit AFTER INSERT ON outbox_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION usermgmt_number_outbox();
