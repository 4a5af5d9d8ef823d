-- Index-only statistics: the one-pass counts read this narrow covering index instead of the
-- table, and period counts use range scans on registration, last login and deletion times.
CREATE INDEX users_stats ON users (
    tenant_id, status, is_admin, is_instructor, is_learner, email_verified, phone_verified, created_at
);
CREATE INDEX users_by_deleted ON users (tenant_id, deleted_at) WHERE deleted_at IS NOT NULL;
