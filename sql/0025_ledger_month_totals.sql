-- 0025_ledger_month_totals: the ledger's totals per user, category, month and currency, so a
-- filtered page of GET transactions (a category, a date range, or both) sums a row per month
-- instead of every transaction of the range (issue 15, scripts/bench-read's filtered page).
--
-- Kept like 0017's ledger_totals: statement-level triggers with transition tables, one
-- aggregate per statement, never one per row, rows written in key order.  An UPDATE that
-- changes a row's category or date (PATCH transactions, a booked row replacing a pending
-- one) moves it between keys: the old key loses it, the new one gains it.
-- modules/ledger/ledger_sql.c reads whole months of a range from here and the partial months
-- at its ends from the category index.
create table ledger_month_totals (
  user_id        uuid not null,
  category       text not null,
  month          date not null check (extract(day from month) = 1),
  currency       char(3) not null,
  income_minor   numeric not null default 0,
  expense_minor  numeric not null default 0,   -- the negative amounts, as a positive number
  tx_count       bigint not null default 0,
  primary key (user_id, category, month, currency)
);
insert into ledger_month_totals (user_id, category, month, currency, income_minor, expense_minor, tx_count)
  select user_id, category, date_trunc('month', tx_date)::date, currency,
         coalesce(sum(amount_minor) filter (where amount_minor > 0), 0),
         coalesce(-sum(amount_minor) filter (where amount_minor < 0), 0), count(*)
  from transactions group by 1, 2, 3, 4;

-- One upsert of the net change of each key; INSERT and DELETE read only the transition table
-- their trigger declares.
create function ledger_month_totals_track() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    insert into ledger_month_totals as l (user_id, category, month, currency, income_minor, expense_minor, tx_count)
      select user_id, category, date_trunc('month', tx_date)::date, currency,
             coalesce(sum(amount_minor) filter (where amount_minor > 0), 0),
             coalesce(-sum(amount_minor) filter (where amount_minor < 0), 0), count(*)
      from ledger_new group by 1, 2, 3, 4 order by 1, 2, 3, 4
    on conflict (user_id, category, month, currency) do update set income_minor = l.income_minor + excluded.income_minor,
      expense_minor = l.expense_minor + excluded.expense_minor, tx_count = l.tx_count + excluded.tx_count;
  elsif tg_op = 'DELETE' then
    insert into ledger_month_totals as l (user_id, category, month, currency, income_minor, expense_minor, tx_count)
      select user_id, category, date_trunc('month', tx_date)::date, currency,
             -coalesce(sum(amount_minor) filter (where amount_minor > 0), 0),
             coalesce(sum(amount_minor) filter (where amount_minor < 0), 0), -count(*)
      from ledger_old group by 1, 2, 3, 4 order by 1, 2, 3, 4
    on conflict (user_id, category, month, currency) do update set income_minor = l.income_minor + excluded.income_minor,
      expense_minor = l.expense_minor + excluded.expense_minor, tx_count = l.tx_count + excluded.tx_count;
  else
    insert into ledger_month_totals as l (user_id, category, month, currency, income_minor, expense_minor, tx_count)
      select user_id, category, month, currency, sum(income), sum(expense), sum(n) from (
        select user_id, category, date_trunc('month', tx_date)::date as month, currency,
               greatest(amount_minor, 0) as income, greatest(-amount_minor, 0) as expense, 1 as n
        from ledger_new
        union all
        select user_id, category, date_trunc('month', tx_date)::date, currency,
               -greatest(amount_minor, 0), -greatest(-amount_minor, 0), -1
        from ledger_old) c
      group by user_id, category, month, currency
      having sum(n) <> 0 or sum(income) <> 0 or sum(expense) <> 0
      order by user_id, category, month, currency
    on conflict (user_id, category, month, currency) do update set income_minor = l.income_minor + excluded.income_minor,
      expense_minor = l.expense_minor + excluded.expense_minor, tx_count = l.tx_count + excluded.tx_count;
  end if;
  return null;
end $$;
create trigger transactions_month_totals_insert after insert on transactions
  referencing new table as ledger_new for each statement execute function ledger_month_totals_track();
create trigger transactions_month_totals_delete after delete on transactions
  referencing old table as ledger_old for each statement execute function ledger_month_totals_track();
create trigger transactions_month_totals_update after update on transactions
  referencing old table as ledger_old new table as ledger_new for each statement execute function ledger_month_totals_track();
