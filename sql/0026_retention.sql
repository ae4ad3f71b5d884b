-- 0026_retention: the indexes the task retention.purge (modules/retention) needs.
--
-- Deleting a job cascades (ON DELETE CASCADE, 0010) to job_audit and the workflow's effect
-- tables.  Four of those had no index on job_id, so each deleted job cost a sequential scan of
-- each of them (the cascade's per-row lookup), and the purge's check that no workflow effect
-- still points at a job (such a job is kept: the cascade would take the effect with it) too.
-- The workflow writes one row to one of these tables per phase job: one index entry more.
--
-- The purge finds old parsed imports and the ones it is expiring through two partial indexes
-- that hold only those few rows (an import is parsed from its upload to its commit).
--
-- Plain CREATE INDEX: CONCURRENTLY cannot run inside the migration's transaction
-- (scripts/migrate runs each file in one).  Each build blocks writes to its table while it
-- reads it: the workflow tables and imports are small next to the staged rows, jobs and events
-- (which get no index here).  On a large installation create them first by hand with
-- CREATE INDEX CONCURRENTLY and the same names: IF NOT EXISTS then skips them here.
create index if not exists workflow_connections_job_idx on workflow_connections (job_id);
create index if not exists workflow_claim_routes_job_idx on workflow_claim_routes (job_id);
create index if not exists workflow_payout_monitors_job_idx on workflow_payout_monitors (job_id);
create index if not exists workflow_payouts_job_idx on workflow_payouts (job_id);
create index if not exists imports_parsed_created_idx on imports (created_at) where status = 'parsed';
create index if not exists imports_expiring_idx on imports (id) where failure_reason = 'expiring';
