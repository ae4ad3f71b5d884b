-- 0013_bulk_import: TEMPORARY COPY on branch cdc, NOT the real migration.
--
-- Helper "bulk" owns sql/0013_bulk_import.sql (BULK.md, section "Tables").  This file holds
-- only the tables the CDC consumers (sql/0014, modules/cdc) read, copied from helper bulk's
-- working copy of its 0013 (2026-12-03 02:40 UTC), so branch cdc builds and tests on its own.  When merging (bulk first, then cdc): take bulk's
-- sql/0013_bulk_import.sql and drop this one.
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

create function bulk_cdc_status(p_batch uuid) returns jsonb
  language sql stable
  return null::jsonb;
