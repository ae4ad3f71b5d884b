-- 0019_import_verdicts: every staged row's verdict, scored (issue 15, "What a row carries").
--
-- import_row_verdicts(user, import, near_days) answers, for every row of an import still in
-- staging (its columns, then the verdict), what commit would do with it, set-wise (hash joins, not a query per row):
--   duplicate            its dedup hash is already committed: commit skips it (score 100)
--   possible_duplicate   a committed row of the same amount and currency within near_days
--                        days (another hash), scored like GnuCash's matcher, additively:
--                          same amount and currency          40
--                          same day / 1 day / 2+ days apart  30 / 20 / 10
--                          same description                  20  (case-insensitive)
--                          else the same counterparty        20
--                          the same bank reference           10
--                        the best-scoring committed row is the match; or identical to an
--                        earlier row of the same file (occurrence > 1 in the hash; score 50)
--   new                  neither (score 0)
-- with the reasons in words.  Read by modules/ingest (the counts in the ingest answer, the
-- preview's verdicts) and the import-preview responder (paged rows, filter by verdict).

create function import_row_verdicts(p_user uuid, p_import uuid, p_near_days int)
returns table (row_no int, line int, tx_date date, description text, counterparty text, amount_minor bigint,
               currency char(3), category text, verdict text, score int, reasons text[], match_id bigint,
               match_date date)
language sql stable
as $$
  with s as materialized (
    select s.row_no, s.line, s.tx_date, s.description, s.counterparty, s.amount_minor, s.currency, s.category,
           s.dedup_hash, s.bank_id, lower(s.description) as descr, lower(coalesce(s.counterparty, '')) as cp,
           coalesce(substring(s.dedup_hash from '-([0-9]+)$')::int, 0) as occurrence
    from transactions_staging s
    where s.import_id = p_import and s.user_id = p_user),
  dup as (
    select s.row_no, t.id, t.tx_date
    from s join transactions t on t.user_id = p_user and t.dedup_hash = s.dedup_hash),
  cand as (
    select s.row_no, t.id, t.tx_date,
           abs(t.tx_date - s.tx_date) as days,
           lower(t.description) = s.descr as same_descr,
           s.cp <> '' and lower(coalesce(t.counterparty, '')) = s.cp as same_cp,
           s.bank_id is not null and t.bank_id = s.bank_id as same_ref
    from s join transactions t
      on t.user_id = p_user and t.amount_minor = s.amount_minor and t.currency = s.currency
     and t.tx_date between s.tx_date - p_near_days and s.tx_date + p_near_days
     and t.dedup_hash <> s.dedup_hash
    where not exists (select 1 from dup where dup.row_no = s.row_no)),
  near as (
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
              when n.id is not null or s.occurrence > 1 then 'possible_duplicate'
              else 'new' end,
         case when d.id is not null then 100 when n.id is not null then n.score
              when s.occurrence > 1 then 50 else 0 end,
         case when d.id is not null then array['already imported: commit will skip it']
              when n.id is not null then n.reasons
              when s.occurrence > 1 then array['identical to an earlier row of this file: both are kept']
              else array['not imported before'] end,
         coalesce(d.id, n.id), coalesce(d.tx_date, n.tx_date)
  from s left join dup d on d.row_no = s.row_no left join near n on n.row_no = s.row_no
$$;
