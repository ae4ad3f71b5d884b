-- 0017_ledger: what the ledger API (modules/ledger: GET/PATCH transactions, the
-- category-rules endpoints) needs.
--
-- memo: the free text a bank keeps apart from the description (OFX MEMO, CAMT
-- RmtInf, QIF M); nullable, filled by the ingest pipeline later.  The staging
-- table gets it too, so a COPY can carry it when that lands.
alter table transactions add column memo text;
alter table transactions_staging add column memo text;

-- Keyset paging, newest first: WHERE user_id = $1 AND (tx_date, id) < ($c, $i)
-- ORDER BY tx_date DESC, id DESC LIMIT n reads exactly n index entries.  It
-- carries currency and amount_minor so the per-currency totals of a date range
-- (or of the whole ledger) are an index-only scan.  It replaces
-- transactions_user_date_idx (user_id, tx_date): the same prefix serves every
-- query that one served.
create index transactions_user_date_id_idx on transactions (user_id, tx_date desc, id desc)
  include (currency, amount_minor);
drop index transactions_user_date_idx;
-- The category filter walks its own keyset order (a category is a small share of a
-- ledger: without it a page of a rare one, and its totals, read every row of the user);
-- its totals are an index-only scan.
create index transactions_user_category_idx on transactions (user_id, category, tx_date desc, id desc)
  include (currency, amount_minor);
-- No index for the others: importId uses transactions_import_idx (0004); an account
-- is a large share of its user's rows and q a substring, so both walk the keyset
-- index and stop after one page (their totals read the user's rows).  Every index
-- here is paid for by each commit-import.

-- The user's own rules (0002's category_rules, read by modules/ingest/categorize.c
-- as keyword -> category) get an id the API can name and the time they were made.
-- The categoriser selects its columns by name, so it is unaffected.
alter table category_rules add column id bigint generated always as identity;
alter table category_rules add column created_at timestamptz not null default now();
alter table category_rules add constraint category_rules_id_key unique (id);
alter table category_rules add constraint category_rules_keyword_len check (length(keyword) <= 200);

-- The per-currency totals of a whole ledger (GET transactions without a filter, first page):
-- summed as rows come and go, so the answer reads a row per currency instead of every
-- transaction of the user.  Statement-level triggers with transition tables: one aggregate
-- per statement (a commit-import of a million rows pays one pass over them), never one per
-- row; the rows of ledger_totals are written in key order, so concurrent statements of one
-- user wait for each other instead of deadlocking.
create table ledger_totals (
  user_id        uuid not null,
  currency       char(3) not null,
  income_minor   numeric not null default 0,
  expense_minor  numeric not null default 0,   -- the negative amounts, as a positive number
  tx_count       bigint not null default 0,
  primary key (user_id, currency)
);
insert into ledger_totals (user_id, currency, income_minor, expense_minor, tx_count)
  select user_id, currency, coalesce(sum(amount_minor) filter (where amount_minor > 0), 0),
         coalesce(-sum(amount_minor) filter (where amount_minor < 0), 0), count(*)
  from transactions group by user_id, currency;

-- One function for the three triggers: the net change of each (user, currency), added in
-- one upsert (a removed row counts negatively).
create function ledger_totals_track() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    insert into ledger_totals as l (user_id, currency, income_minor, expense_minor, tx_count)
      select user_id, currency, coalesce(sum(amount_minor) filter (where amount_minor > 0), 0),
             coalesce(-sum(amount_minor) filter (where amount_minor < 0), 0), count(*)
      from ledger_new group by user_id, currency order by user_id, currency
    on conflict (user_id, currency) do update set income_minor = l.income_minor + excluded.income_minor,
      expense_minor = l.expense_minor + excluded.expense_minor, tx_count = l.tx_count + excluded.tx_count;
  elsif tg_op = 'DELETE' then
    insert into ledger_totals as l (user_id, currency, income_minor, expense_minor, tx_count)
      select user_id, currency, -coalesce(sum(amount_minor) filter (where amount_minor > 0), 0),
             coalesce(sum(amount_minor) filter (where amount_minor < 0), 0), -count(*)
      from ledger_old group by user_id, currency order by user_id, currency
    on conflict (user_id, currency) do update set income_minor = l.income_minor + excluded.income_minor,
      expense_minor = l.expense_minor + excluded.expense_minor, tx_count = l.tx_count + excluded.tx_count;
  else
    insert into ledger_totals as l (user_id, currency, income_minor, expense_minor, tx_count)
      select user_id, currency, sum(income), sum(expense), sum(n) from (
        select user_id, currency, greatest(amount_minor, 0) as income, greatest(-amount_minor, 0) as expense, 1 as n
        from ledger_new
        union all
        select user_id, currency, -greatest(amount_minor, 0), -greatest(-amount_minor, 0), -1 from ledger_old) c
      group by user_id, currency having sum(n) <> 0 or sum(income) <> 0 or sum(expense) <> 0
      order by user_id, currency
    on conflict (user_id, currency) do update set income_minor = l.income_minor + excluded.income_minor,
      expense_minor = l.expense_minor + excluded.expense_minor, tx_count = l.tx_count + excluded.tx_count;
  end if;
  return null;
end $$;
create trigger transactions_totals_insert after insert on transactions
  referencing new table as ledger_new for each statement execute function ledger_totals_track();
create trigger transactions_totals_delete after delete on transactions
  referencing old table as ledger_old for each statement execute function ledger_totals_track();
-- (A trigger with transition tables takes no column list: every UPDATE runs it, and one that
-- changes no amount, currency or owner writes nothing.)
create trigger transactions_totals_update after update on transactions
  referencing old table as ledger_old new table as ledger_new for each statement execute function ledger_totals_track();
