-- 0029_jobs_dead: the index GET /metrics counts dead jobs per task with
-- (smartimport_jobs_dead{task}, modules/metrics).  Partial: only the dead rows, which are few
-- (a job dies after max_attempts failures; retention.purge deletes finished ones after
-- SMARTIMPORT_RETAIN_JOBS_DAYS), so it costs nothing on the hot path of queued and running
-- jobs, and the scrape's count is an index-only scan instead of a scan of every job.
-- On a large installation create it first by hand with CREATE INDEX CONCURRENTLY (same name);
-- the migration then skips it.
create index if not exists jobs_dead_idx on jobs (task) where state = 'dead';
