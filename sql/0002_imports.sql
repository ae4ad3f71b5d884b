-- 0002_imports: statements, their staged rows, committed transactions, the
-- CSV mappings users confirmed, and the category rules.
--
-- Every user-owned row carries user_id and every query filters by it, so the
-- schema can later be sharded by user.  Money is integer minor units plus an
-- ISO 4217 code; dates are calendar dates of the bank; times are timestamptz.

create table imports (
  id             uuid primary key default gen_random_uuid(),
  user_id        uuid not null,
  file_name      text not null,
  file_size      bigint not null check (file_size >= 0),
  file_sha256    text not null check (file_sha256 ~ '^[0-9a-f]{64}$'),
  format         text not null check (format in ('csv', 'ofx', 'qif', 'camt053', 'mt940')),
  account_id     text,
  currency       char(3) not null,
  status         text not null check (status in
                   ('uploaded', 'parsed', 'committed', 'analyzed', 'failed', 'reverted')),
  failure_reason text,
  rows_total     integer not null default 0,
  debit_minor    bigint not null default 0,
  credit_minor   bigint not null default 0,
  date_from      date,
  date_to        date,
  columns        jsonb,
  warnings       jsonb not null default '[]'::jsonb,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);
-- The same bytes from the same user are one import (until it is reverted).
create unique index imports_user_file_idx on imports (user_id, file_sha256)
  where status not in ('failed', 'reverted');
create index imports_user_created_idx on imports (user_id, created_at desc);

-- Rows parsed from a statement, waiting for commit-import.  Loaded with COPY,
-- so it has neither a foreign key (a per-row trigger) nor a b-tree: one COPY
-- writes an import's rows to adjacent pages, which a BRIN index on import_id
-- finds for almost nothing.  Rows leave when their import is committed.
create table transactions_staging (
  import_id     uuid not null,
  user_id       uuid not null,
  row_no        integer not null,
  line          integer not null,
  tx_date       date not null,
  amount_minor  bigint not null,
  currency      char(3) not null,
  description   text not null,
  counterparty  text,
  bank_id       text,
  account       text,
  category      text not null,
  dedup_hash    text not null
);
create index transactions_staging_import_idx on transactions_staging using brin (import_id)
  with (pages_per_range = 16);

-- Committed money rows.  dedup_hash is stable across imports of the same
-- bank data (see modules/ingest/dedup.c), unique per user.
create table transactions (
  id            bigint generated always as identity primary key,
  user_id       uuid not null,
  import_id     uuid references imports (id),
  tx_date       date not null,
  amount_minor  bigint not null,
  currency      char(3) not null,
  description   text not null,
  counterparty  text,
  bank_id       text,
  account       text,
  category      text not null,
  dedup_hash    text not null,
  created_at    timestamptz not null default now(),
  unique (user_id, dedup_hash)
);
create index transactions_user_date_idx on transactions (user_id, tx_date);

-- The CSV column mapping a user confirmed for one header layout.
create table csv_mappings (
  user_id      uuid not null,
  fingerprint  text not null,
  mapping      jsonb not null,
  updated_at   timestamptz not null default now(),
  primary key (user_id, fingerprint)
);

-- Categorisation: a description containing `keyword` (case-insensitive)
-- gets `category`.  User rules win over built-in ones; within each, the
-- longest keyword wins.
create table category_rules_builtin (
  keyword   text primary key check (keyword = lower(keyword) and length(keyword) >= 2),
  category  text not null
);
create table category_rules (
  user_id   uuid not null,
  keyword   text not null check (keyword = lower(keyword) and length(keyword) >= 2),
  category  text not null,
  primary key (user_id, keyword)
);

-- User defaults (currency); more settings later.
create table user_settings (
  user_id           uuid primary key,
  default_currency  char(3) not null default 'USD'
);
