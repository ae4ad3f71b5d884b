/* preview.c: duplicate verdicts for preview rows (see preview.h). */
#include "preview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char verdict_sql[] =
    "SELECT p.i::int, "
    "  EXISTS (SELECT 1 FROM transactions t WHERE t.user_id = $1 AND t.dedup_hash = p.h), "
    "  (SELECT t.tx_date::text FROM transactions t "
    "    WHERE t.user_id = $1 AND t.amount_minor = p.a AND t.currency = p.c "
    "      AND t.tx_date BETWEEN p.d - $6::int AND p.d + $6::int AND t.dedup_hash <> p.h "
    "    ORDER BY abs(t.tx_date - p.d) LIMIT 1) "
    "FROM unnest($2::text[], $3::bigint[], $4::text[], $5::date[]) WITH ORDINALITY AS p(h, a, c, d, i)";

/* Appends "x" to a PostgreSQL array literal being built in b. */
static int array_add(struct si_buf *b, const char *v)
{
    return si_buf_appends(b, b->len > 1 ? ",\"" : "\"") | si_buf_appends(b, v) | si_buf_appends(b, "\"");
}

int preview_verdicts(struct si_db *db, const char *user_id, const struct stage_preview_row *keys,
                     size_t n, json_t *preview, struct si_error *err)
{
    if (n == 0)
        return 0;
    struct si_buf h, a, c, d;
    si_buf_init(&h, 8192);
    si_buf_init(&a, 8192);
    si_buf_init(&c, 8192);
    si_buf_init(&d, 8192);
    int rc = si_buf_appends(&h, "{") | si_buf_appends(&a, "{") | si_buf_appends(&c, "{") | si_buf_appends(&d, "{");
    for (size_t i = 0; i < n; i++) {
        char amount[32];
        snprintf(amount, sizeof amount, "%lld", keys[i].amount_minor);
        rc |= array_add(&h, keys[i].hash) | array_add(&a, amount) | array_add(&c, keys[i].currency) |
              array_add(&d, keys[i].date);
    }
    rc |= si_buf_appends(&h, "}") | si_buf_appends(&a, "}") | si_buf_appends(&c, "}") | si_buf_appends(&d, "}");
    PGresult *res = NULL;
    if (rc != 0) {
        si_error_set(err, 500, "internal", "out of memory");
        rc = -1;
        goto out;
    }
    char days[8];
    snprintf(days, sizeof days, "%d", PREVIEW_NEAR_DAYS);
    const char *params[] = { user_id, h.data, a.data, c.data, d.data, days };
    res = si_db_exec(db, verdict_sql, 6, params, err);
    if (res == NULL) {
        rc = -1;
        goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        int ordinal = 0;   /* 1-based position in the preview */
        if (si_db_get_int(res, r, 0, &ordinal) != 0 || ordinal < 1)
            continue;
        size_t i = (size_t)ordinal - 1;
        json_t *row = json_array_get(preview, i);
        if (row == NULL || i >= n)
            continue;
        const char *verdict = "new", *reason = "not imported before";
        char why[128];
        if (PQgetvalue(res, r, 1)[0] == 't') {
            verdict = "duplicate";
            reason = "already imported: commit will skip it";
        } else if (!PQgetisnull(res, r, 2)) {
            verdict = "possible_duplicate";
            snprintf(why, sizeof why, "same amount already imported on %s with a different description",
                     PQgetvalue(res, r, 2));
            reason = why;
        } else if (keys[i].occurrence > 1) {
            verdict = "possible_duplicate";
            reason = "identical to an earlier row of this file: both are kept";
        }
        json_object_set_new(row, "verdict", json_string(verdict));
        json_object_set_new(row, "reason", json_string(reason));
    }
    rc = 0;
out:
    PQclear(res);
    si_buf_cleanup(&h);
    si_buf_cleanup(&a);
    si_buf_cleanup(&c);
    si_buf_cleanup(&d);
    return rc;
}

int preview_from_staging(struct si_db *db, const char *user_id, const char *import_id,
                         json_t **out_preview, struct si_error *err)
{
    *out_preview = NULL;
    const char *params[] = { import_id, user_id };
    PGresult *res = si_db_exec(db,
        "SELECT tx_date::text, description, amount_minor, currency, category, line, dedup_hash "
        "FROM transactions_staging WHERE import_id = $1 AND user_id = $2 ORDER BY row_no LIMIT 20",
        2, params, err);
    if (res == NULL)
        return -1;
    json_t *preview = json_array();
    struct stage_preview_row keys[STAGE_PREVIEW];
    int n = PQntuples(res);
    for (int r = 0; r < n && r < STAGE_PREVIEW; r++) {
        struct stage_preview_row *k = &keys[r];
        snprintf(k->hash, sizeof k->hash, "%s", PQgetvalue(res, r, 6));
        const char *dash = strchr(k->hash, '-');
        k->occurrence = dash ? (int)strtol(dash + 1, NULL, 10) : 0;
        snprintf(k->date, sizeof k->date, "%s", PQgetvalue(res, r, 0));
        int line = 0;
        if (si_db_get_int64(res, r, 2, &k->amount_minor) != 0 || si_db_get_int(res, r, 5, &line) != 0) {
            PQclear(res);
            json_decref(preview);
            return si_db_bad_value(err, "transactions_staging amount or line");
        }
        snprintf(k->currency, sizeof k->currency, "%s", PQgetvalue(res, r, 3));
        json_array_append_new(preview, json_pack("{s:s, s:s, s:I, s:s, s:s, s:i}",
            "date", k->date, "description", PQgetvalue(res, r, 1), "amountMinor", (json_int_t)k->amount_minor,
            "currency", k->currency, "category", PQgetvalue(res, r, 4), "line", line));
    }
    PQclear(res);
    if (preview_verdicts(db, user_id, keys, (size_t)(n < STAGE_PREVIEW ? n : STAGE_PREVIEW), preview, err) != 0) {
        json_decref(preview);
        return -1;
    }
    *out_preview = preview;
    return 0;
}
