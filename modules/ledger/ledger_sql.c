/* ledger_sql.c: builds the statement of a GET transactions page for one shape (the filters
 * present, ledger_sql.h).  The text opens with a comment naming the shape, so statements
 * differ in their first bytes (si_db finds a prepared one by comparing texts) and a
 * server log or pg_stat_statements names the shape.  No libpq or runtime here:
 * scripts/bench-read compiles this file alone to print every shape for its Node.js peer. */
#include "ledger_sql.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* A bounded text being written: a write past cap marks it failed. */
struct sql_text {
    char *out;
    size_t cap, len;
    bool failed;
};

static void put(struct sql_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct sql_text *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->out + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len)
        t->failed = true;
    else
        t->len += (size_t)n;
}

/* The filters of the shape (not the cursor), their parameters numbered from $3. */
static void put_filter(struct sql_text *t, unsigned shape)
{
    int p = 3;
    put(t, "t.user_id = $1::uuid");
    if (shape & LEDGER_SHAPE_DATES) {
        put(t, " AND t.tx_date >= $%d::date AND t.tx_date <= $%d::date", p, p + 1);
        p += 2;
    }
    if (shape & LEDGER_SHAPE_Q) {
        put(t, " AND (t.description ILIKE $%d::text OR t.counterparty ILIKE $%d::text)", p, p);
        p++;
    }
    if (shape & LEDGER_SHAPE_CATEGORY)
        put(t, " AND t.category = $%d::text", p++);
    if (shape & LEDGER_SHAPE_ACCOUNT) {
        /* as stored, or its masked form: "****" and the last 4 characters */
        put(t, " AND (t.account = $%d::text OR (left($%d::text, 4) = '****' AND length(t.account) > 4 "
               "AND right(t.account, 4) = substr($%d::text, 5)))", p, p, p);
        p++;
    }
    if (shape & LEDGER_SHAPE_IMPORT)
        put(t, " AND t.import_id = $%d::uuid", p++);
}

/* The totals of a category and/or a date range, no other filter: whole months from
 * ledger_month_totals (sql/0025), the partial months at the range's ends from the rows
 * (the category index, or the date index), so a half year reads some 6 rows and two
 * partial months instead of every transaction in it.  fs is the first whole month's
 * start, le the end (exclusive) of the last whole one; with no whole month between them
 * the two row ranges cover the range alone.  -infinity/infinity (a missing from or to)
 * stay infinite through this arithmetic. */
static void put_month_totals(struct sql_text *t, unsigned shape)
{
    bool dates = shape & LEDGER_SHAPE_DATES;
    int cat = dates ? 5 : 3;   /* the category's parameter */
    const char *fs = "(date_trunc('month', $3::date - 1) + interval '1 month')::date";
    const char *le = "date_trunc('month', $4::date + 1)::date";
    put(t, "(SELECT coalesce(json_agg(json_build_object('currency', c.currency, 'income_minor', c.inc, "
           "'expense_minor', c.exp, 'net_minor', c.inc - c.exp, 'count', c.n) ORDER BY c.currency), '[]')::text "
           "FROM (SELECT x.currency, sum(x.inc) AS inc, sum(x.exp) AS exp, sum(x.n) AS n FROM ("
           "SELECT m.currency, m.income_minor AS inc, m.expense_minor AS exp, m.tx_count AS n "
           "FROM ledger_month_totals m WHERE m.user_id = $1::uuid");
    if (shape & LEDGER_SHAPE_CATEGORY)
        put(t, " AND m.category = $%d::text", cat);
    if (dates)
        put(t, " AND m.month >= %s AND m.month < %s", fs, le);
    if (dates) {
        for (int end = 0; end < 2; end++) {
            put(t, " UNION ALL SELECT t.currency, greatest(t.amount_minor, 0), greatest(-t.amount_minor, 0), 1 "
                   "FROM transactions t WHERE t.user_id = $1::uuid");
            if (shape & LEDGER_SHAPE_CATEGORY)
                put(t, " AND t.category = $%d::text", cat);
            if (end == 0)
                put(t, " AND t.tx_date >= $3::date AND t.tx_date < least(%s, $4::date + 1)", fs);
            else
                put(t, " AND t.tx_date >= greatest(%s, %s) AND t.tx_date <= $4::date", le, fs);
        }
    }
    put(t, ") x GROUP BY x.currency HAVING sum(x.n) > 0) c)");
}

static int params_before_cursor(unsigned shape)
{
    return 2 + ((shape & LEDGER_SHAPE_DATES) ? 2 : 0) + ((shape & LEDGER_SHAPE_Q) ? 1 : 0) +
           ((shape & LEDGER_SHAPE_CATEGORY) ? 1 : 0) + ((shape & LEDGER_SHAPE_ACCOUNT) ? 1 : 0) +
           ((shape & LEDGER_SHAPE_IMPORT) ? 1 : 0);
}

int ledger_sql_page(unsigned shape, char *out, size_t cap, int *n_params)
{
    if (shape >= LEDGER_SHAPES || cap == 0)
        return -1;
    struct sql_text t = { .out = out, .cap = cap };
    int n = params_before_cursor(shape);
    out[0] = '\0';
    /* The page: limit + 1 rows of the keyset order (one more tells whether a next page
     * exists), numbered; the JSON of the first `limit`. */
    put(&t, "/* ledger page %u */ WITH page AS (SELECT t.tx_date, t.id, "
            "row_number() OVER (ORDER BY t.tx_date DESC, t.id DESC) AS n, " ROW_JSON " AS j "
            "FROM (SELECT * FROM transactions t WHERE ", shape);
    put_filter(&t, shape);
    if (shape & LEDGER_SHAPE_CURSOR) {
        put(&t, " AND (t.tx_date, t.id) < ($%d::date, $%d::bigint)", n + 1, n + 2);
        n += 2;
    }
    put(&t, " ORDER BY t.tx_date DESC, t.id DESC LIMIT $2::int + 1) t) "
            "SELECT coalesce(json_agg(j ORDER BY n) FILTER (WHERE n <= $2::int), '[]')::text, count(*), "
            "max(to_char(tx_date, 'YYYY-MM-DD') || ' ' || id) FILTER (WHERE n = $2::int), ");
    if (shape & LEDGER_SHAPE_CURSOR) {
        put(&t, "NULL");   /* the first page had the totals */
    } else if (shape == 0) {
        /* Without any filter: the whole ledger's, kept by triggers in ledger_totals
         * (sql/0017_ledger.sql), a row per currency instead of every transaction. */
        put(&t, "(SELECT coalesce(json_agg(json_build_object('currency', c.currency, 'income_minor', c.income_minor, "
                "'expense_minor', c.expense_minor, 'net_minor', c.income_minor - c.expense_minor, 'count', c.tx_count) "
                "ORDER BY c.currency), '[]')::text FROM ledger_totals c WHERE c.user_id = $1::uuid AND c.tx_count > 0)");
    } else if ((shape & ~(LEDGER_SHAPE_DATES | LEDGER_SHAPE_CATEGORY)) == 0) {
        put_month_totals(&t, shape);
    } else {
        put(&t, "(SELECT coalesce(json_agg(json_build_object('currency', c.currency, 'income_minor', c.inc, "
                "'expense_minor', c.exp, 'net_minor', c.inc - c.exp, 'count', c.n) ORDER BY c.currency), '[]')::text "
                "FROM (SELECT t.currency, coalesce(sum(t.amount_minor) FILTER (WHERE t.amount_minor > 0), 0) AS inc, "
                "coalesce(-sum(t.amount_minor) FILTER (WHERE t.amount_minor < 0), 0) AS exp, count(*) AS n "
                "FROM transactions t WHERE ");
        put_filter(&t, shape);
        put(&t, " GROUP BY t.currency) c)");
    }
    put(&t, " FROM page");
    if (t.failed)
        return -1;
    *n_params = n;
    return 0;
}
