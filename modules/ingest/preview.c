/* preview.c: one page of an import's staged rows with their verdicts (see preview.h).
 * The counterparty's account arrives masked from import_row_verdicts (sql/0020's
 * mask_account): the raw account is never read here. */
#include "preview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The counts of the whole import, without reading every staged row (see sql/0019). */
static const char counts_sql[] =
    "SELECT total, n_new, n_duplicate, n_possible, n_replaces_pending FROM import_verdict_counts($1::uuid, $2::uuid, $3::int)";

/* The page: rows $4..$5 (a window the caller bounds when no verdict filters, so only those
 * rows are judged), those of verdict $6 (or any), at most $7 + 1, so the caller knows
 * whether a next page exists. */
static const char page_sql[] =
    "SELECT row_no, line, tx_date::text, description, counterparty, amount_minor, currency, category, verdict, "
    "  score, array_to_json(reasons)::text, match_id, match_date::text, decision, counterparty_account_masked "
    "FROM import_row_verdicts($1::uuid, $2::uuid, $3::int, $4::int, $5::int) "
    "WHERE ($6::text IS NULL OR verdict = $6) ORDER BY row_no LIMIT $7::int + 1";

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
    if (si_db_get_int64(res, r, 0, &row_no) != 0 || si_db_get_int(res, r, 1, &line) != 0 ||
        si_db_get_int64(res, r, 5, &amount) != 0 || si_db_get_int64(res, r, 9, &score) != 0)
        return NULL;
    json_t *reasons = json_loads(PQgetvalue(res, r, 10), 0, NULL);
    if (!json_is_array(reasons)) {
        json_decref(reasons);
        return NULL;
    }
    const char *reason = json_string_value(json_array_get(reasons, 0));
    json_t *match_json = json_null();
    if (!PQgetisnull(res, r, 11)) {
        if (si_db_get_int64(res, r, 11, &match) != 0) {
            json_decref(reasons);
            return NULL;
        }
        match_json = json_pack("{s:I, s:s}", "id", (json_int_t)match, "date", PQgetvalue(res, r, 12));
    }
    return json_pack("{s:I, s:i, s:s, s:s, s:s?, s:s?, s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:s?}",
        "row", (json_int_t)row_no, "line", line, "date", PQgetvalue(res, r, 2), "description", PQgetvalue(res, r, 3),
        "counterparty", si_db_get_text(res, r, 4), "counterpartyAccount", si_db_get_text(res, r, 14),
        "amountMinor", (json_int_t)amount, "currency", PQgetvalue(res, r, 6),
        "category", PQgetvalue(res, r, 7), "verdict", PQgetvalue(res, r, 8), "reason", reason ? reason : "",
        "score", (json_int_t)score, "reasons", reasons, "match", match_json, "decision", si_db_get_text(res, r, 13));
}

int preview_page(struct si_db *db, const char *user_id, const char *import_id, const char *verdict,
                 long long after, int limit, bool with_counts, struct preview_page *out, struct si_error *err)
{
    memset(out, 0, sizeof *out);
    char days[8], from_s[24], to_s[24], limit_s[12];
    snprintf(days, sizeof days, "%d", PREVIEW_NEAR_DAYS);
    snprintf(from_s, sizeof from_s, "%lld", after + 1);
    /* rows are numbered 1, 2, ... : without a filter the page is exactly the next limit + 1 */
    long long to = verdict == NULL ? after + limit + 1 : PREVIEW_ROW_MAX;
    snprintf(to_s, sizeof to_s, "%lld", to < PREVIEW_ROW_MAX ? to : PREVIEW_ROW_MAX);
    snprintf(limit_s, sizeof limit_s, "%d", limit);
    int rc = -1;
    PGresult *res = NULL;
    if (with_counts) {   /* the whole file's verdicts: most of a page's cost on a large import */
        const char *cp[] = { user_id, import_id, days };
        res = si_db_exec(db, counts_sql, 3, cp, err);
        if (res == NULL)
            return -1;
        long long c[5] = { 0 };
        for (int i = 0; i < 5; i++)
            if (PQntuples(res) != 1 || si_db_get_int64(res, 0, i, &c[i]) != 0) {
                si_db_bad_value(err, "import verdict counts");
                goto out;
            }
        PQclear(res);
        res = NULL;
        out->counts = json_pack("{s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)c[0], "new", (json_int_t)c[1],
                                "duplicate", (json_int_t)c[2], "possible_duplicate", (json_int_t)c[3],
                                "replaces_pending", (json_int_t)c[4]);
    }
    out->rows = json_array();
    const char *pp[] = { user_id, import_id, days, from_s, to_s, verdict, limit_s };
    res = si_db_exec(db, page_sql, 7, pp, err);
    if (res == NULL)
        goto out;
    if ((with_counts && out->counts == NULL) || out->rows == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    int n = PQntuples(res);
    for (int r = 0; r < n; r++) {
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
