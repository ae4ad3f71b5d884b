-- 0030_commit_no_fk: the foreign key transactions.import_id -> imports(id) checked every
-- inserted row of a commit (one RI trigger and one imports_pkey probe per row, queued to the
-- end of the statement): 13% of a 200,000-row commit-import (scripts/bench-commit), to prove
-- what the code already guarantees.  It is replaced by the same guarantee at no cost per row:
--   * insert side: the one writer of import_id is commit-import (modules/commit), and it inserts
--     only the staged rows of the import whose row it holds locked FOR UPDATE in the same
--     transaction (import_lock.c): the import exists and cannot go away before COMMIT;
--   * delete side (what the key's "no action" also refused): an import that committed rows
--     still point at cannot be deleted, nor its id changed: the trigger below, which fires
--     per deleted import (nothing deletes imports today; retention marks them), not per
--     inserted transaction.
alter table transactions drop constraint transactions_import_id_fkey;

create function imports_keep_referenced() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' and new.id = old.id then
    return new;
  end if;
  if exists (select 1 from transactions t where t.import_id = old.id) then
    raise exception 'import % still has committed transactions', old.id
      using errcode = 'foreign_key_violation';
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end $$;

create trigger imports_keep_referenced before delete or update of id on imports
  for each row execute function imports_keep_referenced();
