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
-- ledger: without it a page of a rare one, and its totals, read every row of the user).
create index transactions_user_category_idx on transactions (user_id, category, tx_date desc, id desc);
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
