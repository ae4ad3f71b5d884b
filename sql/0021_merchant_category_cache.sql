-- 0021_merchant_category_cache: what the category model answered for a merchant, so that no
-- merchant is asked twice (modules/ingest/llm_categorize.c).
--
-- merchant is the normalised merchant of a counterparty as it was asked: merchant.c's name,
-- runs of 6+ digits masked but their last 4, lower case, at most 64 bytes.  The cache is per
-- user, not shared: a counterparty is often a private person (a transfer's payee), and a
-- merchant's name is written by whoever uploads the file, so a shared cache would let one
-- user's crafted file choose the categories of others.  Read before the model is asked;
-- written with the model's validated answers ('Other' included: asked and not known).
-- The user's own rules (category_rules) and the built-in knowledge still come first.
create table merchant_category_cache (
  user_id     uuid not null,
  merchant    text not null check (length(merchant) between 1 and 64),
  category    text not null check (length(category) between 1 and 64),
  source      text not null check (source in ('model')),
  model       text not null check (length(model) <= 128),
  created_at  timestamptz not null default now(),
  primary key (user_id, merchant)
);
