-- 0008_workflow_announce: the announcement of a newly queued workflow job in
-- one statement (see announce() in modules/workflow/api.c).
--
-- The job row itself is committed (and flushed) first, by the enqueue's own
-- statement.  This function then writes the workflow:phase:queued event and
-- wakes the workers, in a transaction that commits asynchronously: a NOTIFYing
-- transaction holds a database-wide lock until its commit record is flushed,
-- and not waiting for that flush is what lets enqueues share fsyncs instead of
-- taking turns.  A crash can lose this announcement (never the job): the
-- stream then misses one "queued" event and a worker's poll finds the job.
create function workflow_announce(p_user uuid, p_job bigint, p_phase smallint) returns void
language plpgsql as $$
begin
  perform set_config('synchronous_commit', 'off', true);
  insert into import_events (user_id, import_id, event_type, payload)
    values (p_user, null, 'workflow:phase:queued', jsonb_build_object('jobId', p_job, 'phase', p_phase));
  perform pg_notify('workflow_jobs', p_job::text);
end
$$;
