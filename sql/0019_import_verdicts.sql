-- 0019_import_verdicts: every staged row's verdict, scored (issue 15, "What a row carries").
--
-- import_row_verdicts(user, import, near_days, from_row, to_row) answers, for the rows from_row..
-- to_row of an import still in staging (their columns, then the verdict), what commit would do
-- with each, set-wise (hash joins, not a query per row):
--   duplicate            its dedup hash is already committed: commit skips it (score 100)
--   possible_duplicate   a committed row of the same amount and currency within near_days
--                        days (another hash), scored like GnuCash's matcher, additively:
--                          same amount and currency          40
--                          same day / 1 day / 2+ days apart  30 / 20 / 10
--                          same description                  20  (case-insensitive)
--                          else the same counterparty        20
--                          the same bank reference           10
--                        the best-scoring committed row is the match; or identical to an
--                        earlier row of the same file (the hash's occurrence > 1; score 50)
--   new                  neither (score 0)
-- with the reasons in words.
-- import_verdict_counts(user, import, near_days) counts the verdicts of the whole import without
-- reading every staged row: the duplicates and near matches are joins that stop early when
-- the user has nothing committed, and the rows identical to an earlier row of the file were
-- counted while staging (imports.repeated_rows).  Read by modules/ingest/preview.c: the
-- ingest answer and the import-preview responder.

-- Rows of the file identical to an earlier row of it (dedup occurrence > 1), counted by
-- modules/ingest/stage.c; 0 for imports staged before this migration.
alter table imports add column repeated_rows integer not null default 0 check (repeated_rows >= 0);

-- The user's decision on a staged row before commit (import-preview PATCH, or commit-import's
-- `decisions`): 'skip' keeps it out of the ledger, 'keep' (or none) lets commit insert it.
alter table transactions_staging add column decision text null check (decision in ('keep', 'skip'));

create function import_row_verdicts(p_user uuid, p_import uuid, p_near_days int, p_from_row int, p_to_row int)
returns table (row_no int, line int, tx_date date, description text, counterparty text, amount_minor bigint,
               currency char(3), category text, verdict text, score int, reasons text[], match_id bigint,
               match_date date, decision text)
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
         coalesce(d.id, n.id), coalesce(d.tx_date, n.tx_date), s.decision
  from transactions_staging s left join dup d on d.row_no = s.row_no left join near n on n.row_no = s.row_no
  where s.import_id = p_import and s.user_id = p_user and s.row_no between p_from_row and p_to_row
$$;

create function import_verdict_counts(p_user uuid, p_import uuid, p_near_days int)
returns table (total bigint, n_new bigint, n_duplicate bigint, n_possible bigint)
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
  judged as (
    select count(*) filter (where j.kind = 'dup') as n_dup, count(*) filter (where j.kind = 'near') as n_near,
           count(*) filter (where length(j.dedup_hash) > 65 and substr(j.dedup_hash, 66) <> '1') as repeated_taken
    from (select 'dup' as kind, dedup_hash from dup union all select 'near', dedup_hash from near) j)
  select i.rows_total::bigint, i.rows_total - j.n_dup - j.n_near - (i.repeated_rows - j.repeated_taken), j.n_dup,
         j.n_near + i.repeated_rows - j.repeated_taken
  from imports i, judged j
  where i.id = p_import and i.user_id = p_user
$$;
