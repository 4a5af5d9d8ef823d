-- An administrator's impersonation sessions end when they log out: find them by impersonator.
CREATE INDEX sessions_by_impersonator ON sessions (tenant_id, impersonator_id)
    WHERE impersonator_id IS NOT NULL;
