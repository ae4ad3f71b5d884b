-- 0009_transaction_imports: the other imports that contain a committed transaction.
--
-- transactions.import_id names ONE import: the one that holds the row now (at
-- first the import that inserted it).  An overlapping statement committed later
-- contains some of the same rows and skips them as duplicates; with nothing
-- recording that, reverting the first import removed rows the later one still
-- contained (and the later file could not be uploaded again: same bytes, same
-- import).  commit-import now links each row it skipped as a duplicate to its
-- transaction here; revert-import drops its links and removes a row it holds
-- only when no other committed import contains it, otherwise hands the row over
-- (transactions.import_id := one of those imports, whose link then goes: the
-- holder needs none).  So the imports that contain a row are its holder plus its
-- links, and a fresh import with no duplicates writes no link at all (a link per
-- row doubled the time of a million-row commit).
--
-- No foreign keys, on purpose: a key on transaction_id would lock every linked
-- transaction row (FOR KEY SHARE) and each key adds a trigger per row to a
-- million-row commit.  The two functions that write this table keep it right,
-- under the per-user lock that orders commits against reverts
-- (modules/commit/import_lock.c): a link exists exactly for each (transaction,
-- committed or analyzed import that contains it but does not hold it).
--
-- Rows committed before this migration: only the import that holds each row is
-- known (the staged rows of the duplicates are gone), so nothing is backfilled.
create table transaction_imports (
  user_id         uuid not null,
  import_id       uuid not null,
  transaction_id  bigint not null,
  primary key (import_id, transaction_id)
);
-- revert-import looks up the other imports that contain a row.
create index transaction_imports_transaction_idx on transaction_imports (transaction_id);
