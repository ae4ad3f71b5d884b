-- 0020_counterparty_account: the other party's IBAN or account number, through the whole
-- pipeline (issue 15, "What a row carries").
--
-- counterparty_account: as the file gives it (CSV Tegenrekening / Kontonummer/IBAN /
-- Counterparty account, CAMT CdtrAcct/DbtrAcct, MT940 ?31 and /IBAN/), spaces removed,
-- at most 64 characters (modules/ingest/stage.c drops a longer one); null when the file
-- names none.  Carried by the staging COPY and commit-import's insert.
--
-- It is shown masked everywhere it is shown: mask_account() is the one masking rule
-- ("****" and the last 4 characters; "****" alone for 4 characters or fewer; null stays
-- null).  The ledger's rows (modules/ledger/ledger_sql.h: account and
-- counterparty_account) and the import previews (import_row_verdicts below, read by
-- modules/ingest/preview.c) call it, so the raw account never leaves the database in
-- an answer.  A SQL function of one expression, immutable: the planner inlines it.
alter table transactions_staging add column counterparty_account text null;
alter table transactions add column counterparty_account text null
  check (length(counterparty_account) <= 64);

create function mask_account(p_account text) returns text
language sql immutable parallel safe
as $$
  select case when p_account is null then null
              when length(p_account) > 4 then '****' || right(p_account, 4)
              else '****' end
$$;

-- 0019's import_row_verdicts with one more column: the row's counterparty account,
-- masked.  (A function's result columns cannot change in place: dropped and made again,
-- inside this migration's transaction.)
drop function import_row_verdicts(uuid, uuid, int, int, int);

create function import_row_verdicts(p_user uuid, p_import uuid, p_near_days int, p_from_row int, p_to_row int)
returns table (row_no int, line int, tx_date date, description text, counterparty text, amount_minor bigint,
               currency char(3), category text, verdict text, score int, reasons text[], match_id bigint,
               match_date date, decision text, counterparty_account_masked text)
language sql stable
as $$
  with dup as materialized (
    select s.row_no, t.id, t.tx_date
    from transactions_staging s join transactions t on t.user_id = p_user and t.dedup_hash = s.dedup_hash
    where s.import_id = p_import and s.user_id = p_user and s.row_no between p_from_row and p_to_row),
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
      and not exists (select 1 from dup where dup.row_no = s.row_no)),
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
              when n.id is not null or length(s.dedup_hash) > 65 and substr(s.dedup_hash, 66) <> '1'
                then 'possible_duplicate'
              else 'new' end,
         case when d.id is not null then 100 when n.id is not null then n.score
              when length(s.dedup_hash) > 65 and substr(s.dedup_hash, 66) <> '1' then 50 else 0 end,
         case when d.id is not null then array['already imported: commit will skip it']
              when n.id is not null then n.reasons
              when length(s.dedup_hash) > 65 and substr(s.dedup_hash, 66) <> '1'
                then array['identical to an earlier row of this file: both are kept']
              else array['not imported before'] end,
         coalesce(d.id, n.id), coalesce(d.tx_date, n.tx_date), s.decision, mask_account(s.counterparty_account)
  from transactions_staging s left join dup d on d.row_no = s.row_no left join near n on n.row_no = s.row_no
  where s.import_id = p_import and s.user_id = p_user and s.row_no between p_from_row and p_to_row
$$;
