-- 0015_jobs_claim_cost: one index fewer on every claim and completion of a job.
--
-- jobs_locked_by_idx (0010) served the heartbeat's "every running job of this owner";
-- the heartbeat now extends only the jobs in hand, by id, and every finishing statement
-- finds its job by id, so nothing reads the index any more, while every claim (the row
-- becomes running) and every completion paid to maintain it.
drop index if exists jobs_locked_by_idx;
