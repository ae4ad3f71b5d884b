-- 0024_pending_booked: a booked row of a statement replaces the pending row the bank API
-- synced for it (issue 15: "Pending→booked pairs are matched the same way").
--
-- A bank sync (modules/bank) writes pending transactions (transactions.pending); when the
-- statement of that account is uploaded later, its booked row has another date, another
-- text and no shared id, so without this it would stand next to the pending row: the money
-- twice.  import_pending_matches pairs each staged row with at most one committed pending
-- row of the user, and each pending row with at most one staged row, scored like the
-- possible duplicates of 0019:
--   same amount and currency                  40   (required)
--   booked the same day / 1 day / 2+ days
--   after the pending date (never before)     30 / 20 / 10   (at most p_days days)
--   same description, else same counterparty  20
--   same bank reference                       10
-- A pair scoring PENDING_MATCH_MIN (60) or more is a match: amount and date alone when
-- they are at most a day apart, else with the text.  Staged rows already in the ledger
-- (their dedup hash) are not matched.
-- import_row_verdicts gives a matched row the verdict 'replaces_pending' (its score, its
-- reasons, the pending row as match); import_verdict_counts counts them apart; commit-import
-- (modules/commit) turns each matched pending row into the booked row (replaced_id) instead
-- of inserting a second one, unless the user decided 'keep' (a row of its own) or 'skip'.

alter table transactions_staging add column replaced_id bigint null;

create function import_pending_matches(p_user uuid, p_import uuid, p_days int, p_from_row int, p_to_row int)
returns table (row_no int, id bigint, tx_date date, score int, reasons text[])
language sql stable
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
    select c.row_no, c.id, c.tx_date, c.days,
           40 + case c.days when 0 then 30 when 1 then 20 else 10 end
              + case when c.same_descr or c.same_cp then 20 else 0 end
              + case when c.same_ref then 10 else 0 end as score,
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

-- 0020's import_row_verdicts (with the masked counterparty account) and the pending matches.
create or replace function import_row_verdicts(p_user uuid, p_import uuid, p_near_days int, p_from_row int, p_to_row int)
returns table (row_no int, line int, tx_date date, description text, counterparty text, amount_minor bigint,
               currency char(3), category text, verdict text, score int, reasons text[], match_id bigint,
               match_date date, decision text, counterparty_account_masked text)
language sql stable
as $$
  with dup as materialized (
    select s.row_no, t.id, t.tx_date
    from transactions_staging s join transactions t on t.user_id = p_user and t.dedup_hash = s.dedup_hash
    where s.import_id = p_import and s.user_id = p_user and s.row_no between p_from_row and p_to_row),
  pm as materialized (
    select * from import_pending_matches(p_user, p_import, p_near_days, p_from_row, p_to_row)),
  cand as (
    select s.row_no, t.id, t.tx_date,
           abs(t.tx_date - s.tx_date) as days,
           lower(t.description) = lower(s.description) as same_descr,
           coalesce(s.counterparty, '') <> '' and lower(coalesce(t.counterparty, '')) = lower(s.counterparty) as same_cp,
           s.bank_id is not null and t.bank_id = s.bank_id as same_ref
    from transactions_staging s join transactions t
      on t.user_id = p_user and t.amount_minor = s.amount_minor and t.currency = s.currency
     and t.tx_date between s.tx_date - p_near_days and s.tx_date + p_near_days
     and t.dedup_hash <> s.dedup_hash
    where s.import_id = p_import and s.user_id = p_user and s.row_no between p_from_row and p_to_row
      and not exists (select 1 from dup where dup.row_no = s.row_no)
      and not exists (select 1 from pm where pm.row_no = s.row_no)),
  near as materialized (
    select distinct on (c.row_no) c.row_no, c.id, c.tx_date,
           40 + case c.days when 0 then 30 when 1 then 20 else 10 end
              + case when c.same_descr or c.same_cp then 20 else 0 end
              + case when c.same_ref then 10 else 0 end as score,
           array_remove(array['same amount and currency as the committed row of ' || c.tx_date,
                              case c.days when 0 then 'same day' when 1 then '1 day apart'
                                          else c.days || ' days apart' end,
                              case when c.same_descr then 'same description'
                                   when c.same_cp then 'same counterparty' end,
                              case when c.same_ref then 'same bank reference' end], null) as reasons
    from cand c
    order by c.row_no, 4 desc, c.days, c.id)
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

-- The counts, with the rows that replace a pending row apart: every one of them is among
-- the near matches 0019 counts (same amount and currency within the days), so they are
-- taken out of the possible duplicates; new is unchanged.
drop function import_verdict_counts(uuid, uuid, int);
create function import_verdict_counts(p_user uuid, p_import uuid, p_near_days int)
returns table (total bigint, n_new bigint, n_duplicate bigint, n_possible bigint, n_replaces_pending bigint)
language sql stable
as $$
  with dup as materialized (
    select s.row_no, s.dedup_hash
    from transactions_staging s join transactions t on t.user_id = p_user and t.dedup_hash = s.dedup_hash
    where s.import_id = p_import and s.user_id = p_user),
  near as materialized (
    select distinct on (s.row_no) s.row_no, s.dedup_hash
    from transactions_staging s join transactions t
      on t.user_id = p_user and t.amount_minor = s.amount_minor and t.currency = s.currency
     and t.tx_date between s.tx_date - p_near_days and s.tx_date + p_near_days and t.dedup_hash <> s.dedup_hash
    where s.import_id = p_import and s.user_id = p_user and not exists (select 1 from dup where dup.row_no = s.row_no)
    order by s.row_no),
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
