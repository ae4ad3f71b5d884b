/* preview.c: one page of an import's staged rows with their verdicts (see preview.h). */
#include "preview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The counts come from every row; the page from the rows after $4 of verdict $5 (or any),
 * one more than asked so the caller knows whether a next page exists.  With no row on the
 * page the counts still come back, once, with NULL row columns. */
static const char page_sql[] =
    "WITH v AS MATERIALIZED (SELECT * FROM import_row_verdicts($1::uuid, $2::uuid, $3::int)), "
    "c AS (SELECT count(*) AS total, count(*) FILTER (WHERE verdict = 'new') AS n_new, "
    "        count(*) FILTER (WHERE verdict = 'duplicate') AS n_dup, "
    "        count(*) FILTER (WHERE verdict = 'possible_duplicate') AS n_possible FROM v), "
    "page AS (SELECT * FROM v WHERE row_no > $4::bigint AND ($5::text IS NULL OR verdict = $5) "
    "         ORDER BY row_no LIMIT $6::int + 1) "
    "SELECT c.total, c.n_new, c.n_dup, c.n_possible, p.row_no, p.line, p.tx_date::text, p.description, "
    "  p.counterparty, p.amount_minor, p.currency, p.category, p.verdict, p.score, "
    "  array_to_json(p.reasons)::text, p.match_id, p.match_date::text "
    "FROM c LEFT JOIN page p ON true ORDER BY p.row_no";

void preview_page_clear(struct preview_page *p)
{
    json_decref(p->rows);
    json_decref(p->counts);
    memset(p, 0, sizeof *p);
}

/* One page row as JSON, or NULL (out of memory or a bad value). */
static json_t *page_row(const PGresult *res, int r)
{
    long long row_no = 0, amount = 0, score = 0, match = 0;
    int line = 0;
    if (si_db_get_int64(res, r, 4, &row_no) != 0 || si_db_get_int(res, r, 5, &line) != 0 ||
        si_db_get_int64(res, r, 9, &amount) != 0 || si_db_get_int64(res, r, 13, &score) != 0)
        return NULL;
    json_t *reasons = json_loads(PQgetvalue(res, r, 14), 0, NULL);
    if (!json_is_array(reasons)) {
        json_decref(reasons);
        return NULL;
    }
    const char *reason = json_string_value(json_array_get(reasons, 0));
    json_t *match_json = json_null();
    if (!PQgetisnull(res, r, 15)) {
        if (si_db_get_int64(res, r, 15, &match) != 0) {
            json_decref(reasons);
            return NULL;
        }
        match_json = json_pack("{s:I, s:s}", "id", (json_int_t)match, "date", PQgetvalue(res, r, 16));
    }
    return json_pack("{s:I, s:i, s:s, s:s, s:s?, s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:o}",
        "row", (json_int_t)row_no, "line", line, "date", PQgetvalue(res, r, 6), "description", PQgetvalue(res, r, 7),
        "counterparty", si_db_get_text(res, r, 8), "amountMinor", (json_int_t)amount, "currency", PQgetvalue(res, r, 10),
        "category", PQgetvalue(res, r, 11), "verdict", PQgetvalue(res, r, 12), "reason", reason ? reason : "",
        "score", (json_int_t)score, "reasons", reasons, "match", match_json);
}

int preview_page(struct si_db *db, const char *user_id, const char *import_id, const char *verdict,
                 long long after, int limit, struct preview_page *out, struct si_error *err)
{
    memset(out, 0, sizeof *out);
    char days[8], after_s[24], limit_s[12];
    snprintf(days, sizeof days, "%d", PREVIEW_NEAR_DAYS);
    snprintf(after_s, sizeof after_s, "%lld", after);
    snprintf(limit_s, sizeof limit_s, "%d", limit);
    const char *params[] = { user_id, import_id, days, after_s, verdict, limit_s };
    PGresult *res = si_db_exec(db, page_sql, 6, params, err);
    if (res == NULL)
        return -1;
    long long c[4] = { 0 };
    int n = PQntuples(res), rc = -1;
    for (int i = 0; i < 4; i++)
        if (n < 1 || si_db_get_int64(res, 0, i, &c[i]) != 0) {
            si_db_bad_value(err, "import verdict counts");
            goto out;
        }
    out->counts = json_pack("{s:I, s:I, s:I, s:I}", "total", (json_int_t)c[0], "new", (json_int_t)c[1],
                            "duplicate", (json_int_t)c[2], "possible_duplicate", (json_int_t)c[3]);
    out->rows = json_array();
    if (out->counts == NULL || out->rows == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    for (int r = 0; r < n && !PQgetisnull(res, r, 4); r++) {
        if (r == limit) {   /* the extra row: a next page exists */
            json_t *last = json_array_get(out->rows, (size_t)limit - 1);
            out->next_after = (long long)json_integer_value(json_object_get(last, "row"));
            break;
        }
        json_t *row = page_row(res, r);
        if (row == NULL || json_array_append_new(out->rows, row) != 0) {
            si_db_bad_value(err, "an import's staged row");
            goto out;
        }
    }
    rc = 0;
out:
    PQclear(res);
    if (rc != 0)
        preview_page_clear(out);
    return rc;
}
