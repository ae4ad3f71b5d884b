/* bulk_stage.c: a purchase CSV -> COPY into bulk_import_staging, inside the caller's
 * transaction.  The file is read record by record (bulk_csv.c) and each row goes out as one
 * line of COPY's text format through a 64 KB buffer, so memory stays flat whatever the size
 * of the file; PostgreSQL gets typed values (UTC timestamps, minor units) and, per row, the
 * problems its cells had as JSON, for the set-wise checks of bulk_sql.c. */
#include "bulk.h"

#include <stdlib.h>
#include <string.h>

#define STAGE_FLUSH (64 * 1024)
#define STAGE_BUF_MAX (STAGE_FLUSH + 4 * BULK_MAX_RECORD + 8192)   /* one row's worst case over the flush mark */

struct out {
    char *p;
    size_t len, cap;
};

static int out_reserve(struct out *o, size_t n)
{
    if (o->len + n <= o->cap)
        return 0;
    size_t cap = o->cap ? o->cap : 2 * STAGE_FLUSH;
    while (cap < o->len + n)
        cap *= 2;
    if (cap > STAGE_BUF_MAX)
        return -1;
    char *p = realloc(o->p, cap);
    if (p == NULL)
        return -1;
    o->p = p;
    o->cap = cap;
    return 0;
}

/* Appends s as one COPY text field (backslash escapes), or \N for NULL; then sep. */
static int out_field(struct out *o, const char *s, char sep)
{
    if (s == NULL) {
        if (out_reserve(o, 3) != 0)
            return -1;
        memcpy(o->p + o->len, "\\N", 2);
        o->len += 2;
    } else {
        size_t n = strlen(s);
        if (out_reserve(o, 2 * n + 1) != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            char ch = s[i];
            if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') {
                o->p[o->len++] = '\\';
                ch = ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : '\\';
            }
            o->p[o->len++] = ch;
        }
        if (out_reserve(o, 1) != 0)
            return -1;
    }
    o->p[o->len++] = sep;
    return 0;
}

static int out_int(struct out *o, bool has, long long v, char sep)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", v);
    return out_field(o, has ? num : NULL, sep);
}

static int put_row(struct out *o, const char *batch_id, const char *merchant_id, const struct bulk_row *r)
{
    char ts[40];
    if (r->has_time)
        bulk_format_utc(r->purchased_us, ts, sizeof ts);
    char *problems = r->problems ? json_dumps(r->problems, JSON_COMPACT) : NULL;
    if (r->problems != NULL && problems == NULL)
        return -1;
    int rc = out_field(o, batch_id, '\t') || out_field(o, merchant_id, '\t') || out_int(o, true, r->line, '\t') ||
             out_field(o, r->txn, '\t') || out_field(o, r->customer, '\t') || out_field(o, r->has_time ? ts : NULL, '\t') ||
             out_field(o, r->currency, '\t') || out_field(o, r->sku, '\t') || out_int(o, r->has_qty, r->quantity, '\t') ||
             out_int(o, r->has_price, r->unit_price, '\t') || out_int(o, r->has_discount, r->discount, '\t') ||
             out_int(o, r->has_total, r->line_total, '\t') || out_field(o, r->store, '\t') ||
             out_field(o, r->note, '\t') || out_field(o, problems, '\n');
    free(problems);
    return rc ? -1 : 0;
}

int bulk_stage_file(struct si_db *db, FILE *f, const char *batch_id, const char *merchant_id,
                    const char *currency, const json_t *mapping, struct bulk_stage_result *res,
                    struct si_error *err)
{
    struct bulk_csv c;
    struct out o = { 0 };
    struct bulk_row row = { 0 };
    bool copying = false;
    int idx[BULK_COL_N], rc = -1;
    memset(res, 0, sizeof *res);
    bulk_csv_init(&c, f);
    int got = bulk_csv_next(&c, err);
    if (got < 0)
        goto out;
    if (got == 0) {
        si_error_set(err, 422, "empty_file", "the file is empty: send a CSV with a header and one row per item");
        goto out;
    }
    if (bulk_columns_map(&c, mapping, idx, &res->columns, err) != 0)
        goto out;
    int header_cells = c.ncells;
    if (si_db_copy_start(db, "COPY bulk_import_staging (batch_id, merchant_id, line, transaction_number, customer_id, "
                             "purchased_at, currency, sku_id, quantity, unit_price_minor, discount_minor, "
                             "line_total_minor, store, note, problems) FROM STDIN", 0, NULL, err) != 0)
        goto out;
    copying = true;
    while ((got = bulk_csv_next(&c, err)) == 1) {
        if (res->rows >= BULK_MAX_ROWS) {
            si_error_set(err, 413, "too_many_rows", "the file has more than %lld rows", BULK_MAX_ROWS);
            goto out;
        }
        if (bulk_row_read(&c, idx, header_cells, currency, &row) != 0 ||
            put_row(&o, batch_id, merchant_id, &row) != 0) {
            si_error_set(err, 500, "internal", "out of memory");
            goto out;
        }
        res->rows++;
        if (row.problems != NULL)
            res->rows_with_problems++;
        bulk_row_clear(&row);
        if (o.len >= STAGE_FLUSH) {
            if (si_db_copy_put(db, o.p, o.len, err) != 0)
                goto out;
            o.len = 0;
        }
    }
    if (got < 0)
        goto out;
    if (res->rows == 0) {
        si_error_set(err, 422, "no_rows", "the file has a header but no rows");
        goto out;
    }
    if (o.len > 0 && si_db_copy_put(db, o.p, o.len, err) != 0)
        goto out;
    long long copied = 0;
    copying = false;
    if (si_db_copy_end(db, &copied, err) != 0)
        goto out;
    if (copied != res->rows) {
        si_error_set(err, 500, "internal", "staging: %lld rows sent, %lld copied", res->rows, copied);
        goto out;
    }
    rc = 0;
out:
    if (copying)
        si_db_copy_abort(db, "the upload was refused");
    if (rc != 0) {
        json_decref(res->columns);
        res->columns = NULL;
    }
    bulk_row_clear(&row);
    bulk_csv_cleanup(&c);
    free(o.p);
    return rc;
}
