-- 0016_bulk_speed: what issue 14's speed goal found (scripts/bench-bulk, 50,000 rows).
--
-- purchase_items loses its foreign key to purchases.  The key's check is a trigger per item:
-- 170 ms of the 0.6 s insert of a 50,000-row batch.  It guards nothing the writer does not
-- already guarantee: the only writer of both tables is bulk_insert (modules/bulk/bulk_sql.c),
-- one statement that inserts a batch's purchases and, chained to their RETURNING ids, their
-- items; nothing deletes or updates purchases.  The index purchase_items_purchase stays for
-- the readers (the mission consumer).
alter table purchase_items drop constraint purchase_items_purchase_id_fkey;

-- The publication carries only the two columns smartimport-cdc reads (id, merchant_id;
-- PostgreSQL 15 column lists): the walsender no longer turns every purchase's other columns
-- into text for a reader that skips them.
alter publication smartimport_purchases set table purchases (id, merchant_id);
