-- 0027_near_matches: the verdicts of a staged import (0019, 0020, 0024) in a shape whose cost
-- does not depend on the statistics of the moment, and the near-match join written once.
--
-- The defect: a user commits a 40,000-row statement and re-uploads it at once.  The planner's
-- statistics of `transactions` still say the user has no rows (autovacuum analyses a minute
-- later), so it joined each staged row with "the user's rows" scanned whole, the hash a filter
-- instead of an index condition: 40,000 x 40,000 rows, and ingest-statement answered 504
-- db_timeout after 30 s (t0025 does exactly this).  The same estimate could make the near-match
-- join (amount and currency, the date a filter) quadratic in the rows sharing an amount.
--
-- Now the four functions run with nested loops and merge joins off (SET clauses: no longer inlined
-- into the caller's statement, they plan with them off): every join of staged rows with the
-- user's ledger is a hash join on all its keys, linear in the import and the user's rows, whatever
-- the estimates say.  A page of the preview reads the user's committed hashes once (an index-only
-- scan, linear in the ledger) instead of 50 index probes: the price of never being
-- quadratic.  And:
--   * the near matches (import_near_matches, used by both the rows and the counts) are looked
--     for only among the staged rows not already committed (an all-duplicates re-upload has
--     none), by equality on (amount, currency, date), one probe per day of the window, so the
--     pairs a hash join forms are the candidates themselves, never all rows of an amount;
--   * JIT is off in them (a generic plan's estimate made one compile for 2.7 s);
--   * the score of a pair is one function, match_score, shared by the near and pending matches.
-- The verdicts, scores, reasons and counts are unchanged (t0016, t0017, t0024 check them).
-- Other statements that join with a new user's rows before autovacuum has analysed them may
-- have the same weakness (commit-import's are linear by construction: one INSERT ... SELECT).

-- The additive score of 0019 / 0024: same amount and currency 40; the same day / 1 day / more
-- days apart 30 / 20 / 10; the same description (else counterparty) 20; the same bank
-- reference 10.
create function match_score(p_days int, p_same_text boolean, p_same_ref boolean)
returns int language sql immutable parallel safe
as $$
  select 40 + case p_days when 0 then 30 when 1 then 20 else 10 end
            + case when p_same_text then 20 else 0 end
            + case when p_same_ref then 10 else 0 end
$$;

-- The staged rows from_row..to_row already committed (their dedup hash is in the ledger), with
-- the committed row: the duplicates.  Inlined into its callers, the verdict functions below,
-- and planned with their settings (hash joins only).
create function import_committed_twins(p_user uuid, p_import uuid, p_from_row int, p_to_row int)
returns table (row_no int, id bigint, tx_date date, dedup_hash text)
language sql stable
as $$
  select s.row_no, t.id, t.tx_date, s.dedup_hash
  from transactions_staging s join transactions t on t.user_id = p_user and t.dedup_hash = s.dedup_hash
  where s.import_id = p_import and s.user_id = p_user and s.row_no between p_from_row and p_to_row
$$;

-- The best near match of each staged row from_row..to_row that is not already committed: a
-- committed row of the same amount and currency at most p_days days away (another hash).
create function import_near_matches(p_user uuid, p_import uuid, p_days int, p_from_row int, p_to_row int)
returns table (row_no int, id bigint, tx_date date, score int, reasons text[])
language sql stable
set enable_nestloop = off
set enable_mergejoin = off
set jit = off
set work_mem = '64MB'
as $$
  with span as (
    select min(s.tx_date) as lo, max(s.tx_date) as hi
    from transactions_staging s
    where s.import_id = p_import and s.user_id = p_user and s.row_no between p_from_row and p_to_row),
  -- the user's rows in the window of the staged ones, their texts lowered once (not per pair);
  -- none (a new user, another period): nothing below runs
  ledger as materialized (
    select t.id, t.tx_date, t.amount_minor, t.currency, lower(t.description) as descr,
           lower(coalesce(t.counterparty, '')) as cp, t.bank_id, t.dedup_hash
    from transactions t, span
    where t.user_id = p_user and t.tx_date between span.lo - p_days and span.hi + p_days),
  fresh as materialized (
    select s.row_no, s.tx_date, s.amount_minor, s.currency, lower(s.description) as descr,
           lower(coalesce(s.counterparty, '')) as cp, s.bank_id, s.dedup_hash
    from transactions_staging s
    where exists (select 1 from ledger)
      and s.import_id = p_import and s.user_id = p_user and s.row_no between p_from_row and p_to_row
      and not exists (select 1 from transactions d where d.user_id = p_user and d.dedup_hash = s.dedup_hash)),
  probe as materialized (
    select f.*, f.tx_date + k.day as near_date
    from fresh f cross join generate_series(-p_days, p_days) as k(day)),
  cand as (
    select p.row_no, t.id, t.tx_date, abs(t.tx_date - p.tx_date) as days,
           t.descr = p.descr as same_descr, p.cp <> '' and t.cp = p.cp as same_cp,
           p.bank_id is not null and t.bank_id = p.bank_id as same_ref
    from probe p join ledger t
      on t.amount_minor = p.amount_minor and t.currency = p.currency
     and t.tx_date = p.near_date and t.dedup_hash <> p.dedup_hash),
  best as (
    select distinct on (c.row_no) c.*, match_score(c.days, c.same_descr or c.same_cp, c.same_ref) as score
    from cand c
    order by c.row_no, match_score(c.days, c.same_descr or c.same_cp, c.same_ref) desc, c.days, c.id)
  select b.row_no, b.id, b.tx_date, b.score,
         array_remove(array['same amount and currency as the committed row of ' || b.tx_date,
                            case b.days when 0 then 'same day' when 1 then '1 day apart'
                                        else b.days || ' days apart' end,
                            case when b.same_descr then 'same description'
                                 when b.same_cp then 'same counterparty' end,
                            case when b.same_ref then 'same bank reference' end], null)
  from best b
$$;

-- 0024's pending matches with the shared score (the same pairs and scores).
create or replace function import_pending_matches(p_user uuid, p_import uuid, p_days int, p_from_row int, p_to_row int)
returns table (row_no int, id bigint, tx_date date, score int, reasons text[])
language sql stable
set enable_nestloop = off
set enable_mergejoin = off
set jit = off
as $$
  with pend as materialized (
    select t.id, t.tx_date, t.amount_minor, t.currency, t.description, t.counterparty, t.bank_id
    from transactions t where t.user_id = p_user and t.pending),
  cand as (
    select s.row_no, p.id, p.tx_date, s.tx_date - p.tx_date as days,
           lower(p.description) = lower(s.description) as same_descr,
           coalesce(s.counterparty, '') <> '' and lower(coalesce(p.counterparty, '')) = lower(s.counterparty) as same_cp,
           s.bank_id is not null and p.bank_id = s.bank_id as same_ref
    from pend p join transactions_staging s
      on s.import_id = p_import and s.user_id = p_user and s.amount_minor = p.amount_minor
     and s.currency = p.currency and s.tx_date between p.tx_date and p.tx_date + p_days
    where s.row_no between p_from_row and p_to_row
      and not exists (select 1 from transactions d where d.user_id = p_user and d.dedup_hash = s.dedup_hash)),
  scored as (
    select c.row_no, c.id, c.tx_date, c.days, match_score(c.days, c.same_descr or c.same_cp, c.same_ref) as score,
           array_remove(array['the pending row of ' || c.tx_date || ' (same amount and currency) is now booked',
                              case c.days when 0 then 'booked the same day' when 1 then 'booked 1 day later'
                                          else 'booked ' || c.days || ' days later' end,
                              case when c.same_descr then 'same description'
                                   when c.same_cp then 'same counterparty' end,
                              case when c.same_ref then 'same bank reference' end], null) as reasons
    from cand c),
  best_per_row as (
    select distinct on (x.row_no) x.* from scored x where x.score >= 60
    order by x.row_no, x.score desc, x.days, x.id)
  select distinct on (b.id) b.row_no, b.id, b.tx_date, b.score, b.reasons
  from best_per_row b
  order by b.id, b.score desc, b.days, b.row_no
$$;

-- 0024's verdicts, the near matches from import_near_matches.  A row both near and replacing a
-- pending row is 'replaces_pending' (the pending match is tested first), as before.
create or replace function import_row_verdicts(p_user uuid, p_import uuid, p_near_days int, p_from_row int, p_to_row int)
returns table (row_no int, line int, tx_date date, description text, counterparty text, amount_minor bigint,
               currency char(3), category text, verdict text, score int, reasons text[], match_id bigint,
               match_date date, decision text, counterparty_account_masked text)
language sql stable
set enable_nestloop = off
set enable_mergejoin = off
set jit = off
as $$
  with dup as materialized (
    select * from import_committed_twins(p_user, p_import, p_from_row, p_to_row)),
  pm as materialized (
    select * from import_pending_matches(p_user, p_import, p_near_days, p_from_row, p_to_row)),
  near as materialized (
    select * from import_near_matches(p_user, p_import, p_near_days, p_from_row, p_to_row))
  select s.row_no, s.line, s.tx_date, s.description, s.counterparty, s.amount_minor, s.currency, s.category,
         case when d.id is not null then 'duplicate'
              when m.id is not null then 'replaces_pending'
              when n.id is not null or length(s.dedup_hash) > 65 and substr(s.dedup_hash, 66) <> '1'
                then 'possible_duplicate'
              else 'new' end,
         case when d.id is not null then 100 when m.id is not null then m.score when n.id is not null then n.score
              when length(s.dedup_hash) > 65 and substr(s.dedup_hash, 66) <> '1' then 50 else 0 end,
         case when d.id is not null then array['already imported: commit will skip it']
              when m.id is not null then m.reasons
              when n.id is not null then n.reasons
              when length(s.dedup_hash) > 65 and substr(s.dedup_hash, 66) <> '1'
                then array['identical to an earlier row of this file: both are kept']
              else array['not imported before'] end,
         coalesce(d.id, m.id, n.id), coalesce(d.tx_date, m.tx_date, n.tx_date), s.decision,
         mask_account(s.counterparty_account)
  from transactions_staging s left join dup d on d.row_no = s.row_no left join pm m on m.row_no = s.row_no
       left join near n on n.row_no = s.row_no
  where s.import_id = p_import and s.user_id = p_user and s.row_no between p_from_row and p_to_row
$$;

-- 0024's counts, the near matches from import_near_matches (every row replacing a pending row
-- is among them, so they are taken out of the possible duplicates).
create or replace function import_verdict_counts(p_user uuid, p_import uuid, p_near_days int)
returns table (total bigint, n_new bigint, n_duplicate bigint, n_possible bigint, n_replaces_pending bigint)
language sql stable
set enable_nestloop = off
set enable_mergejoin = off
set jit = off
as $$
  with dup as materialized (
    select * from import_committed_twins(p_user, p_import, 1, 2147483647)),
  near as materialized (
    select n.row_no, s.dedup_hash
    from import_near_matches(p_user, p_import, p_near_days, 1, 2147483647) n
    join transactions_staging s on s.import_id = p_import and s.user_id = p_user and s.row_no = n.row_no),
  pm as materialized (
    select m.row_no, s.dedup_hash
    from import_pending_matches(p_user, p_import, p_near_days, 1, 2147483647) m
    join transactions_staging s on s.import_id = p_import and s.user_id = p_user and s.row_no = m.row_no),
  judged as (
    select count(*) filter (where j.kind = 'dup') as n_dup, count(*) filter (where j.kind = 'near') as n_near,
           count(*) filter (where j.kind = 'pm') as n_pm,
           count(*) filter (where j.kind <> 'pm' and length(j.dedup_hash) > 65 and substr(j.dedup_hash, 66) <> '1')
             as repeated_taken
    from (select 'dup' as kind, dedup_hash from dup union all select 'near', dedup_hash from near
          union all select 'pm', dedup_hash from pm) j)
  select i.rows_total::bigint, i.rows_total - j.n_dup - j.n_near - (i.repeated_rows - j.repeated_taken), j.n_dup,
         j.n_near - j.n_pm + i.repeated_rows - j.repeated_taken, j.n_pm
  from imports i, judged j
  where i.id = p_import and i.user_id = p_user
$$;
