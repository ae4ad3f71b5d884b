/* si_import_decisions.c: a user's keep/skip decisions on an import's staged rows (see
 * si_import.h): read from the JSON a request carries, written to transactions_staging.decision,
 * which commit-import honours (a skipped row is not committed).  Shared by the import-preview
 * PATCH and commit-import's `decisions` field. */
#include "si_import.h"
#include "si_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends n to a PostgreSQL int[] literal being built ("{" first). */
static int literal_add(struct si_buf *b, long long n)
{
    char num[24];
    snprintf(num, sizeof num, "%s%lld", b->len > 1 ? "," : "", n);
    return si_buf_appends(b, num);
}

int si_import_apply_decisions(struct si_db *db, const char *import_id, const char *user_id, const json_t *decisions,
                              long long *out_applied, struct si_error *err)
{
    *out_applied = 0;
    if (decisions == NULL || json_is_null(decisions))
        return 0;
    size_t n = json_array_size(decisions);
    if (!json_is_array(decisions) || n > SI_IMPORT_DECISIONS_MAX)
        return si_error_set(err, 400, "bad_decisions", "decisions must be an array of at most %d {row, action}",
                            SI_IMPORT_DECISIONS_MAX);
    if (n == 0)
        return 0;
    struct si_buf keep, skip;
    si_buf_init(&keep, 256);
    si_buf_init(&skip, 256);
    int rc = -1, bad = si_buf_appends(&keep, "{") | si_buf_appends(&skip, "{");
    for (size_t i = 0; i < n && bad == 0; i++) {
        const json_t *d = json_array_get(decisions, i), *row = json_object_get(d, "row");
        const char *action = json_string_value(json_object_get(d, "action"));
        if (!json_is_integer(row) || json_integer_value(row) < 1 || json_integer_value(row) > 2147483647 ||
            action == NULL || (strcmp(action, "keep") != 0 && strcmp(action, "skip") != 0)) {
            si_error_set(err, 400, "bad_decisions", "decision %zu: row must be a row number and action keep or skip",
                         i + 1);
            goto out;
        }
        bad |= literal_add(strcmp(action, "skip") == 0 ? &skip : &keep, (long long)json_integer_value(row));
    }
    bad |= si_buf_appends(&keep, "}") | si_buf_appends(&skip, "}");
    if (bad != 0) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    /* A row named twice is refused rather than decided by its last mention. */
    const char *p[] = { import_id, user_id, keep.data, skip.data };
    PGresult *res = si_db_exec(db,
        "WITH d AS (SELECT r, 'keep' AS action FROM unnest($3::int[]) r UNION ALL "
        "           SELECT r, 'skip' FROM unnest($4::int[]) r), "
        "twice AS (SELECT r FROM d GROUP BY r HAVING count(*) > 1 LIMIT 1), "
        "u AS (UPDATE transactions_staging s SET decision = d.action FROM d "
        "      WHERE s.import_id = $1 AND s.user_id = $2 AND s.row_no = d.r "
        "        AND NOT EXISTS (SELECT 1 FROM twice) RETURNING 1) "
        "SELECT (SELECT r FROM twice), (SELECT count(*) FROM u), (SELECT count(*) FROM d)", 4, p, err);
    if (res == NULL)
        goto out;
    long long applied = 0, asked = 0;
    if (si_db_get_int64(res, 0, 1, &applied) != 0 || si_db_get_int64(res, 0, 2, &asked) != 0) {
        PQclear(res);
        si_db_bad_value(err, "the decisions applied");
        goto out;
    }
    if (!PQgetisnull(res, 0, 0)) {
        si_error_set(err, 400, "bad_decisions", "row %s has more than one decision", PQgetvalue(res, 0, 0));
        PQclear(res);
        goto out;
    }
    PQclear(res);
    if (applied != asked) {   /* the caller's transaction is rolled back by the 400 */
        si_error_set(err, 400, "bad_decisions", "%lld of the decided rows are not rows of this import",
                     asked - applied);
        goto out;
    }
    *out_applied = applied;
    rc = 0;
out:
    si_buf_cleanup(&keep);
    si_buf_cleanup(&skip);
    return rc;
}
