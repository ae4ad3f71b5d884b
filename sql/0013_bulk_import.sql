-- 0013_bulk_import: TEMPORARY COPY on branch cdc, NOT the real migration.
--
-- Helper "bulk" owns sql/0013_bulk_import.sql (BULK.md, section "Tables").  This file holds
-- only the tables the CDC consumers (sql/0014, modules/cdc) read, as BULK.md specifies them,
-- so branch cdc builds and tests on its own.  When merging (bulk first, then cdc): take bulk's
-- sql/0013_bulk_import.sql and drop this one.
create table merchants (
  id               uuid primary key default gen_random_uuid(),
  name             text not null,
  currency         char(3) not null,
  points_per_unit  integer not null default 1,   -- points per whole major unit of spend
  created_at       timestamptz not null default now()
);

create table merchant_admins (
  merchant_id  uuid not null references merchants (id) on delete cascade,
  user_id      uuid not null,
  primary key (merchant_id, user_id)
);

create table merchant_tiers (
  merchant_id      uuid not null references merchants (id) on delete cascade,
  tier             text not null,
  min_spend_minor  bigint not null,
  primary key (merchant_id, tier)
);

create table merchant_missions (
  merchant_id  uuid not null references merchants (id) on delete cascade,
  mission_id   text not null,
  kind         text not null check (kind in ('spend', 'sku_quantity')),
  target       bigint not null,
  sku_id       text null,
  primary key (merchant_id, mission_id)
);

create table purchases (
  id                  bigint generated always as identity primary key,
  merchant_id         uuid not null references merchants (id),
  batch_id            uuid,
  transaction_number  text not null,
  customer_id         text not null,
  purchased_at        timestamptz not null,
  currency            char(3) not null,
  total_minor         bigint not null,
  store               text,
  note                text,
  created_at          timestamptz not null default now(),
  unique (merchant_id, transaction_number)
);
create index purchases_batch_idx on purchases (batch_id);

create table purchase_items (
  id                bigint generated always as identity primary key,
  purchase_id       bigint not null references purchases (id),
  merchant_id       uuid not null,
  sku_id            text not null,
  quantity          integer not null,
  unit_price_minor  bigint not null,
  discount_minor    bigint not null default 0,
  line_total_minor  bigint not null
);
create index purchase_items_purchase_idx on purchase_items (purchase_id);

create function bulk_cdc_status(p_batch uuid) returns jsonb language sql stable as $$ select null::jsonb $$;
