-- 0013_bulk_import: merchants, their reference data, bulk purchase imports (modules/bulk, issue 14).
--
-- A merchant's admin uploads a flat CSV of purchases (one row per line item).  The responder
-- smartimport-bulk-import reads the file once, while it has it, into bulk_import_staging (COPY,
-- typed values plus the problems found reading each cell), in the same transaction as the
-- batch row and its bulk.import job; the job validates the staged rows set-wise in SQL and
-- then inserts every purchase and item in one transaction, or fails the batch writing nothing
-- else.  Every row carries merchant_id; only the merchant's admins (merchant_admins) reach it.
--
--   merchants, merchant_admins          a merchant and who may touch its data
--   merchant_skus, merchant_customers,  reference data, bulk-upserted by smartimport-merchants
--   merchant_tiers, merchant_missions
--   bulk_import_batches                 one per upload: status, counts, progress, errors
--   bulk_import_staging                 the staged rows of a batch not yet completed
--   purchases, purchase_items           the imported purchases (read by the CDC consumers)
--   bulk_cdc_status(batch)              the batch's change-data-capture figures (0014 fills it in)
--
-- No foreign key from purchases/purchase_items to merchants or batches: a key adds a trigger
-- per row to a 2,000,000-row insert (see 0009); modules/bulk is the only writer.

create table merchants (
  id              uuid primary key default gen_random_uuid(),
  name            text not null check (length(name) between 1 and 200),
  currency        char(3) not null check (currency ~ '^[A-Z]{3}$'),
  points_per_unit int not null default 1 check (points_per_unit between 0 and 1000000),
  created_at      timestamptz not null default now()
);
comment on column merchants.points_per_unit is 'loyalty points per whole major unit of spend';

create table merchant_admins (
  merchant_id uuid not null references merchants (id) on delete cascade,
  user_id     uuid not null,
  created_at  timestamptz not null default now(),
  primary key (merchant_id, user_id)
);
create index merchant_admins_user on merchant_admins (user_id);

create table merchant_skus (
  merchant_id uuid not null references merchants (id) on delete cascade,
  sku_id      text not null check (length(sku_id) between 1 and 100),
  name        text not null default '' check (length(name) <= 200),
  price_minor bigint null check (price_minor between 0 and 10000000000000),
  updated_at  timestamptz not null default now(),
  primary key (merchant_id, sku_id)
);

create table merchant_customers (
  merchant_id uuid not null references merchants (id) on delete cascade,
  customer_id text not null check (length(customer_id) between 1 and 100),
  name        text not null default '' check (length(name) <= 200),
  email       text null check (length(email) <= 320),
  updated_at  timestamptz not null default now(),
  primary key (merchant_id, customer_id)
);

create table merchant_tiers (
  merchant_id     uuid not null references merchants (id) on delete cascade,
  tier            text not null check (length(tier) between 1 and 100),
  min_spend_minor bigint not null check (min_spend_minor between 0 and 1000000000000000),
  updated_at      timestamptz not null default now(),
  primary key (merchant_id, tier)
);

create table merchant_missions (
  merchant_id uuid not null references merchants (id) on delete cascade,
  mission_id  text not null check (length(mission_id) between 1 and 100),
  kind        text not null check (kind in ('spend', 'sku_quantity')),
  target      bigint not null check (target between 1 and 1000000000000000),
  sku_id      text null check (length(sku_id) <= 100),
  updated_at  timestamptz not null default now(),
  primary key (merchant_id, mission_id),
  check ((kind = 'sku_quantity') = (sku_id is not null))
);

create table bulk_import_batches (
  id                 uuid primary key default gen_random_uuid(),
  merchant_id        uuid not null references merchants (id) on delete cascade,
  created_by         uuid not null,
  batch_name         text not null default '' check (length(batch_name) <= 200),
  status             text not null default 'pending'
                       check (status in ('pending', 'processing', 'completed', 'failed')),
  file_sha256        text null check (file_sha256 ~ '^[0-9a-f]{64}$'),  -- NULL once the staging was lost
  file_name          text not null default '',
  file_bytes         bigint not null default 0,
  columns            jsonb null,             -- the column mapping used: canonical name -> header
  rows_total         int not null default 0, -- data rows staged
  purchases_total    int not null default 0, -- distinct transaction numbers staged
  rows_validated     int not null default 0,
  rows_inserted      int not null default 0,
  imported_purchases int not null default 0,
  imported_items     int not null default 0,
  problems_total     int not null default 0,
  error_code         text null,
  error_message      text null,
  errors             jsonb null,             -- first 100 problems: [{line, column, reason}]
  dry_run            boolean not null default false,
  retries            int not null default 0,
  job_id             bigint null,            -- the bulk.import job now in charge
  created_at         timestamptz not null default now(),
  started_at         timestamptz null,
  completed_at       timestamptz null,
  updated_at         timestamptz not null default now()
);
create unique index bulk_import_batches_file on bulk_import_batches (merchant_id, file_sha256)
  where file_sha256 is not null;
create index bulk_import_batches_list on bulk_import_batches (merchant_id, created_at desc, id);

-- The staged rows of a batch.  Values a cell could not be read into are NULL and the
-- reason is in problems ([{column, reason}], in column order).  Unlogged like
-- transactions_staging (0007): a PostgreSQL crash empties it, which the task detects
-- (rows != rows_total) and reports as staging_lost, freeing the file for a new upload.
create unlogged table bulk_import_staging (
  batch_id           uuid not null,
  merchant_id        uuid not null,
  line               int not null,
  transaction_number text null,
  customer_id        text null,
  purchased_at       timestamptz null,
  currency           char(3) null,
  sku_id             text null,
  quantity           int null,
  unit_price_minor   bigint null,
  discount_minor     bigint null,
  line_total_minor   bigint null,
  store              text null,
  note               text null,
  problems           jsonb null
);
create index bulk_import_staging_batch on bulk_import_staging (batch_id, transaction_number);

create table purchases (
  id                 bigint generated always as identity primary key,
  merchant_id        uuid not null,
  batch_id           uuid not null,
  transaction_number text not null,
  customer_id        text not null,
  purchased_at       timestamptz not null,
  currency           char(3) not null,
  total_minor        bigint not null,
  store              text null,
  note               text null,
  created_at         timestamptz not null default now(),
  unique (merchant_id, transaction_number)
);
create index purchases_batch on purchases (batch_id);
create index purchases_customer on purchases (merchant_id, customer_id);

create table purchase_items (
  id               bigint generated always as identity primary key,
  purchase_id      bigint not null references purchases (id),
  merchant_id      uuid not null,
  sku_id           text not null,
  quantity         int not null check (quantity > 0),
  unit_price_minor bigint not null check (unit_price_minor >= 0),
  discount_minor   bigint not null default 0 check (discount_minor >= 0),
  line_total_minor bigint not null
);
create index purchase_items_purchase on purchase_items (purchase_id);

-- The batch's change-data-capture figures for its status answer (`cdc`); NULL until
-- 0014_bulk_cdc replaces it.
create function bulk_cdc_status(p_batch uuid) returns jsonb
  language sql stable
  return null::jsonb;
