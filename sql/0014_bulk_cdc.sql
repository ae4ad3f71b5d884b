-- 0014_bulk_cdc: change-data-capture of purchases into loyalty (issue 14, modules/cdc).
--
-- Committed inserts into `purchases` (sql/0013) are read from a logical replication slot by
-- smartimport-cdc (pgoutput, publication smartimport_purchases) and become jobs of three
-- consumers on the job engine (sql/0010): loyalty.currency, loyalty.tier, loyalty.mission.
-- Each consumer is idempotent per purchase: it first claims (consumer, purchase_id) in
-- cdc_applied and applies only the purchases it claimed, in the same transaction, so a
-- replayed change (the daemon or a worker killed, PostgreSQL crashed) applies once.
--
--   wallets            points per (merchant, customer)            (loyalty.currency)
--   customer_tiers     cumulative spend and tier                  (loyalty.tier)
--   mission_progress   progress per (merchant, mission, customer) (loyalty.mission)
--   cdc_applied        (consumer, purchase_id): what each consumer has applied
--   cdc_state          the slot's confirmed position and lag, written by the daemon in the
--                      same transaction as the jobs it enqueued
-- Every row carries merchant_id; customers are the merchant's customer_id text (sql/0013).

create publication smartimport_purchases for table purchases with (publish = 'insert');

create table wallets (
  merchant_id  uuid not null,
  customer_id  text not null,
  points       bigint not null default 0,
  updated_at   timestamptz not null default now(),
  primary key (merchant_id, customer_id)
);

create table customer_tiers (
  merchant_id  uuid not null,
  customer_id  text not null,
  spend_minor  bigint not null default 0,    -- purchases in the merchant's currency only
  tier         text null,                    -- highest merchant_tiers.min_spend_minor <= spend
  updated_at   timestamptz not null default now(),
  primary key (merchant_id, customer_id)
);

create table mission_progress (
  merchant_id   uuid not null,
  mission_id    text not null,
  customer_id   text not null,
  progress      bigint not null default 0,   -- 'spend': minor units; 'sku_quantity': items
  completed_at  timestamptz null,            -- set once, when progress first reaches the target
  updated_at    timestamptz not null default now(),
  primary key (merchant_id, mission_id, customer_id)
);

create table cdc_applied (
  consumer     text not null check (consumer in ('currency', 'tier', 'mission')),
  purchase_id  bigint not null,
  applied_at   timestamptz not null default clock_timestamp(),
  primary key (consumer, purchase_id)
);

create table cdc_state (
  slot            text primary key,
  confirmed_lsn   pg_lsn not null,
  last_commit_at  timestamptz,      -- commit time of the last source transaction enqueued
  confirmed_at    timestamptz,      -- when its jobs were committed (then the LSN was confirmed)
  lag_bytes       bigint not null default 0,   -- WAL between the server's end and confirmed_lsn, then
  lag_ms          bigint not null default 0,   -- confirmed_at - last_commit_at
  transactions    bigint not null default 0,   -- source transactions with purchases, since the slot was made
  purchases       bigint not null default 0,   -- purchase inserts read (a replay counts again)
  jobs_enqueued   bigint not null default 0,   -- new jobs
  jobs_existing   bigint not null default 0,   -- enqueues that found their job already there (replays)
  updated_at      timestamptz not null default now()
);

-- The mission consumer reads a chunk's items by purchase id: an index on it, unless sql/0013
-- already has one that starts with that column.
do $$
begin
  if not exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                  where i.indrelid = 'purchase_items'::regclass and a.attname = 'purchase_id') then
    create index cdc_purchase_items_purchase_idx on purchase_items (purchase_id);
  end if;
end $$;

-- A batch's CDC progress, for GET /api/import/status/:id (its `cdc`): purchases of the batch, how
-- many each consumer has applied and when the last was, the daemon's last lag (commit to jobs
-- committed, ms) and the slot's lag in bytes now (WAL not yet confirmed).
create or replace function bulk_cdc_status(p_batch uuid) returns jsonb language sql stable as $$
  with p as (select id from purchases where batch_id = p_batch),
  a as (select c.consumer, count(a.purchase_id) as n, max(a.applied_at) as last
          from (values ('currency'), ('tier'), ('mission')) as c (consumer)
          left join cdc_applied a on a.consumer = c.consumer and a.purchase_id in (select id from p)
         group by c.consumer)
  select jsonb_build_object(
    'purchases', (select count(*) from p),
    'applied', (select jsonb_object_agg(consumer, n) from a),
    'last_applied_at', (select to_char(max(last) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') from a),
    'lag_ms', (select lag_ms from cdc_state where slot = 'smartimport_cdc'),
    'lag_bytes', (select pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
                    from pg_replication_slots where slot_name = 'smartimport_cdc'))
$$;
