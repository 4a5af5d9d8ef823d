-- Audit events are announced in sets (issue 21): the library writes the outbox rows of the
-- events a statement group wrote with two statements per tenant (`audit.rs`, the one place
-- that writes `audit_events`), in the same transaction, with the same numbering: per tenant,
-- from the counter, without gaps. The row trigger cost a counter upsert and an insert per
-- event (0.2 s of a 10,000-user bulk delete). A raw `INSERT INTO audit_events` from outside
-- the library is no longer announced.
DROP TRIGGER audit_events_announce;
