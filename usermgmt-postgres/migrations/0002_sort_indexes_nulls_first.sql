-- Absent emails and last logins sort lowest (first ascending, last descending), as in the
-- reference model: index them NULLS FIRST so both directions are plain index scans.
DROP INDEX users_by_email;
DROP INDEX users_by_last_login;
CREATE INDEX users_by_email      ON users (tenant_id, email NULLS FIRST, id);
CREATE INDEX users_by_last_login ON users (tenant_id, last_login_at NULLS FIRST, id);
