-- 0010_jobs: one general job table for every background task (modules/jobs), the
-- workflow's seven phases being the first tasks (workflow.phase1 .. workflow.phase7).
--
-- jobs replaces workflow_jobs, job_audit replaces workflow_audit; their rows move over
-- with their ids, so a workflow job id a client holds still finds its job.
--
-- run_at is "when this row may next be claimed": for a queued job its scheduled start,
-- for a failed one (retry scheduled) the end of its backoff, for a running one the end
-- of its lease (= locked_until), so one index serves every claim, expired leases
-- included.  A job with a job_key is unique per (task, job_key, user_id): the key names
-- one job for good (enqueue again: `keep` returns it, `replace` changes it while it is
-- still queued).  A job with a queue, of a task the worker registered as serial, runs
-- only while it holds its lane's row in job_queues: one job of a lane at a time.
-- job_audit has one row per state change.  user_id is the owner (NULL for system jobs);
-- everything a user can read is filtered by it.

create table jobs (
  id            bigint generated always as identity primary key,
  task          text not null check (task ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$' and length(task) <= 100),
  queue         text null check (queue is null or length(queue) between 1 and 200),
  payload       jsonb not null default '{}'::jsonb,
  user_id       uuid null,
  job_key       text null check (job_key is null or length(job_key) between 1 and 200),
  priority      smallint not null default 0,          -- lower runs first
  state         text not null default 'queued'
                check (state in ('queued', 'running', 'succeeded', 'failed', 'dead')),
  attempts      integer not null default 0 check (attempts >= 0),
  max_attempts  integer not null default 5 check (max_attempts between 1 and 1000),
  run_at        timestamptz not null default now(),
  locked_by     text null,
  locked_until  timestamptz null,
  result        jsonb null,
  error         text null,
  created_at    timestamptz not null default now(),
  started_at    timestamptz null,
  finished_at   timestamptz null
);

-- The claim: the first runnable row, by priority then time, among the unfinished ones.
create index jobs_runnable_idx on jobs (priority, run_at, id) where state in ('queued', 'failed', 'running');
create unique index jobs_key_idx on jobs (task, job_key, user_id) nulls not distinct where job_key is not null;
create index jobs_user_idx on jobs (user_id, task, state);
create index jobs_finished_idx on jobs (user_id, finished_at) where finished_at is not null;
create index jobs_locked_by_idx on jobs (locked_by) where state = 'running';

create table job_audit (
  id           bigint generated always as identity primary key,
  job_id       bigint not null references jobs (id) on delete cascade,
  user_id      uuid null,
  task         text not null,
  from_state   text null,
  to_state     text not null,
  attempt      integer not null default 0,
  worker       text null,
  duration_ms  double precision null,
  error        text null,
  at           timestamptz not null default now()
);
create index job_audit_job_idx on job_audit (job_id, id);
create index job_audit_user_idx on job_audit (user_id, at);

-- A serial lane: held by one worker (locked_by) while one of its jobs runs.
create table job_queues (
  queue         text primary key,
  locked_by     text null,
  locked_until  timestamptz null
);
create index job_queues_locked_by_idx on job_queues (locked_by) where locked_by is not null;

create function jobs_queue_row() returns trigger language plpgsql as $$
begin
  insert into job_queues (queue) values (new.queue) on conflict do nothing;
  return null;
end
$$;
create trigger jobs_queue_row after insert or update of queue on jobs
  for each row when (new.queue is not null) execute function jobs_queue_row();

-- ---- the workflow's rows move over --------------------------------------------------------
insert into jobs (id, task, payload, user_id, job_key, state, attempts, max_attempts, run_at,
                  locked_by, locked_until, result, error, created_at, started_at, finished_at)
  overriding system value
  select id, 'workflow.phase' || phase, payload, user_id, sync_id,
         case status when 'completed' then 'succeeded' else status end,
         attempts, max_attempts, run_after, lease_owner, lease_until, result, error,
         created_at, started_at, finished_at
  from workflow_jobs;
select setval(pg_get_serial_sequence('jobs', 'id'), coalesce((select max(id) from jobs), 0) + 1, false);

insert into job_audit (id, job_id, user_id, task, from_state, to_state, attempt, worker, duration_ms, error, at)
  overriding system value
  select id, job_id, user_id, 'workflow.phase' || phase,
         case from_status when 'completed' then 'succeeded' else from_status end,
         case to_status when 'completed' then 'succeeded' else to_status end,
         attempt, worker, duration_ms, error, at
  from workflow_audit;
select setval(pg_get_serial_sequence('job_audit', 'id'), coalesce((select max(id) from job_audit), 0) + 1, false);

-- The phases' effect tables now point at jobs (same ids).
alter table workflow_triggers drop constraint workflow_triggers_job_id_fkey,
  add constraint workflow_triggers_job_id_fkey foreign key (job_id) references jobs (id) on delete cascade;
alter table workflow_connections drop constraint workflow_connections_job_id_fkey,
  add constraint workflow_connections_job_id_fkey foreign key (job_id) references jobs (id) on delete cascade;
alter table workflow_claim_routes drop constraint workflow_claim_routes_job_id_fkey,
  add constraint workflow_claim_routes_job_id_fkey foreign key (job_id) references jobs (id) on delete cascade;
alter table workflow_payout_monitors drop constraint workflow_payout_monitors_job_id_fkey,
  add constraint workflow_payout_monitors_job_id_fkey foreign key (job_id) references jobs (id) on delete cascade;
alter table workflow_rejections drop constraint workflow_rejections_job_id_fkey,
  add constraint workflow_rejections_job_id_fkey foreign key (job_id) references jobs (id) on delete cascade;
alter table workflow_payouts drop constraint workflow_payouts_job_id_fkey,
  add constraint workflow_payouts_job_id_fkey foreign key (job_id) references jobs (id) on delete cascade;

drop table workflow_audit;
drop table workflow_jobs;

-- ---- functions -----------------------------------------------------------------------------

-- Wakes the workers (channel 'jobs') in a transaction that commits asynchronously: a
-- NOTIFYing transaction holds a database-wide lock until its commit record is flushed.
-- Losing a wake-up only delays a job until a worker's next poll.
create function jobs_wake() returns void language plpgsql as $$
begin
  perform set_config('synchronous_commit', 'off', true);
  perform pg_notify('jobs', '');
end
$$;

-- The workflow's announcement (0008) now wakes the general workers.
create or replace function workflow_announce(p_user uuid, p_job bigint, p_phase smallint) returns void
language plpgsql as $$
begin
  perform set_config('synchronous_commit', 'off', true);
  insert into import_events (user_id, import_id, event_type, payload)
    values (p_user, null, 'workflow:phase:queued', jsonb_build_object('jobId', p_job, 'phase', p_phase));
  perform pg_notify('jobs', p_job::text);
end
$$;

-- Enqueue one job in one statement: the row and its audit row (null -> queued).
-- With a job_key the job is unique per (task, job_key, user_id): p_key_mode 'keep' returns
-- the existing job as it is; 'replace' gives a still-queued one the new payload, run_at
-- and priority (a job that started, finished or died is returned unchanged).
-- existing: the job was there before; replaced: it was changed.  p_wake NOTIFYs the
-- workers inside this transaction (simple for scripts; C callers pass false and call
-- jobs_wake() after their commit, see jobs_wake above).
create function jobs_add(p_task text, p_payload jsonb default '{}'::jsonb, p_user uuid default null,
                         p_job_key text default null, p_key_mode text default 'keep',
                         p_queue text default null, p_priority integer default 0,
                         p_run_at timestamptz default null, p_max_attempts integer default 5,
                         p_wake boolean default true)
returns table (id bigint, state text, existing boolean, replaced boolean)
language plpgsql as $$
declare
  v_id bigint;
  v_state text;
begin
  if p_key_mode not in ('keep', 'replace') then
    raise exception 'jobs_add: key mode must be keep or replace' using errcode = '22023';
  end if;
  insert into jobs as j (task, payload, user_id, job_key, queue, priority, run_at, max_attempts)
    values (p_task, coalesce(p_payload, '{}'::jsonb), p_user, p_job_key, p_queue, p_priority,
            coalesce(p_run_at, now()), p_max_attempts)
    on conflict (task, job_key, user_id) where job_key is not null do nothing
    returning j.id into v_id;
  if v_id is not null then
    insert into job_audit (job_id, user_id, task, from_state, to_state, attempt)
      values (v_id, p_user, p_task, null, 'queued', 0);
    if p_wake then
      perform pg_notify('jobs', '');   -- one notice per transaction, however many jobs it adds
    end if;
    return query select v_id, 'queued'::text, false, false;
    return;
  end if;
  -- The key exists (a concurrent insert of it has committed: ON CONFLICT waited for it).
  if p_key_mode = 'replace' then
    update jobs j set payload = coalesce(p_payload, '{}'::jsonb), run_at = coalesce(p_run_at, now()),
                      priority = p_priority
      where j.task = p_task and j.job_key = p_job_key and j.user_id is not distinct from p_user
        and j.state = 'queued'
      returning j.id into v_id;
    if v_id is not null then
      if p_wake then
        perform pg_notify('jobs', '');
      end if;
      return query select v_id, 'queued'::text, true, true;
      return;
    end if;
  end if;
  select j.id, j.state into v_id, v_state from jobs j
    where j.task = p_task and j.job_key = p_job_key and j.user_id is not distinct from p_user;
  if v_id is null then
    raise exception 'jobs_add: the job changed while it was enqueued' using errcode = '40001';
  end if;
  return query select v_id, v_state, true, false;
end
$$;

-- A dead job runs again: queued now with a fresh set of attempts.  Also takes a failed
-- job (retry scheduled) out of its backoff.  True when the job was requeued.
create function jobs_requeue(p_id bigint) returns boolean language plpgsql as $$
declare
  v_prev text;
begin
  select state into v_prev from jobs where id = p_id for update;
  if v_prev is null or v_prev not in ('dead', 'failed') then
    return false;
  end if;
  update jobs set state = 'queued', attempts = 0, run_at = now(), finished_at = null,
                  locked_by = null, locked_until = null
    where id = p_id;
  insert into job_audit (job_id, user_id, task, from_state, to_state, attempt, error)
    select id, user_id, task, v_prev, 'queued', 0, 'requeued' from jobs where id = p_id;
  perform pg_notify('jobs', p_id::text);
  return true;
end
$$;
