/* bulk_sql.c: the set-wise part of a bulk import, on the staged rows of one batch.
 *
 * bulk_validate is one statement: the problems the cells had when they were read (staged as
 * JSON), unknown customers and SKUs (anti-joins against the merchant's reference data),
 * transaction numbers the merchant already has, rows of one transaction that disagree with
 * its first row (customer, time, currency, store, note), and purchases whose total would
 * not fit in 64 bits; counted whole, the first BULK_MAX_ERRORS kept, by line then column.
 * bulk_insert is one INSERT ... SELECT of the purchases (in the order of their first line)
 * chained to the INSERT of their items, then the batch's completion and the staged rows'
 * removal, all in the caller's transaction: every row or none. */
#include "bulk.h"
#include "si_clock.h"

#include <stdlib.h>
#include <string.h>

void bulk_report_clear(struct bulk_report *r)
{
    json_decref(r->errors);
    memset(r, 0, sizeof *r);
}

static const char VALIDATE_SQL[] =
    "WITH s AS MATERIALIZED (SELECT * FROM bulk_import_staging WHERE batch_id = $1 AND merchant_id = $2), "
    "heads AS (SELECT DISTINCT ON (transaction_number) transaction_number, line, customer_id, purchased_at, currency, "
    "                 store, note "
    "          FROM s WHERE transaction_number IS NOT NULL ORDER BY transaction_number, line), "
    "p AS MATERIALIZED ( "
    "  SELECT s.line, e->>'column' AS col, e->>'reason' AS reason "
    "  FROM s CROSS JOIN LATERAL jsonb_array_elements(s.problems) e WHERE s.problems IS NOT NULL "
    "  UNION ALL "
    "  SELECT s.line, 'customer_id', 'is not a customer of this merchant' FROM s "
    "  WHERE s.customer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM merchant_customers c "
    "        WHERE c.merchant_id = $2 AND c.customer_id = s.customer_id) "
    "  UNION ALL "
    "  SELECT s.line, 'sku_id', 'is not a SKU of this merchant' FROM s "
    "  WHERE s.sku_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM merchant_skus k "
    "        WHERE k.merchant_id = $2 AND k.sku_id = s.sku_id) "
    "  UNION ALL "
    "  SELECT s.line, 'transaction_number', 'was already imported for this merchant' FROM s "
    "  WHERE s.transaction_number IS NOT NULL AND EXISTS (SELECT 1 FROM purchases q "
    "        WHERE q.merchant_id = $2 AND q.transaction_number = s.transaction_number) "
    "  UNION ALL "
    "  SELECT s.line, x.col, 'differs from line ' || f.line || ', the first row of transaction ' || "
    "         left(s.transaction_number, 100) "
    "  FROM s JOIN heads f ON f.transaction_number = s.transaction_number AND f.line <> s.line "
    "  CROSS JOIN LATERAL (VALUES "
    "    ('customer_id', s.customer_id <> f.customer_id), "
    "    ('purchased_at', s.purchased_at <> f.purchased_at), "
    "    ('currency', s.currency <> f.currency), "
    "    ('store', s.store IS DISTINCT FROM f.store), "
    "    ('note', s.note IS DISTINCT FROM f.note)) x(col, bad) "
    "  WHERE x.bad "
    "  UNION ALL "
    "  SELECT min(s.line), 'unit_price', 'the purchase''s total is beyond 64 bits of minor units' FROM s "
    "  WHERE s.transaction_number IS NOT NULL GROUP BY s.transaction_number "
    "  HAVING sum(s.line_total_minor) > 9223372036854775807 "
    ") "
    "SELECT (SELECT count(*) FROM s), (SELECT count(DISTINCT transaction_number) FROM s), (SELECT count(*) FROM p), "
    "  (SELECT coalesce(jsonb_agg(jsonb_build_object('line', line, 'column', col, 'reason', reason) "
    "                             ORDER BY line, ord), '[]')::text "
    "   FROM (SELECT line, col, reason, array_position(ARRAY['', 'transaction_number', 'customer_id', 'purchased_at', "
    "                'currency', 'sku_id', 'quantity', 'unit_price', 'discount', 'store', 'note'], col) AS ord "
    "         FROM p ORDER BY line, ord LIMIT 100) q)";

int bulk_validate(struct si_db *db, const char *batch_id, const char *merchant_id, struct bulk_report *out,
                  struct si_error *err)
{
    memset(out, 0, sizeof *out);
    const char *p[] = { batch_id, merchant_id };
    PGresult *res = si_db_exec_bulk(db, VALIDATE_SQL, 2, p, err);
    if (res == NULL)
        return -1;
    int rc = -1;
    if (PQntuples(res) != 1 || si_db_get_int64(res, 0, 0, &out->rows) != 0 ||
        si_db_get_int64(res, 0, 1, &out->purchases) != 0 || si_db_get_int64(res, 0, 2, &out->problems) != 0) {
        si_db_bad_value(err, "bulk validation counts");
        goto out;
    }
    out->errors = json_loads(PQgetvalue(res, 0, 3), 0, NULL);
    if (!json_is_array(out->errors)) {
        si_db_bad_value(err, "bulk validation errors");
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    if (rc != 0)
        bulk_report_clear(out);
    return rc;
}

void bulk_report_message(const struct bulk_report *r, char *out, size_t n)
{
    const json_t *e = json_array_get(r->errors, 0);
    const char *col = json_string_value(json_object_get(e, "column"));
    snprintf(out, n, "%lld problem%s in the file; the first: line %lld%s%s: %s", r->problems, r->problems == 1 ? "" : "s",
             (long long)json_integer_value(json_object_get(e, "line")), col && *col ? ", " : "", col ? col : "",
             e ? json_string_value(json_object_get(e, "reason")) : "?");
}

static const char INSERT_SQL[] =
    "WITH s AS MATERIALIZED (SELECT * FROM bulk_import_staging WHERE batch_id = $1 AND merchant_id = $2), "
    "head AS (SELECT DISTINCT ON (transaction_number) transaction_number, line, customer_id, purchased_at, currency, "
    "                store, note FROM s ORDER BY transaction_number, line), "
    "tot AS (SELECT transaction_number, sum(line_total_minor)::bigint AS total FROM s GROUP BY transaction_number), "
    "ins AS (INSERT INTO purchases (merchant_id, batch_id, transaction_number, customer_id, purchased_at, currency, "
    "                               total_minor, store, note) "
    "        SELECT $2, $1, h.transaction_number, h.customer_id, h.purchased_at, h.currency, t.total, h.store, h.note "
    "        FROM head h JOIN tot t USING (transaction_number) ORDER BY h.line "
    "        RETURNING id, transaction_number), "
    "items AS (INSERT INTO purchase_items (purchase_id, merchant_id, sku_id, quantity, unit_price_minor, "
    "                                      discount_minor, line_total_minor) "
    "          SELECT i.id, $2, s.sku_id, s.quantity, s.unit_price_minor, s.discount_minor, s.line_total_minor "
    "          FROM s JOIN ins i USING (transaction_number) ORDER BY i.id, s.line RETURNING 1) "
    "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM items)";

int bulk_insert(struct si_db *db, const char *batch_id, const char *merchant_id, const char *job_id,
                long long *out_purchases, long long *out_items, struct si_error *err)
{
    const char *p[] = { batch_id, merchant_id };
    PGresult *res = si_db_exec_bulk(db, INSERT_SQL, 2, p, err);
    if (res == NULL) {
        if (err->status == 409)   /* unique (merchant_id, transaction_number): imported meanwhile */
            si_error_set(err, 409, "already_imported", "a transaction number of the file was imported meanwhile");
        return -1;
    }
    int rc = -1;
    if (PQntuples(res) != 1 || si_db_get_int64(res, 0, 0, out_purchases) != 0 ||
        si_db_get_int64(res, 0, 1, out_items) != 0) {
        si_db_bad_value(err, "bulk insert counts");
        goto out;
    }
    PQclear(res);
    /* The merchant still exists, and a change or delete of it waits for this commit. */
    res = si_db_exec(db, "SELECT 1 FROM merchants WHERE id = $1 FOR SHARE", 1, &p[1], err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1) {
        si_error_set(err, 409, "merchant_gone", "the merchant was deleted during the import");
        goto out;
    }
    PQclear(res);
    char np[24], ni[24];
    snprintf(np, sizeof np, "%lld", *out_purchases);
    snprintf(ni, sizeof ni, "%lld", *out_items);
    const char *q[] = { batch_id, merchant_id, np, ni, job_id };   /* completed_at: the end, not the start of the transaction */
    res = si_db_exec(db, "UPDATE bulk_import_batches SET status = 'completed', imported_purchases = $3, "
                         "imported_items = $4, rows_inserted = $4, rows_validated = rows_total, completed_at = clock_timestamp(), "
                         "error_code = NULL, error_message = NULL, errors = NULL, problems_total = 0, updated_at = now() "
                         "WHERE id = $1 AND merchant_id = $2 AND job_id = $5::bigint AND status = 'processing'",
                     5, q, err);
    if (res == NULL)
        return -1;
    if (si_db_rows_affected(res) != 1) {   /* a newer job took the batch over: the caller rolls back */
        rc = 1;
        goto out;
    }
    if (si_db_command(db, "DELETE FROM bulk_import_staging WHERE batch_id = $1 AND merchant_id = $2", 2, p, err) != 0)
        goto out;
    rc = 0;
out:
    PQclear(res);
    return rc;
}

int bulk_batch_json(struct si_db *db, const char *batch_id, const char *user, json_t **out, struct si_error *err)
{
    const char *p[] = { batch_id, user };
    *out = NULL;
    PGresult *res = si_db_exec(db,
        "SELECT b.id, b.merchant_id, b.batch_name, b.status, b.imported_purchases, b.imported_items, "
        SI_SQL_UTC_MS("b.created_at") ", " SI_SQL_UTC_MS("b.started_at") ", " SI_SQL_UTC_MS("b.completed_at") ", "
        "b.rows_total, b.rows_validated, b.rows_inserted, b.purchases_total, b.problems_total, b.error_code, "
        "b.error_message, coalesce(b.errors, '[]'::jsonb)::text, b.retries, b.file_name, b.file_bytes, "
        "coalesce(b.columns, 'null'::jsonb)::text, bulk_cdc_status(b.id)::text, b.dry_run, "
        /* what the batch imported, per currency (only a completed batch has purchases) */
        "CASE WHEN b.status = 'completed' THEN (SELECT coalesce(jsonb_agg(jsonb_build_object('currency', t.currency, "
        "  'total_minor', t.total, 'purchases', t.n) ORDER BY t.currency), '[]') FROM (SELECT p.currency, "
        "  sum(p.total_minor) AS total, count(*) AS n FROM purchases p WHERE p.batch_id = b.id "
        "  AND p.merchant_id = b.merchant_id GROUP BY p.currency) t) ELSE '[]' END::text "
        "FROM bulk_import_batches b JOIN merchant_admins a ON a.merchant_id = b.merchant_id AND a.user_id = $2 "
        "WHERE b.id = $1", 2, p, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    long long v[8] = { 0 };
    static const int cols[] = { 4, 5, 9, 10, 11, 12, 13, 17 };
    for (int i = 0; i < 8; i++)
        if (si_db_get_int64(res, 0, cols[i], &v[i]) != 0) {
            PQclear(res);
            return si_db_bad_value(err, "bulk_import_batches counts");
        }
    long long bytes = 0;
    if (si_db_get_int64(res, 0, 19, &bytes) != 0) {
        PQclear(res);
        return si_db_bad_value(err, "bulk_import_batches.file_bytes");
    }
    const char *status = PQgetvalue(res, 0, 3);
    long long total = v[2], percent;
    if (strcmp(status, "completed") == 0)
        percent = 100;
    else if (total <= 0)
        percent = 0;
    else
        percent = (v[3] + v[4]) * 100 / (2 * total);   /* validation is the first half, the insert the second */
    json_t *errors = json_loads(PQgetvalue(res, 0, 16), 0, NULL);
    json_t *columns = json_loads(PQgetvalue(res, 0, 20), JSON_DECODE_ANY, NULL);
    json_t *cdc = PQgetisnull(res, 0, 21) ? json_null() : json_loads(PQgetvalue(res, 0, 21), JSON_DECODE_ANY, NULL);
    json_t *totals = json_loads(PQgetvalue(res, 0, 23), 0, NULL);
    *out = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s?, s:s?, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:I, "
                     "s:s?, s:s?, s:o, s:I, s:s, s:I, s:o, s:o, s:b, s:o}",
        "id", PQgetvalue(res, 0, 0), "merchant_id", PQgetvalue(res, 0, 1), "batch_name", PQgetvalue(res, 0, 2),
        "status", status, "imported_purchases", (json_int_t)v[0], "imported_items", (json_int_t)v[1],
        "created_at", PQgetvalue(res, 0, 6), "started_at", si_db_get_text(res, 0, 7),
        "completed_at", si_db_get_text(res, 0, 8),
        "progress", "percent", (json_int_t)percent, "rows_total", (json_int_t)total,
        "rows_validated", (json_int_t)v[3], "rows_inserted", (json_int_t)v[4], "purchases_total", (json_int_t)v[5],
        "rows_total", (json_int_t)total, "problems_total", (json_int_t)v[6],
        "error_code", si_db_get_text(res, 0, 14), "error_message", si_db_get_text(res, 0, 15),
        "errors", errors ? errors : json_array(), "retries", (json_int_t)v[7], "file_name", PQgetvalue(res, 0, 18),
        "file_bytes", (json_int_t)bytes, "columns", columns ? columns : json_null(), "cdc", cdc ? cdc : json_null(),
        "dry_run", strcmp(PQgetvalue(res, 0, 22), "t") == 0, "totals", totals ? totals : json_array());
    PQclear(res);
    if (*out == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    return 1;
}

/* 1 when user is an admin of merchant, 0 when not (or no such merchant), -1 with err. */
int bulk_is_admin(struct si_db *db, const char *merchant, const char *user, struct si_error *err)
{
    const char *p[] = { merchant, user };
    PGresult *res = si_db_exec(db, "SELECT 1 FROM merchant_admins WHERE merchant_id = $1 AND user_id = $2", 2, p, err);
    if (res == NULL)
        return -1;
    int n = PQntuples(res);
    PQclear(res);
    return n > 0 ? 1 : 0;
}
