-- 0006_workflow: the seven-phase workflow queue (issue 7).
-- workflow_jobs is the queue itself: POST /api/v1/workflow/phase/:n inserts a row
-- (idempotent per (user_id, phase, sync_id)) and NOTIFYs channel 'workflow_jobs';
-- smartimport-workflow-worker daemons claim rows with FOR UPDATE SKIP LOCKED.
-- run_after is "when this row may next be claimed": for queued/failed rows the
-- earliest start (failed = waiting for a retry after backoff), for running rows
-- the end of the lease (= lease_until), so one index serves every claim.
-- workflow_audit is the centralised phase audit log: one row per transition.
-- The other tables are the phase handlers' effects, each keyed so that a job
-- that runs twice (a worker killed mid-job) changes them once.  Money is integer
-- minor units; every row carries user_id.

create table workflow_jobs (
  id            bigint generated always as identity primary key,
  user_id       uuid not null,
  phase         smallint not null check (phase between 1 and 7),
  sync_id       text null check (sync_id is null or length(sync_id) between 1 and 200),
  payload       jsonb not null default '{}'::jsonb,
  status        text not null default 'queued'
                check (status in ('queued', 'running', 'completed', 'failed', 'dead')),
  attempts      integer not null default 0 check (attempts >= 0),
  max_attempts  integer not null default 5 check (max_attempts >= 1),
  run_after     timestamptz not null default now(),
  lease_owner   text null,
  lease_until   timestamptz null,
  result        jsonb null,
  error         text null,
  created_at    timestamptz not null default now(),
  started_at    timestamptz null,
  finished_at   timestamptz null,
  unique (user_id, phase, sync_id)
);

-- The claim: the oldest runnable row among the unfinished ones.
create index workflow_jobs_runnable_idx on workflow_jobs (run_after, id)
  where status in ('queued', 'failed', 'running');
create index workflow_jobs_user_idx on workflow_jobs (user_id, phase, status);
create index workflow_jobs_finished_idx on workflow_jobs (user_id, finished_at)
  where finished_at is not null;

create table workflow_audit (
  id           bigint generated always as identity primary key,
  job_id       bigint not null references workflow_jobs (id) on delete cascade,
  user_id      uuid not null,
  phase        smallint not null,
  from_status  text null,
  to_status    text not null,
  attempt      integer not null default 0,
  worker       text null,
  duration_ms  double precision null,
  error        text null,
  at           timestamptz not null default now()
);
create index workflow_audit_job_idx on workflow_audit (job_id, id);
create index workflow_audit_user_idx on workflow_audit (user_id, at);

-- Phases 1, 2, 3, 5, 6: the HTTP trigger each job made (or skipped), once per job.
create table workflow_triggers (
  job_id       bigint primary key references workflow_jobs (id) on delete cascade,
  user_id      uuid not null,
  phase        smallint not null,
  service      text not null,
  status       text not null check (status in ('sent', 'skipped')),
  http_status  integer null,
  created_at   timestamptz not null default now()
);

-- Phase 1: the seller connection an OAuth completion recorded.
create table workflow_connections (
  user_id      uuid not null,
  seller_id    text not null,
  sync_id      text null,
  job_id       bigint not null references workflow_jobs (id) on delete cascade,
  connected_at timestamptz not null default now(),
  primary key (user_id, seller_id)
);

-- Phase 4: where each matched claim was routed (>= 0.85 auto_submit,
-- 0.50 <= c < 0.85 smart_prompt, below hold).  The latest routing of a claim wins.
create table workflow_claim_routes (
  user_id     uuid not null,
  claim_id    text not null,
  confidence  double precision not null check (confidence between 0 and 1),
  route       text not null check (route in ('auto_submit', 'smart_prompt', 'hold')),
  job_id      bigint not null references workflow_jobs (id) on delete cascade,
  routed_at   timestamptz not null default now(),
  primary key (user_id, claim_id)
);

-- Phase 5: payout monitoring started for a submitted claim.
create table workflow_payout_monitors (
  user_id     uuid not null,
  claim_id    text not null,
  job_id      bigint not null references workflow_jobs (id) on delete cascade,
  status      text not null default 'monitoring' check (status in ('monitoring', 'paid')),
  started_at  timestamptz not null default now(),
  primary key (user_id, claim_id)
);

-- Phase 6: rejections kept for learning, one per job.
create table workflow_rejections (
  job_id      bigint primary key references workflow_jobs (id) on delete cascade,
  user_id     uuid not null,
  claim_id    text not null,
  reason      text null,
  created_at  timestamptz not null default now()
);
create index workflow_rejections_user_idx on workflow_rejections (user_id, created_at);

-- Phase 7: one payout per claim, the 20% platform fee and its proof packet.
-- proof_canonical is the packet exactly as hashed (sorted keys, no whitespace);
-- proof_sha256 = hex sha256 of those bytes; proof is the same document as jsonb.
create table workflow_payouts (
  user_id          uuid not null,
  claim_id         text not null,
  job_id           bigint not null references workflow_jobs (id) on delete cascade,
  amount_minor     bigint not null check (amount_minor > 0),
  currency         char(3) not null check (currency ~ '^[A-Z]{3}$'),
  fee_minor        bigint not null check (fee_minor >= 0),
  net_minor        bigint not null check (net_minor >= 0),
  proof_canonical  text not null,
  proof_sha256     char(64) not null,
  proof            jsonb not null,
  created_at       timestamptz not null default now(),
  primary key (user_id, claim_id),
  check (fee_minor + net_minor = amount_minor)
);
