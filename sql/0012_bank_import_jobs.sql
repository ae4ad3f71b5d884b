-- 0012_bank_import_jobs: bank-API import jobs (modules/bank, the seed's "TrueLayer import job").
--
-- A user plans an import of some accounts of one connection (sql/0011) over a date range,
-- starts it, and one bank.sync_account job of the engine (sql/0010) per account fetches
-- the account's transactions window by window and writes them into the same
-- `transactions` ledger as statement imports.  Every row carries user_id and every query
-- filters by it.
--
--   truelayer_import_jobs       one per plan: range, accounts, estimates, outcome
--   truelayer_import_progress   one per (job, account): state, counts, reason, rate-limit pause
--   truelayer_page_cache        the raw answer of each (job, account, window) API call, so a
--                               retried account job (a worker killed, a 5xx) fetches nothing twice
--   truelayer_enrichment_jobs   one per auto_enrich run after a job's sync
--   v_import_job_status         a job with its progress counts summed
--
-- transactions gets the provider's transaction id, a pending flag and the import job that
-- inserted the row.  No foreign key from transactions to the job, on purpose: a key adds
-- a trigger per row to every million-row statement commit (see 0009); the bank code is
-- the only writer of the column.

create table truelayer_import_jobs (
  id                          uuid primary key default gen_random_uuid(),
  user_id                     uuid not null,
  connection_id               uuid not null references truelayer_connections (id) on delete cascade,
  job_type                    text not null default 'date_range' check (job_type in ('date_range')),
  status                      text not null default 'planned'
                                check (status in ('planned', 'running', 'completed', 'failed')),
  from_date                   date not null,
  to_date                     date not null,
  auto_enrich                 boolean not null default false,
  batch_size                  integer not null check (batch_size between 1 and 1000),
  estimated_accounts          integer not null check (estimated_accounts >= 0),
  estimated_transactions      bigint not null check (estimated_transactions >= 0),
  estimated_duration_seconds  integer not null check (estimated_duration_seconds >= 0),
  estimated_api_calls         integer not null check (estimated_api_calls >= 0),
  estimated_cost_micros       bigint not null check (estimated_cost_micros >= 0),
  error_code                  text,          -- why a job failed (reauth_required, all_accounts_failed)
  created_at                  timestamptz not null default now(),
  started_at                  timestamptz,
  completed_at                timestamptz,
  updated_at                  timestamptz not null default now(),
  check (to_date >= from_date)
);
create index truelayer_import_jobs_user_idx on truelayer_import_jobs (user_id, created_at desc);
create index truelayer_import_jobs_connection_idx on truelayer_import_jobs (connection_id);

create table truelayer_import_progress (
  job_id              uuid not null references truelayer_import_jobs (id) on delete cascade,
  user_id             uuid not null,
  account_index       integer not null check (account_index >= 0),  -- position in the plan; events name it
  account_id          text not null,
  status              text not null default 'pending'
                        check (status in ('pending', 'syncing', 'completed', 'failed')),
  synced              integer not null default 0,
  duplicates          integer not null default 0,
  errors              integer not null default 0,
  pending_replaced    integer not null default 0,   -- booked rows that replaced a pending one
  error_code          text,
  rate_limited_until  timestamptz,                  -- set while the account waits out a 429
  rate_limit_pauses   integer not null default 0,
  api_calls           integer not null default 0,   -- calls made (cached pages cost none)
  api_ms              bigint not null default 0,    -- their wall time: the plan's seconds per call
  estimated_transactions bigint not null default 0,
  started_at          timestamptz,
  completed_at        timestamptz,
  updated_at          timestamptz not null default now(),
  primary key (job_id, account_index),
  unique (job_id, account_id)
);
create index truelayer_import_progress_user_idx on truelayer_import_progress (user_id, updated_at desc);

create table truelayer_page_cache (
  job_id       uuid not null references truelayer_import_jobs (id) on delete cascade,
  user_id      uuid not null,
  account_id   text not null,
  kind         text not null check (kind in ('booked', 'pending')),
  window_from  date not null,
  window_to    date not null,
  results      jsonb not null,        -- the answer's `results` array, numbers exact (jsonb numeric)
  fetched_at   timestamptz not null default now(),
  primary key (job_id, account_id, kind, window_from)
);

create table truelayer_enrichment_jobs (
  id                 uuid primary key default gen_random_uuid(),
  user_id            uuid not null,
  import_job_id      uuid not null unique references truelayer_import_jobs (id) on delete cascade,
  status             text not null default 'queued' check (status in ('queued', 'running', 'completed', 'failed')),
  transactions_total integer not null default 0,
  categorized        integer not null default 0,   -- rows whose category a rule set
  created_at         timestamptz not null default now(),
  completed_at       timestamptz
);
create index truelayer_enrichment_jobs_user_idx on truelayer_enrichment_jobs (user_id, created_at desc);

alter table transactions
  add column provider_transaction_id text,
  add column pending boolean not null default false,
  add column import_job_id uuid;
create index transactions_import_job_idx on transactions (import_job_id) where import_job_id is not null;
-- A booked transaction looks for the pending row it replaces by account and amount.
create index transactions_pending_idx on transactions (user_id, account, amount_minor) where pending;

create view v_import_job_status as
select j.id as job_id, j.user_id, j.connection_id, j.job_type, j.status, j.from_date, j.to_date,
       j.auto_enrich, j.error_code, j.created_at, j.started_at, j.completed_at,
       j.estimated_duration_seconds,
       count(p.account_index)::integer as total_accounts,
       (count(p.account_index) filter (where p.status in ('completed', 'failed')))::integer as completed_accounts,
       (count(p.account_index) filter (where p.status = 'completed'))::integer as succeeded_accounts,
       coalesce(sum(p.synced), 0)::bigint as synced,
       coalesce(sum(p.duplicates), 0)::bigint as duplicates,
       coalesce(sum(p.errors), 0)::bigint as errors
from truelayer_import_jobs j
left join truelayer_import_progress p on p.job_id = j.id
group by j.id;
