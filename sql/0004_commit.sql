-- 0004_commit: what commit-import and revert-import record on the import.
alter table imports
  add column committed_count integer,
  add column duplicate_count integer,
  add column committed_at    timestamptz,
  add column reverted_at     timestamptz;

-- revert-import removes exactly the rows an import added.
create index transactions_import_idx on transactions (import_id) where import_id is not null;
